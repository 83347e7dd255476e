#!/usr/bin/env bash
# Soak check of the release binary: many consecutive whole hunts (restore step included, where
# Swift 6.3.1's miscompiled build crashed) on generated histories, then the demo several times.
# Pass/fail, not a figure: every hunt must exit 0 and name the planted culprit, nothing may crash.
#
#   Benchmarks/soak.sh [--hunts N] [--demos N] [--seed S] [--only I]
#   BISECT_DEPLOY_BINARY=/path/to/bisect-deploy Benchmarks/soak.sh    # skip the build
#
# Histories: four 300-commit repositories from Fixtures/make-history.py (two linear, two with
# --merge-ratio 0.3), seeds derived from --seed. Hunt i (1-based; j = (i-1) mod 16) uses a
# linear repository when j mod 4 < 2 and a merge-heavy one otherwise, 1 environment when j is
# even and 3 (dev1,dev2,dev3) when odd, and --flaky when j is 0, 5, 10 or 15 (one hunt in
# four, every repository kind and environment count). The culprit is drawn (seeded) among
# `git rev-list ROOT..main`; the test answers the truth (bad iff the culprit is an
# ancestor-or-self of $BISECT_COMMIT). The named commit C must be bad with every parent good:
# with this test that is the culprit itself, which is checked too.
# Each demo run (`bisect-deploy demo`, about 20 s; the first also sets up the venv) must exit 0
# and print "The first bad commit is H" with H the fixture's culprit.
# Prints one line per failure with how to rerun it, then "soak: N passed, M failed"; exits 1
# when M > 0.
set -euo pipefail
cd "$(dirname "$0")/.."

hunts=200 demos=20 seed=1 only=
while [ $# -gt 0 ]; do
  case $1 in
    --hunts) hunts=$2; shift 2 ;;
    --demos) demos=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --only) only=$2; demos=0; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak.sh: unknown argument $1 (see --help)" >&2; exit 64 ;;
  esac
done
for n in "$hunts" "$demos" "$seed" ${only:+"$only"}; do
  case $n in ''|*[!0-9]*) echo "soak.sh: not a number: '$n'" >&2; exit 64 ;; esac
done

if [ -n "${BISECT_DEPLOY_BINARY:-}" ]; then
  bin=$BISECT_DEPLOY_BINARY
  case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
else
  swift build -c release --product bisect-deploy >&2
  bin=$PWD/.build/release/bisect-deploy
fi
[ -x "$bin" ] || { echo "soak.sh: no executable at $bin" >&2; exit 66; }
rerun="BISECT_DEPLOY_BINARY=$bin Benchmarks/soak.sh --seed $seed"

work=$(mktemp -d "${TMPDIR:-/tmp}/bisect-deploy-soak.XXXXXX")
trap 'rm -rf "$work"' EXIT
cat > "$work/envs.yml" <<'YAML'
environments:
  dev1: {variables: {NAMESPACE: ns-1}}
  dev2: {variables: {NAMESPACE: ns-2}}
  dev3: {variables: {NAMESPACE: ns-3}}
YAML

# name -> "merge ratio, history seed"
declare -A ratio=([linear-a]=0 [linear-b]=0 [merges-a]=0.3 [merges-b]=0.3)
declare -A hseed=([linear-a]=$((seed * 10 + 1)) [linear-b]=$((seed * 10 + 2)) \
                  [merges-a]=$((seed * 10 + 3)) [merges-b]=$((seed * 10 + 4)))
declare -A root
for name in linear-a linear-b merges-a merges-b; do
  python3 Fixtures/make-history.py "$work/$name" --commits 300 --merge-ratio "${ratio[$name]}" \
    --seed "${hseed[$name]}" >/dev/null
  root[$name]=$(git -C "$work/$name" rev-list --max-parents=0 main)
  git -C "$work/$name" rev-list "${root[$name]}..main" > "$work/$name.candidates"
done

# The named commit is the first bad commit: bad itself, every parent good.
first_bad() { # repo culprit named
  git -C "$1" merge-base --is-ancestor "$2" "$3" || return 1
  local parent
  for parent in $(git -C "$1" rev-parse "$3^@"); do
    ! git -C "$1" merge-base --is-ancestor "$2" "$parent" || return 1
  done
}

crash_pattern='Fatal error|Program crashed|Segmentation fault|Illegal instruction|Trace/breakpoint trap|core dumped'
h_right=0 h_wrong=0 h_crash=0 h_other=0 h_run=0
fail() { echo "$1"; }

start=$(date +%s)
for ((i = 1; i <= hunts; i++)); do
  [ -z "$only" ] || [ "$i" = "$only" ] || continue
  j=$(((i - 1) % 16))
  if [ $((j % 4)) -lt 2 ]; then kind=linear; else kind=merges; fi
  if [ $(((i - 1) / 16 % 2)) = 0 ]; then name=$kind-a; else name=$kind-b; fi
  repo=$work/$name
  args=(--repo "$repo" --good "${root[$name]}" --bad main --deploy true --state "$work/state-$i.sqlite" --quiet)
  desc="$name, 1 environment"
  if [ $((j % 2)) = 1 ]; then
    args+=(--config "$work/envs.yml" --env dev1,dev2,dev3); desc="$name, 3 environments"
  fi
  if [ $((j % 4)) = $((j / 4)) ]; then args+=(--flaky); desc="$desc, --flaky"; fi
  n=$(wc -l < "$work/$name.candidates")
  pick=$(python3 -c 'import random, sys; s, i, n = map(int, sys.argv[1:]); print(random.Random(s * 1000003 + i).randrange(n) + 1)' "$seed" "$i" "$n")
  culprit=$(sed -n "${pick}p" "$work/$name.candidates")
  test="git -C \"\$BISECT_REPO\" merge-base --is-ancestor $culprit \"\$BISECT_COMMIT\" && exit 1; exit 0"
  h_run=$((h_run + 1))
  rc=0
  timeout -k 10 120 "$bin" "${args[@]}" --test "$test" > "$work/hunt-$i.out" 2> "$work/hunt-$i.err" || rc=$?
  named=$(sed -n 's/^The first bad commit is \([0-9a-f]\{40\}\).*/\1/p' "$work/hunt-$i.out" | head -n 1)
  what="soak: hunt $i ($desc, culprit ${culprit:0:12})"
  how="rerun: $rerun --only $i"
  if [ "$rc" -gt 128 ] && [ "$rc" != 124 ] || grep -Eq "$crash_pattern" "$work/hunt-$i.err"; then
    h_crash=$((h_crash + 1))
    fail "$what CRASHED: exit $rc$( [ "$rc" -gt 128 ] && echo " (signal $((rc - 128)))"), stderr: $(tail -n 3 "$work/hunt-$i.err" | tr '\n' ' '); $how"
  elif [ "$rc" = 124 ]; then
    h_other=$((h_other + 1)); fail "$what timed out after 120 s; $how"
  elif [ "$rc" != 0 ]; then
    h_other=$((h_other + 1))
    fail "$what failed: exit $rc, $(tail -n 2 "$work/hunt-$i.err" "$work/hunt-$i.out" | grep -v '^==>' | tr '\n' ' '); $how"
  elif [ -z "$named" ]; then
    h_other=$((h_other + 1)); fail "$what: exit 0 but no 'The first bad commit is' line; $how"
  elif ! grep -q '^Restored ' "$work/hunt-$i.out"; then
    h_other=$((h_other + 1)); fail "$what: named a commit but printed no 'Restored' line; $how"
  elif ! first_bad "$repo" "$culprit" "$named" || [ "$named" != "$culprit" ]; then
    h_wrong=$((h_wrong + 1)); fail "$what WRONG: named $named; $how"
  else
    h_right=$((h_right + 1))
  fi
  if [ $((h_run % 25)) = 0 ]; then
    echo "soak: $h_run hunts in $(($(date +%s) - start)) s: $h_right right" >&2
  fi
done
if [ "$h_run" -gt 0 ]; then
  echo "hunts: $h_run run in $(($(date +%s) - start)) s: $h_right right, $h_wrong wrong, $h_crash crashed, $h_other other failures"
fi

# The demo. run-demo.sh pipes the hunt through tee, so its own exit status does not show a
# crash of the hunt; the final "The first bad commit is" line (printed after the restore) does.
d_right=0 d_wrong=0 d_crash=0 d_other=0
start=$(date +%s)
for ((d = 1; d <= demos; d++)); do
  out=$work/demo-$d.out err=$work/demo-$d.err
  t0=$(date +%s)
  rc=0
  (cd "$work" && TMPDIR=$work timeout -k 10 600 "$bin" demo) > "$out" 2> "$err" || rc=$?
  named=$(sed -n 's/^The first bad commit is \([0-9a-f]\{40\}\).*/\1/p' "$out" | head -n 1)
  expected=$(sed -n 's/^culprit: \([0-9a-f]\{7,\}\) .*/\1/p' "$out" | head -n 1)
  [ -n "$expected" ] || expected=$(sed -n 's/^expected culprit \([0-9a-f]\{7,\}\) .*/\1/p' "$out" | head -n 1)
  what="soak: demo $d"
  how="rerun: (cd /tmp && $bin demo)"
  if [ "$rc" -gt 128 ] && [ "$rc" != 124 ] || grep -Eq "$crash_pattern" "$err" "$out"; then
    d_crash=$((d_crash + 1))
    fail "$what CRASHED: exit $rc, $(grep -Eh "$crash_pattern" "$err" "$out" | head -n 2 | tr '\n' ' '); $how"
  elif [ "$rc" = 124 ]; then
    d_other=$((d_other + 1)); fail "$what timed out after 600 s; $how"
  elif [ -z "$named" ] && grep -q '^restoring to ' "$out"; then
    d_crash=$((d_crash + 1))
    fail "$what CRASHED: the hunt's output stops after '$(grep '^restoring to ' "$out" | tail -n 1)' (demo exit $rc); $how"
  elif [ "$rc" != 0 ] && [ "$rc" != 1 ]; then
    d_other=$((d_other + 1)); fail "$what failed: exit $rc, $(tail -n 3 "$err" | tr '\n' ' '); $how"
  elif [ -z "$named" ] || [ -z "$expected" ]; then
    d_other=$((d_other + 1))
    fail "$what: no culprit named (exit $rc), $(tail -n 3 "$out" "$err" | grep -v '^==>' | tr '\n' ' '); $how"
  elif [ "$rc" != 0 ] || [ "${named:0:${#expected}}" != "$expected" ]; then
    d_wrong=$((d_wrong + 1)); fail "$what WRONG: named $named, expected $expected (exit $rc); $how"
  else
    d_right=$((d_right + 1))
  fi
  echo "soak: demo $d: exit $rc in $(($(date +%s) - t0)) s, named ${named:0:12}" >&2
done
if [ "$demos" -gt 0 ]; then
  echo "demo: $demos run in $(($(date +%s) - start)) s: $d_right right, $d_wrong wrong, $d_crash crashed, $d_other other failures"
fi

passed=$((h_right + d_right))
failed=$((h_wrong + h_crash + h_other + d_wrong + d_crash + d_other))
echo "soak: $passed passed, $failed failed"
[ "$failed" = 0 ]
