#!/usr/bin/env python3
"""The two post-deploy checks of the 2017-03-23 demo, against the running pod of an environment.

    checks.py status [--env ENV]               the 2017 check: does /api/status answer 200?
    checks.py kernel [--env ENV] [--timeout S] the kernel smoke test: start a kernel, run 1+1, expect 2

Exit 0 good, 1 bad, 125 when there is no pod to check for reasons that are not the
commit's (nothing deployed, or PID namespaces unavailable with BISECT_DEMO_PIDNS=skip).
ENV defaults to $BISECT_ENVIRONMENT; the pod is found in $BISECT_DEMO_STATE.
"""
import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

STATE = Path(os.environ.get("BISECT_DEMO_STATE") or "/tmp/bisect-deploy-demo")


def call(method, url, body=None, timeout=5.0):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        raw = reply.read()
        return reply.status, (json.loads(raw) if raw else None)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("check", choices=["status", "kernel"])
    parser.add_argument("--env", default=os.environ.get("BISECT_ENVIRONMENT", "dev"))
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    try:
        state = json.loads((STATE / "envs" / args.env / "server.json").read_text())
    except (OSError, ValueError):
        print(f"{args.check}: no pod recorded for {args.env} in {STATE}: cannot test")
        return 125
    if state.get("mode") == "skip":
        print(f"{args.check}: PID namespaces are not permitted here: cannot test")
        return 125
    url = state["url"]
    started = time.monotonic()

    if args.check == "status":
        try:
            status, body = call("GET", f"{url}/api/status")
        except (OSError, urllib.error.HTTPError) as error:
            print(f"status: GET {url}/api/status failed: {error}")
            return 1
        print(f"status: GET /api/status -> {status} {json.dumps(body)}")
        return 0 if status == 200 else 1

    kid = None
    try:
        status, kernel = call("POST", f"{url}/api/kernels", {})
        kid = kernel["id"]
        remaining = max(1.0, args.timeout - (time.monotonic() - started))
        status, result = call("POST", f"{url}/api/kernels/{kid}/execute",
                              {"code": "1+1", "timeout": remaining}, timeout=remaining + 5)
    except (OSError, urllib.error.HTTPError, KeyError, ValueError) as error:
        print(f"kernel: the server did not run the kernel: {error}")
        return 1
    finally:
        if kid:
            try:
                call("DELETE", f"{url}/api/kernels/{kid}")
            except OSError:
                pass
    took = time.monotonic() - started
    if result.get("status") == "ok" and result.get("result") == "2":
        print(f"kernel: 1+1 -> 2 in {took:.1f} s")
        return 0
    detail = result.get("error") or f"got {result.get('result')!r}"
    extra = f" (exit status {result['exit_status']})" if result.get("exit_status") is not None else ""
    print(f"kernel: 1+1 failed after {took:.1f} s: {detail}{extra}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
