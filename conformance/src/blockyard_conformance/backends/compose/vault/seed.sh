#!/bin/sh
# Seeds the conformance secrets into Vault's KV v2 mount `secret/` (idempotent), then
# stays up so `docker compose up --wait` can see it healthy.
set -eu
put_once() {
    path=$1; shift
    if vault kv get -mount=secret "$path" >/dev/null 2>&1; then
        echo "seed: $path exists"
    else
        vault kv put -mount=secret "$path" "$@" >/dev/null
        echo "seed: wrote $path"
    fi
}
put_once dapr/conftestsecret conftestsecret=abcd
put_once dapr/secondsecret secondsecret=efgh
put_once dapr/multiplekeyvaluessecret first=1 second=2 third=3
if ! vault kv get -mount=secret dapr/versioned >/dev/null 2>&1; then
    vault kv put -mount=secret dapr/versioned versioned=v1 >/dev/null
    vault kv put -mount=secret dapr/versioned versioned=v2 >/dev/null
    echo "seed: wrote dapr/versioned (2 versions)"
fi
touch /tmp/seeded
exec sleep 2147483647
