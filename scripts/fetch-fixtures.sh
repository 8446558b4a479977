#!/bin/sh
# Downloads the pinned npm tarballs the tests read (Neon's OpenAPI spec, GitHub's webhook
# examples) into .cache/npm-pack/<scope>_<name>-<version>/package, verifying each sha256.
# Idempotent: a package already extracted is left alone. Usage: scripts/fetch-fixtures.sh
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache/npm-pack"
mkdir -p "$cache"

fetch() { # spec sha256 dir
    dir="$cache/$3"
    [ -d "$dir/package" ] && return 0
    tmp=$(mktemp -d "$cache/.tmp.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent "$1" >/dev/null)
    tgz=$(ls "$tmp"/*.tgz)
    actual=$(sha256sum "$tgz" | cut -d' ' -f1)
    if [ "$actual" != "$2" ]; then
        echo "fetch-fixtures: $1 has sha256 $actual, expected $2" >&2
        exit 1
    fi
    mkdir -p "$tmp/x" && tar -xzf "$tgz" -C "$tmp/x"
    rm -rf "$dir" && mv "$tmp/x" "$dir"
    rm -rf "$tmp"
    trap - EXIT
}

fetch @neondatabase/api-client@2.7.3 \
    28368170b48c30a77b1413782f8dcfee02535f4088fdd084bb259bf994568558 \
    _neondatabase_api-client-2.7.3
fetch @octokit/webhooks-examples@7.6.1 \
    89e6cb1c6345d32e3dd775617fa54effbdc26c859e514898d7728e95e9738280 \
    _octokit_webhooks-examples-7.6.1
