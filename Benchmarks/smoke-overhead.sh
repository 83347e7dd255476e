#!/usr/bin/env bash
# The kernel smoke test's own time against a real JupyterHub on 127.0.0.1 (Fixtures/jupyterhub):
# what `bisect-deploy smoke kernel` adds beyond the hub's spawn and the kernel's start.
#
#   Benchmarks/smoke-overhead.sh [RUNS]      default 5; builds the release binary first
#
# Each run is timed from outside (wall clock, and the process's CPU time from wait4) and
# reads the phase timings of `--json`. Per run it prints
#   outside phases = wall - (hub + server + kernel + execute + cleanup phases)
#                    (process start and exit, option checks, output)
#   cpu            = user + system CPU time of the process (all its own work, inside the
#                    phases too: HTTP, WebSocket, JSON)
#   overhead       = outside phases + cpu: an upper bound of the command's own time; the rest
#                    of the wall time is the hub and the kernel working (spawn, kernel start,
#                    1+1, stopping the server) and loopback round trips.
# and the medians at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
swift build -c release --product bisect-deploy >&2
venv=$(Fixtures/jupyterhub/setup-venv.sh | tail -n 1)
work=$(mktemp -d "${TMPDIR:-/tmp}/bisect-deploy-smoke-bench.XXXXXX")
trap 'python3 Fixtures/jupyterhub/hub.py stop "$work/hub"; rm -rf "$work"' EXIT
python3 Fixtures/jupyterhub/hub.py start "$work/hub" --venv "$venv" --watch $$ >"$work/hub.json"
python3 - "$PWD/.build/release/bisect-deploy" "$work/hub.json" "$runs" <<'PY'
import json, os, statistics, subprocess, sys, time

binary, info_path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
info = json.load(open(info_path))
env = dict(os.environ, JUPYTERHUB_API_TOKEN=open(info["token_file"]).read().strip())
rows = []
for run in range(runs):
    start = time.monotonic()
    child = subprocess.Popen([binary, "smoke", "kernel", "--hub", info["url"], "--user", "smoke", "--json"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - start
    report = json.loads(out)
    if os.waitstatus_to_exitcode(status) != 0 or report["verdict"] != "good":
        sys.exit(f"run {run + 1}: not good: {report['reason']}")
    phases = report["seconds"]
    outside = wall - sum(phases.values())
    cpu = usage.ru_utime + usage.ru_stime
    rows.append((wall, phases["server"], phases["kernel"], phases["execute"], phases["cleanup"], outside, cpu))
    print(f"run {run + 1}: wall {wall:.3f} s = hub {phases['hub'] * 1000:.0f} ms + server {phases['server']:.2f} s"
          f" + kernel {phases['kernel']:.3f} s + execute {phases['execute'] * 1000:.0f} ms"
          f" + cleanup {phases['cleanup']:.2f} s + outside phases {outside * 1000:.0f} ms;"
          f" cpu {cpu * 1000:.0f} ms; overhead <= {(outside + cpu) * 1000:.0f} ms", flush=True)
median = lambda i: statistics.median(r[i] for r in rows)
print(f"median of {runs}: wall {median(0):.2f} s, server {median(1):.2f} s, kernel {median(2):.3f} s,"
      f" execute {median(3) * 1000:.0f} ms, cleanup {median(4):.2f} s; outside phases {median(5) * 1000:.0f} ms,"
      f" cpu {median(6) * 1000:.0f} ms; overhead <= {statistics.median(r[5] + r[6] for r in rows) * 1000:.0f} ms")
PY
