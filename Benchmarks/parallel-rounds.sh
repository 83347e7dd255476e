#!/usr/bin/env bash
# Wall time of whole hunts with 1 and with 3 environments, on a 1,000-commit linear range,
# with a deploy and a test that each sleep half a second (a 1 s step). The culprit is planted
# at several depths; the endpoints are verified as usual. Prints one line per hunt and the
# mean ratio (the ideal is log 2 / log 4 = 0.5).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=${1:-/tmp/bench-linear1000}
[ -d "$repo" ] || python3 Fixtures/make-history.py "$repo" --commits 1000 --merge-ratio 0 --seed 3 >/dev/null
swift build -c release --product bisect-deploy >&2
tool=$PWD/.build/release/bisect-deploy
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/bisect-deploy.yml" <<'YAML'
deploy: sleep 0.5
environments:
  dev1: {variables: {NAMESPACE: ns-1}}
  dev2: {variables: {NAMESPACE: ns-2}}
  dev3: {variables: {NAMESPACE: ns-3}}
restore: none
YAML
root=$(git -C "$repo" rev-list --max-parents=0 main)
total1=0 total3=0
for depth in 37 250 500 777 990; do
  culprit=$(git -C "$repo" rev-list main | sed -n "${depth}p")
  test="sleep 0.5; git -C \"\$BISECT_REPO\" merge-base --is-ancestor $culprit \"\$BISECT_COMMIT\" && exit 1; exit 0"
  for envs in dev1 dev1,dev2,dev3; do
    state="$work/state-$depth-$envs.sqlite"
    start=$(date +%s.%N)
    line=$("$tool" --repo "$repo" --good "$root" --bad main --config "$work/bisect-deploy.yml" --env "$envs" \
      --test "$test" --state "$state" --quiet | grep -E '^(The first bad commit|Steps:)' | tr '\n' ' ')
    end=$(date +%s.%N)
    seconds=$(awk "BEGIN { print $end - $start }")
    case "$line" in *"$culprit"*) ok=right ;; *) ok=WRONG ;; esac
    printf 'culprit at depth %4d  environments %-14s %6.2f s  %s  (%s)\n' "$depth" "$envs" "$seconds" "$ok" \
      "$(echo "$line" | grep -o 'Steps: [0-9]*')"
    if [ "$envs" = dev1 ]; then total1=$(awk "BEGIN { print $total1 + $seconds }"); else total3=$(awk "BEGIN { print $total3 + $seconds }"); fi
  done
done
printf 'mean wall time: 1 environment %.2f s, 3 environments %.2f s, ratio %.3f (ideal 0.5)\n' \
  "$(awk "BEGIN { print $total1 / 5 }")" "$(awk "BEGIN { print $total3 / 5 }")" "$(awk "BEGIN { print $total3 / $total1 }")"
