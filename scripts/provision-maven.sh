#!/usr/bin/env bash
# Resolve the Java servers that the conformance kit runs natively (Apache Kafka, Apache
# Cassandra) from Maven Central into a local cache; the jars are never committed.
#
#   bash scripts/provision-maven.sh                 # every server
#   bash scripts/provision-maven.sh kafka           # only some
#
# Each server's runtime classpath lands in ${BLOCKYARD_MAVEN_DIR:-~/.cache/blockyard/maven}/NAME/libs,
# described by conformance/src/blockyard_conformance/backends/maven/NAME/pom.xml. A stamp
# (libs/.complete, holding the pom's sha256) makes a second run a no-op; editing the pom (say,
# a version bump) resolves again. The copy is built beside libs/ and moved into place, so an
# interrupted run never leaves a half-filled libs/. Needs java (17+) and mvn on PATH.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
poms="$here/conformance/src/blockyard_conformance/backends/maven"
cache="${BLOCKYARD_MAVEN_DIR:-$HOME/.cache/blockyard/maven}"

if [ "$#" -gt 0 ]; then names=("$@"); else names=(kafka cassandra); fi

for tool in java mvn; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "provision-maven: $tool not found (apt-get install -y openjdk-17-jre-headless maven)" >&2
        exit 1
    fi
done

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

total_start="$(now)"
for name in "${names[@]}"; do
    pom="$poms/$name/pom.xml"
    if [ ! -f "$pom" ]; then
        echo "provision-maven: no pom for '$name' ($pom)" >&2
        exit 2
    fi
    want="$(sha256sum "$pom" | cut -d' ' -f1)"
    dest="$cache/$name/libs"
    if [ -f "$dest/.complete" ] && [ "$(cat "$dest/.complete")" = "$want" ]; then
        echo "provision-maven: $name up to date ($(find "$dest" -name '*.jar' | wc -l) jars in $dest)"
        continue
    fi
    start="$(now)"
    tmp="$cache/$name/libs.partial.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    # Maven may not write inside the source tree: its build dir goes under the cache too.
    # (sed strips the colour resets that some Maven builds print even in batch mode.)
    if ! mvn -B -q -Dstyle.color=never -f "$pom" \
            -Dproject.build.directory="$cache/$name/target" \
            dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
            2>&1 | sed 's/\x1b\[[0-9;]*m//g'; then
        rm -rf "$tmp"
        echo "provision-maven: resolving $name failed (see the Maven output above)" >&2
        exit 1
    fi
    echo "$want" > "$tmp/.complete"
    rm -rf "$dest"
    mv "$tmp" "$dest"
    echo "provision-maven: $name resolved in $(since "$start") s ($(find "$dest" -name '*.jar' | wc -l) jars, $(du -sh "$dest" | cut -f1)) -> $dest"
done
echo "provision-maven: done in $(since "$total_start") s"
