#!/bin/sh
# Downloads pinned npm tarballs the tests read (never committed) into
# .cache/npm-pack/<name with @ and / as _>-<version>/package, verifying each sha256.
# Usage: scripts/fetch-fixtures.sh [NAME@VERSION SHA256]...   (no arguments: every pinned
# fixture). Idempotent, and safe to run from parallel tests: a package is unpacked in a
# private folder and moved into place in one rename.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache/npm-pack"
mkdir -p "$cache"

fetch() { # NAME@VERSION SHA256
    name=${1%@*}
    version=${1##*@}
    dir="$cache/$(printf '%s' "$name" | tr '@/' '__')-$version"
    [ -d "$dir/package" ] && return 0
    tmp=$(mktemp -d "$cache/.tmp.XXXXXX")
    (cd "$tmp" && npm pack --silent "$1" >/dev/null)
    tgz=$(ls "$tmp"/*.tgz)
    actual=$(sha256sum "$tgz" | cut -d' ' -f1)
    if [ "$actual" != "$2" ]; then
        rm -rf "$tmp"
        echo "fetch-fixtures: $1 has sha256 $actual, expected $2" >&2
        exit 1
    fi
    mkdir -p "$tmp/x" && tar -xzf "$tgz" -C "$tmp/x"
    # Another test may have won the race; its copy is just as good.
    mv -T "$tmp/x" "$dir" 2>/dev/null || true
    rm -rf "$tmp"
}

if [ $# -eq 0 ]; then
    set -- \
        @neondatabase/api-client@2.7.3 28368170b48c30a77b1413782f8dcfee02535f4088fdd084bb259bf994568558 \
        @octokit/webhooks-examples@7.6.1 89e6cb1c6345d32e3dd775617fa54effbdc26c859e514898d7728e95e9738280 \
        @neon/sdk@6.1.2 e80560aa9c09b280d5d6d92a58f720306f55791bcf687aeff2cb12c80d077f81
fi
while [ $# -ge 2 ]; do
    fetch "$1" "$2"
    shift 2
done
