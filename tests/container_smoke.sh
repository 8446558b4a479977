#!/usr/bin/env bash
# Container smoke test: builds the static binary and the `scratch` image, then runs the image
# with podman exactly as GitHub's runner runs a container action — the workspace, workflow,
# file-command, home and runner-temp folders mounted, every input as INPUT_*, the GITHUB_*
# variables, a real webhook payload from @octokit/webhooks-examples — against the emulator on
# loopback, through a whole lifecycle: setup, preview opened, synchronize, closed, the promotion
# on the push to main, and a rollback. It asserts on the GITHUB_OUTPUT file of every run and
# prints the binary size, the image size and the peak memory of a run.
#
# Usage: bash tests/container_smoke.sh      (root; needs podman, buildah, runc, python3, npm)
# Env:   IMAGE (default neon-promote:dev), KEEP=1 keeps the work folder for inspection.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

IMAGE=${IMAGE:-neon-promote:dev}
TARGET=x86_64-unknown-linux-gnu
BIN=target/$TARGET/release/neon-promote
EMULATOR=target/debug/neon-emulator
EXAMPLES_VERSION=7.6.1
EXAMPLES_SHA256=89e6cb1c6345d32e3dd775617fa54effbdc26c859e514898d7728e95e9738280
# The API key the emulator accepts; it must never appear in a log line but `::add-mask::`.
API_KEY=napi_smoke_secret_4f1c9a2b7d
GITHUB_TOKEN=ghs_smoke_token_8e7d6c5b4a
RUNTIME_TOKEN=actions_runtime_token_never_printed_0c1d
REPO=Codertocat/Hello-World
PR=2
HEAD_SHA=ec26c3e57ca3a959ca5aad62de7213c562f8c821
MERGE_SHA=5b1c3e0a9d8f7e6d5c4b3a29180f7e6d5c4b3a21

PASSED=0
section() { printf '\n==== container smoke: %s ====\n' "$*"; }
passed() { PASSED=$((PASSED + 1)); }
fail() {
    printf 'container smoke FAILED: %s\n' "$*" >&2
    exit 1
}

# Podman and buildah share one storage; vfs works everywhere (no overlay in nested containers).
# They run as root, as the runner's docker does (sudo on a GitHub runner, where we are not).
STORAGE=(--storage-driver vfs)
AS_ROOT=()
if ((EUID != 0)); then AS_ROOT=(sudo); fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/neon-promote-smoke.XXXXXX")
EMU_PID=
cleanup() {
    if [[ -n $EMU_PID ]]; then kill "$EMU_PID" 2>/dev/null || true; fi
    if [[ ${KEEP:-} == 1 ]]; then echo "work folder kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
section "static binary ($TARGET, crt-static)"
RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked --target "$TARGET" -p neon-promote --bin neon-promote
if readelf -lW "$BIN" | grep -q 'Requesting program interpreter'; then
    fail "$BIN asks for a dynamic loader: not a static binary"
fi
ldd_says=$(ldd "$BIN" 2>&1 || true)
echo "ldd: $ldd_says"
grep -Eq 'statically linked|not a dynamic executable' <<<"$ldd_says" ||
    fail "ldd does not call $BIN static"
"$BIN" --help >/dev/null || fail "$BIN --help failed"
BIN_BYTES=$(stat -c %s "$BIN")
GZ_BYTES=$(gzip -9c "$BIN" | wc -c)

# ---------------------------------------------------------------------------------------------
section "image ($IMAGE) with buildah"
# A build context of exactly what the Dockerfile copies (the repo's target/ is gigabytes).
mkdir -p "$WORK/context/dist"
cp Dockerfile .dockerignore "$WORK/context/"
cp "$BIN" "$WORK/context/dist/neon-promote-amd64"
"${AS_ROOT[@]}" buildah "${STORAGE[@]}" bud --isolation chroot --platform linux/amd64 \
    --build-arg VERSION="$(git describe --tags --always 2>/dev/null || echo dev)" \
    --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
    -t "$IMAGE" "$WORK/context"
IMAGE_BYTES=$("${AS_ROOT[@]}" podman "${STORAGE[@]}" image inspect --format '{{.Size}}' "$IMAGE")
IMAGE_USER=$("${AS_ROOT[@]}" podman "${STORAGE[@]}" image inspect --format '{{.Config.User}}' "$IMAGE")
[[ -z $IMAGE_USER ]] || fail "the image sets USER $IMAGE_USER; GitHub needs root"
((IMAGE_BYTES < 15000000)) || fail "image is $IMAGE_BYTES bytes (limit 15 MB)"

# The runner's `docker run`, as podman on these machines (NOTES.md): no default ulimits, runc,
# cgroupfs, the host network so the container reaches the emulator on 127.0.0.1.
printf '[containers]\ndefault_ulimits = []\n' >"$WORK/containers.conf"
podman_run() {
    "${AS_ROOT[@]}" env CONTAINERS_CONF="$WORK/containers.conf" podman "${STORAGE[@]}" --runtime runc \
        --cgroup-manager cgroupfs run --rm --network host "$@"
}

section "neon-promote --help inside the image"
podman_run "$IMAGE" --help >"$WORK/help.txt" || fail "--help in the container failed"
head -n 5 "$WORK/help.txt"
passed

# ---------------------------------------------------------------------------------------------
section "fixtures: @octokit/webhooks-examples@$EXAMPLES_VERSION (sha256-checked)"
# The same cache folder and marker as tests/support/npm.rs, so a test run and this share it.
EXAMPLES_DIR=.cache/npm-pack/_octokit_webhooks-examples-$EXAMPLES_VERSION
if [[ ! -f $EXAMPLES_DIR/.verified ]]; then
    mkdir -p .cache/npm-pack
    pack=$(mktemp -d .cache/npm-pack/smoke.XXXXXX)
    tarball=$(cd "$pack" && npm pack --silent "@octokit/webhooks-examples@$EXAMPLES_VERSION" | tail -n 1)
    echo "$EXAMPLES_SHA256  $pack/$tarball" | sha256sum -c --quiet - ||
        fail "@octokit/webhooks-examples tarball does not match the pinned sha256"
    tar xzf "$pack/$tarball" -C "$pack"
    rm "$pack/$tarball"
    echo "$EXAMPLES_SHA256" >"$pack/.verified"
    mv -T "$pack" "$EXAMPLES_DIR" 2>/dev/null || rm -rf "$pack"
fi
INDEX=$EXAMPLES_DIR/package/api.github.com/index.json
[[ -f $INDEX ]] || fail "$INDEX missing"

# payload EVENT ACTION OUT JSON-PATCH: the first real example of EVENT (with ACTION), with
# the keys of the patch (dotted paths) replaced.
payload() {
    python3 - "$INDEX" "$1" "$2" "$3" "$4" <<'PY'
import json, sys
index, event, action, out, patch = sys.argv[1:]
examples = [x for e in json.load(open(index)) if e["name"] == event for x in e["examples"]]
p = next(x for x in examples if not action or x.get("action") == action)
for path, value in json.loads(patch).items():
    *parents, last = path.split(".")
    node = p
    for key in parents:
        node = node[key]
    node[last] = value
json.dump(p, open(out, "w"))
PY
}

# ---------------------------------------------------------------------------------------------
section "emulator"
cargo build --locked -p neon-emulator --bin neon-emulator
"$EMULATOR" serve --port 0 --seed empty --op-ms 200 --api-key "$API_KEY" >"$WORK/emulator.log" 2>&1 &
EMU_PID=$!
URL=
for _ in $(seq 1 100); do
    URL=$(sed -n 's/^listening on \(http[^ ]*\).*/\1/p' "$WORK/emulator.log")
    [[ -n $URL ]] && break
    kill -0 "$EMU_PID" 2>/dev/null || fail "the emulator exited: $(cat "$WORK/emulator.log")"
    sleep 0.1
done
[[ -n $URL ]] || fail "the emulator did not start: $(cat "$WORK/emulator.log")"
PROJECT=$(sed -n 's/.*project: \([^ ]*\).*/\1/p' "$WORK/emulator.log")
echo "emulator at $URL (project ${PROJECT:=proj-emulated})"
control() { # METHOD PATH [JSON]
    curl -fsS -X "$1" -H 'content-type: application/json' ${3:+--data "$3"} "$URL/_emulator$2"
}
# The pull request exists on GitHub when its event fires.
control POST /github/pulls "{\"repo\":\"$REPO\",\"number\":$PR,\"head_ref\":\"changes\",\"head_sha\":\"$HEAD_SHA\",\"title\":\"Update the README with new information.\"}"

# ---------------------------------------------------------------------------------------------
# run_action NAME EVENT PAYLOAD [INPUT=value…]: one step of a job, as the runner runs it.
# Every input of action.yml is passed (its default when not given, as the runner does);
# leaves $WORK/NAME/{outputs.json,log,summary.md} and returns the container's exit status.
INPUTS_WITH_DEFAULTS=$(python3 - <<'PY'
import yaml
for name, spec in yaml.safe_load(open("action.yml"))["inputs"].items():
    print(f"{name}\t{spec.get('default', '')}")
PY
)
run_action() {
    local name=$1 event=$2 payload_file=$3
    shift 3
    local job=$WORK/$name id
    id=$(cat /proc/sys/kernel/random/uuid)
    mkdir -p "$job"/{workspace,workflow,file_commands,home,runner_temp}
    cp "$payload_file" "$job/workflow/event.json"
    : >"$job/file_commands/set_output_$id"
    : >"$job/file_commands/step_summary_$id"
    declare -A given=([api_key]=$API_KEY [project_id]=$PROJECT [api_host]=$URL/api/v2
        [github_token]=$GITHUB_TOKEN)
    local kv
    for kv in "$@"; do given[${kv%%=*}]=${kv#*=}; done
    local env=() input default value
    while IFS=$'\t' read -r input default; do
        value=${given[$input]-$default}
        # shellcheck disable=SC2016 # the literal default of action.yml, not an expansion
        [[ $value == '${{ github.token }}' ]] && value=$GITHUB_TOKEN
        env+=(-e "INPUT_${input^^}=$value")
    done <<<"$INPUTS_WITH_DEFAULTS"
    local repo
    repo=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["repository"]["full_name"])' "$payload_file")
    local status=0
    podman_run \
        --workdir /github/workspace \
        -v "$job/workspace:/github/workspace" \
        -v "$job/workflow:/github/workflow" \
        -v "$job/file_commands:/github/file_commands" \
        -v "$job/home:/github/home" \
        -v "$job/runner_temp:/github/runner_temp" \
        -e HOME=/github/home -e CI=true -e GITHUB_ACTIONS=true \
        -e GITHUB_EVENT_NAME="$event" -e GITHUB_EVENT_PATH=/github/workflow/event.json \
        -e GITHUB_OUTPUT="/github/file_commands/set_output_$id" \
        -e GITHUB_STEP_SUMMARY="/github/file_commands/step_summary_$id" \
        -e GITHUB_ENV="/github/file_commands/set_env_$id" \
        -e GITHUB_PATH="/github/file_commands/add_path_$id" \
        -e GITHUB_STATE="/github/file_commands/save_state_$id" \
        -e GITHUB_WORKSPACE=/github/workspace -e RUNNER_TEMP=/github/runner_temp \
        -e GITHUB_REPOSITORY="$repo" -e GITHUB_REPOSITORY_OWNER="${repo%%/*}" \
        -e GITHUB_API_URL="$URL/github" -e GITHUB_SERVER_URL=https://github.com \
        -e GITHUB_GRAPHQL_URL="$URL/github/graphql" \
        -e GITHUB_WORKFLOW=Neon -e GITHUB_JOB=neon -e GITHUB_RUN_ID=1 -e GITHUB_RUN_ATTEMPT=1 \
        -e GITHUB_ACTOR=octocat -e GITHUB_ACTION=neon-promote \
        -e GITHUB_SHA=0000000000000000000000000000000000000000 -e GITHUB_REF=refs/pull/0/merge \
        -e RUNNER_OS=Linux -e RUNNER_ARCH=X64 -e RUNNER_NAME=smoke -e RUNNER_ENVIRONMENT=github-hosted \
        -e ACTIONS_RUNTIME_URL=http://127.0.0.1:9/ -e ACTIONS_RUNTIME_TOKEN="$RUNTIME_TOKEN" \
        "${env[@]}" \
        "$IMAGE" >"$job/log" 2>&1 || status=$?
    cp "$job/file_commands/step_summary_$id" "$job/summary.md"
    # Parse GITHUB_OUTPUT as the runner does: name=value lines and name<<DELIM heredocs.
    python3 - "$job/file_commands/set_output_$id" "$job/outputs.json" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().split("\n")
out, i = {}, 0
while i < len(lines):
    line = lines[i]; i += 1
    if not line:
        continue
    h, e = line.find("<<"), line.find("=")
    if h >= 0 and (e < 0 or h < e):
        name, delim, value = line[:h], line[h + 2:], []
        while True:
            if i >= len(lines):
                sys.exit(f"heredoc for {name} never closed by {delim}: the runner fails the step")
            l = lines[i]; i += 1
            if l == delim:
                break
            value.append(l)
        out[name] = "\n".join(value)
    elif e >= 0:
        out[line[:e]] = line[e + 1:]
    else:
        sys.exit(f"invalid GITHUB_OUTPUT line: {line!r}")
json.dump(out, open(sys.argv[2], "w"), indent=1)
PY
    printf -- '--- %s: exit %s; outputs:\n' "$name" "$status"
    python3 -c '
import json, sys
hidden = {"db_url", "db_url_pooled", "password"}
for k, v in json.load(open(sys.argv[1])).items():
    print("    %s = %s" % (k, "***" if k in hidden else v))
' "$job/outputs.json"
    return "$status"
}

# expect NAME name=value | name~regex | !name … : assertions on a run's outputs.
expect() {
    local name=$1
    shift
    python3 - "$WORK/$name/outputs.json" "$WORK/$name/log" "$@" <<'PY' || fail "$name: unexpected outputs (log above)"
import json, re, sys
outputs, log = json.load(open(sys.argv[1])), open(sys.argv[2]).read()
bad = []
for rule in sys.argv[3:]:
    if rule.startswith("!"):
        if rule[1:] in outputs:
            bad.append(f"{rule[1:]} should not be set")
    elif "~" in rule:
        k, rx = rule.split("~", 1)
        if not re.search(rx, outputs.get(k, "")):
            bad.append(f"{k} = {outputs.get(k)!r} does not match /{rx}/")
    else:
        k, v = rule.split("=", 1)
        if outputs.get(k) != v:
            bad.append(f"{k} = {outputs.get(k)!r}, expected {v!r}")
if bad:
    print(log)
    print("\n".join("  - " + b for b in bad))
    sys.exit(1)
PY
}

# A secret may appear in a log only on an ::add-mask:: line, and never in the summary.
assert_hidden() { # NAME SECRET…
    local name=$1 secret
    shift
    for secret in "$@"; do
        [[ -n $secret ]] || continue
        if grep -F -- "$secret" "$WORK/$name/log" | grep -v '^::add-mask::' | grep -q .; then
            fail "$name: a secret was printed"
        fi
        if grep -qF -- "$secret" "$WORK/$name/summary.md"; then fail "$name: a secret in the summary"; fi
    done
}
output() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$WORK/$1/outputs.json" "$2"; }

# ---------------------------------------------------------------------------------------------
section "setup (workflow_dispatch, command: setup)"
payload workflow_dispatch "" "$WORK/dispatch.json" "{\"repository.full_name\":\"$REPO\",\"repository.default_branch\":\"main\"}"
run_action setup workflow_dispatch "$WORK/dispatch.json" command=setup || fail "setup failed: $(cat "$WORK/setup/log")"
expect setup command=setup 'dev_branch_id~^br-' 'prod_branch_id~^br-'
assert_hidden setup "$API_KEY" "$GITHUB_TOKEN" "$RUNTIME_TOKEN"

passed

section "preview (pull_request opened, real payload)"
pr_patch="{\"pull_request.base.ref\":\"main\",\"repository.default_branch\":\"main\"}"
payload pull_request opened "$WORK/opened.json" "$pr_patch"
run_action preview pull_request "$WORK/opened.json" || fail "preview failed: $(cat "$WORK/preview/log")"
expect preview command=preview created=true 'branch_id~^br-' 'branch_name~pr-2' \
    'db_url~^postgres(ql)?://' 'db_url_pooled~^postgres(ql)?://' 'db_host~.' 'db_host_pooled~-pooler' \
    'password~.' 'expires_at~^20[0-9]{2}-' 'comment_url~.'
PASSWORD=$(output preview password)
assert_hidden preview "$API_KEY" "$GITHUB_TOKEN" "$RUNTIME_TOKEN" "$PASSWORD" "$(output preview db_url)"
grep -q "^::add-mask::" "$WORK/preview/log" || fail "preview: no ::add-mask:: line"
PREVIEW_ID=$(output preview branch_id)

passed

section "preview again (pull_request synchronize: reused)"
payload pull_request synchronize "$WORK/synchronize.json" "$pr_patch"
run_action synchronize pull_request "$WORK/synchronize.json" || fail "synchronize failed: $(cat "$WORK/synchronize/log")"
expect synchronize command=preview created=false "branch_id=$PREVIEW_ID" 'db_url~^postgres(ql)?://'
assert_hidden synchronize "$API_KEY" "$PASSWORD"

passed

section "cleanup (pull_request closed)"
payload pull_request closed "$WORK/closed.json" "$pr_patch"
run_action cleanup pull_request "$WORK/closed.json" || fail "cleanup failed: $(cat "$WORK/cleanup/log")"
expect cleanup command=cleanup "branch_id=$PREVIEW_ID"
control GET /state | grep -q "\"$PREVIEW_ID\"" && fail "cleanup: the preview branch $PREVIEW_ID still exists"

passed

section "promotion (push to the default branch, real payload)"
# The PR was merged by MERGE_SHA: GitHub's commits/{sha}/pulls now names it.
control POST /github/pulls "{\"repo\":\"$REPO\",\"number\":$PR,\"head_ref\":\"changes\",\"head_sha\":\"$HEAD_SHA\",\"merge_sha\":\"$MERGE_SHA\"}"
payload push "" "$WORK/push.json" "{\"ref\":\"refs/heads/main\",\"after\":\"$MERGE_SHA\",\"deleted\":false,\"repository.default_branch\":\"main\",\"repository.full_name\":\"$REPO\"}"
PROD_BEFORE=$(output setup prod_branch_id)
run_action promote push "$WORK/push.json" || fail "promotion failed: $(cat "$WORK/promote/log")"
expect promote command=promote 'rollback_snapshot_id~.' 'candidate_snapshot_id~.' 'prod_branch_id~^br-' '!db_url'
[[ $(output promote prod_branch_id) != "$PROD_BEFORE" ]] || fail "promote: prod's branch id did not change"
assert_hidden promote "$API_KEY" "$GITHUB_TOKEN"
ROLLBACK_TO=$(output promote rollback_snapshot_id)

passed

section "promotion re-run (same push: recognised, not promoted twice)"
run_action promote-again push "$WORK/push.json" || fail "promotion re-run failed: $(cat "$WORK/promote-again/log")"
grep -q '::notice' "$WORK/promote-again/log" || fail "promote re-run: no notice"
expect promote-again "prod_branch_id=$(output promote prod_branch_id)" "rollback_snapshot_id=$ROLLBACK_TO"

passed

section "rollback (workflow_dispatch with inputs.snapshot_id)"
payload workflow_dispatch "" "$WORK/rollback.json" "{\"repository.full_name\":\"$REPO\",\"repository.default_branch\":\"main\",\"inputs\":{\"snapshot_id\":\"$ROLLBACK_TO\"}}"
run_action rollback workflow_dispatch "$WORK/rollback.json" "snapshot_id=$ROLLBACK_TO" || fail "rollback failed: $(cat "$WORK/rollback/log")"
expect rollback command=rollback "restored_snapshot_id=$ROLLBACK_TO" 'rollback_snapshot_id~.' 'prod_branch_id~^br-'
[[ $(output rollback prod_branch_id) != "$(output promote prod_branch_id)" ]] || fail "rollback: prod's branch id did not change"

passed

section "invalid input (exit 2, one ::error:: naming the input)"
status=0
run_action invalid pull_request "$WORK/opened.json" preview_ttl=90d || status=$?
[[ $status == 2 ]] || fail "invalid preview_ttl: exit $status, expected 2: $(cat "$WORK/invalid/log")"
[[ $(grep -c '^::error' "$WORK/invalid/log") == 1 ]] || fail "invalid preview_ttl: not exactly one ::error:: line"
grep '^::error' "$WORK/invalid/log" | grep -q preview_ttl || fail "the ::error:: line does not name preview_ttl"

passed

# ---------------------------------------------------------------------------------------------
section "peak memory (the same binary, outside the container, preview reopened)"
PEAK_KB=unmeasured
if [[ -x /usr/bin/time ]]; then
    payload pull_request reopened "$WORK/reopened.json" "$pr_patch"
    mem=$WORK/memory
    mkdir -p "$mem"
    : >"$mem/output"
    env -i PATH=/usr/bin:/bin HOME="$mem" CI=true GITHUB_ACTIONS=true \
        GITHUB_EVENT_NAME=pull_request GITHUB_EVENT_PATH="$WORK/reopened.json" \
        GITHUB_OUTPUT="$mem/output" GITHUB_REPOSITORY="$REPO" GITHUB_API_URL="$URL/github" \
        GITHUB_SERVER_URL=https://github.com INPUT_API_KEY="$API_KEY" INPUT_PROJECT_ID="$PROJECT" \
        INPUT_API_HOST="$URL/api/v2" INPUT_GITHUB_TOKEN="$GITHUB_TOKEN" \
        /usr/bin/time -f 'peak_rss_kb=%M' -o "$mem/time" "$BIN" >"$mem/log" 2>&1 ||
        fail "native preview failed: $(cat "$mem/log")"
    grep -q '^created=true' "$mem/output" || fail "native preview: created is not true"
    PEAK_KB=$(sed -n 's/^peak_rss_kb=//p' "$mem/time")
    passed
fi

# ---------------------------------------------------------------------------------------------
section "sizes"
mb() { awk -v b="$1" 'BEGIN { printf "%.2f MB", b / 1000000 }'; }
printf '%-44s %10s bytes (%s)\n' "static binary ($TARGET)" "$BIN_BYTES" "$(mb "$BIN_BYTES")"
printf '%-44s %10s bytes (%s)\n' "binary, gzip -9 (about the pulled layer)" "$GZ_BYTES" "$(mb "$GZ_BYTES")"
printf '%-44s %10s bytes (%s)\n' "image $IMAGE (uncompressed)" "$IMAGE_BYTES" "$(mb "$IMAGE_BYTES")"
printf '%-44s %10s kB\n' "peak RSS of a preview run (native)" "$PEAK_KB"
((IMAGE_BYTES <= 10000000)) || echo "::warning::image is over the 10 MB target of SPEC §5"
echo
echo "container_smoke: $PASSED passed, 0 failed"
