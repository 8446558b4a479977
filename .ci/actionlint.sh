#!/usr/bin/env bash
# actionlint over this repository's workflows and the example workflows users copy. The examples
# are then linted a second time as if they used this checkout's action (`uses: ./`): that makes
# actionlint load action.yml, check its metadata, and check that every example passes only
# inputs it declares (and every required one) and reads only outputs it declares.
# When shellcheck is installed, actionlint runs it on every `run:` block too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

files=(.github/workflows/*.yml examples/*.yml)
actionlint -color=false "${files[@]}"

local_copy=$(mktemp -d)
trap 'rm -rf "$local_copy"' EXIT
git init -q "$local_copy" # actionlint finds a project (and `./`) by its git root
mkdir -p "$local_copy/.github/workflows"
cp action.yml "$local_copy/"
for f in examples/*.yml; do
    grep -q 'uses: neon-promote/neon-promote@' "$f" || {
        echo "$f does not use neon-promote/neon-promote@…" >&2
        exit 1
    }
    sed -E 's#uses: neon-promote/neon-promote@[^ ]+#uses: ./#' "$f" >"$local_copy/.github/workflows/${f##*/}"
done
(cd "$local_copy" && actionlint -color=false)
echo "actionlint: ${#files[@]} workflow files and action.yml are clean"
