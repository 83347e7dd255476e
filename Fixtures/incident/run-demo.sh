#!/bin/sh
# The built-in demo of the 2017-03-23 kernel-death incident, end to end:
#   1. make the incident repo (deterministic) in a temporary folder
#   2. prepare the pinned Python environment (cached: fast after the first time)
#   3. hunt with the kernel smoke test from known-good to main, on dev
#   4. show that the 2017 check (/api/status) passes on the culprit, in prod, as on March 22,
#      while the kernel smoke test fails
#   5. restore prod to the known-good commit (the postmortem's 09:41 step), stop every pod
#
#   run-demo.sh BISECT_DEPLOY_BINARY [WORK_DIR]
#
# WORK_DIR (default: a new temporary folder) is removed at the end unless KEEP_DEMO=1.
# Env: BISECT_DEMO_VENV (default ~/.cache/bisect-deploy/demo-venv), BISECT_DEMO_PIDNS.
# Exit: 0 when the hunt named the fixture's culprit, 1 otherwise.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:?usage: run-demo.sh BISECT_DEPLOY_BINARY [WORK_DIR]}
case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac
work=${2:-$(mktemp -d "${TMPDIR:-/tmp}/bisect-deploy-demo.XXXXXX")}
mkdir -p "$work"
work=$(cd "$work" && pwd)

export BISECT_DEMO_STATE="$work/state"
export BISECT_DEMO_CLUSTER="$here/cluster.py"
cleanup() {
  python3 "$here/cluster.py" stop-all >/dev/null 2>&1 || true
  [ "${KEEP_DEMO:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now() { python3 -c 'import time; print(time.monotonic())'; }
since() { python3 -c "import sys, time; print('%.1f' % (time.monotonic() - float(sys.argv[1])))" "$1"; }
field() { python3 -c "import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$work/repo.json" "$1"; }

echo "== Python environment"
BISECT_DEMO_VENV=$("$here/setup-venv.sh" ${BISECT_DEMO_VENV:+"$BISECT_DEMO_VENV"} | tail -n 1)
export BISECT_DEMO_VENV
echo "venv: $BISECT_DEMO_VENV"

echo "== The infrastructure repo, March 2017"
repo="$work/jupyterhub-k8s"
python3 "$here/make-incident-repo.py" "$repo" > "$work/repo.json"
culprit=$(field culprit)
known_good=$(field known_good)
echo "$repo: $(field commits) commits, known-good $(git -C "$repo" rev-parse --short "$known_good"), main $(git -C "$repo" rev-parse --short main)"

# Kept outside the repo: the history is from 2017, the smoke test is written on the day.
cat > "$work/bisect-deploy.yml" <<EOF
deploy: python3 deploy.py "\$BISECT_ENVIRONMENT" data8 "\$BISECT_COMMIT"
test: sh "\$BISECT_DEMO_FIXTURE/smoke-kernel.sh"
restore: known-good
environment: dev
environments:
  dev:
    variables:
      BISECT_DEMO_FIXTURE: "$here"
  prod:
    protected: true
    variables:
      BISECT_DEMO_FIXTURE: "$here"
timeouts:
  deploy: 2m
  test: 30s
EOF

echo "== Hunt on dev with the kernel smoke test: known-good..main"
start=$(now)
set +e
# The hunt's own exit status, not tee's: /bin/sh has no pipefail, and a binary that crashed
# after naming the culprit in a step line must fail the demo.
{
  "$bin" --repo "$repo" --config "$work/bisect-deploy.yml" --good known-good --bad main
  echo $? > "$work/hunt.rc"
} | tee "$work/hunt.out"
hunt=$(cat "$work/hunt.rc" 2>/dev/null || echo 1)
set -e
echo "hunt: exit $hunt in $(since "$start") s wall time"
found=1
grep -q "^The first bad commit is $(git -C "$repo" rev-parse "$culprit")" "$work/hunt.out" && [ "$hunt" = 0 ] && found=0
if [ "$found" = 0 ]; then
  echo "culprit: $(git -C "$repo" log -1 --format='%h %s (%an, %ad)' --date=format:'%b %d %H:%M' "$culprit")"
else
  echo "expected culprit $(git -C "$repo" rev-parse --short "$culprit") was not named"
fi

# deploy.py runs in a clean checkout, as bisect-deploy runs it.
deploy_prod() {
  rm -rf "$work/prod-checkout" && mkdir -p "$work/prod-checkout"
  git -C "$repo" archive "$1" | tar -x -C "$work/prod-checkout"
  (cd "$work/prod-checkout" && BISECT_REPO="$repo" python3 deploy.py prod data8 "$1") >"$work/prod-deploy.log" 2>&1 \
    || { cat "$work/prod-deploy.log"; return 1; }
  grep -E "runs in|PID +1|pod spec" "$work/prod-deploy.log" | sed 's/^cluster: */  /'
}

echo "== March 22, 19:30 again: the culprit on prod, checked the 2017 way"
deploy_prod "$culprit"
set +e
BISECT_ENVIRONMENT=prod sh "$here/check-status.sh"; status=$?
BISECT_ENVIRONMENT=prod sh "$here/smoke-kernel.sh"; kernel=$?
set -e
echo "2017 check (status): exit $status$([ $status = 0 ] && echo ', passes: it could not have caught this'); kernel smoke test: exit $kernel"

echo "== 09:41: ./deploy.py prod data8 <known-good>"
deploy_prod "$known_good"
BISECT_ENVIRONMENT=prod sh "$here/smoke-kernel.sh" || true
python3 "$here/cluster.py" stop-all
exit $found
