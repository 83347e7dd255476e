#!/usr/bin/env bash
# The tool's own time per hunt step (everything but the deploy and test commands) on a
# 10,000-commit range, with `true` as deploy and test. The summary line prints the figure.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=${1:-/tmp/bench10k}
[ -d "$repo" ] || python3 Fixtures/make-history.py "$repo" --commits 10000 --merge-ratio 0.19 --seed 2 >/dev/null
swift build -c release --product bisect-deploy >&2
root=$(git -C "$repo" rev-list --max-parents=0 main)
for run in 1 2 3; do
  .build/release/bisect-deploy --repo "$repo" --good "$root" --bad main \
    --deploy true --test true --no-verify --restore none --quiet | grep '^Steps:'
done
