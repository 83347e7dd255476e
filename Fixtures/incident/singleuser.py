"""Stand-in for `jupyterhub-singleuser`, the per-user notebook server of the demo.

Runs with the demo venv's Python. Starts kernels the way a notebook server does (one
jupyter_client KernelManager per kernel, so the kernel's parent is this process) and offers
a small REST surface:

    GET    /api/status                  200 {"started", "last_activity", "kernels"}
    GET    /api/kernels                 the running kernels
    POST   /api/kernels                 start a kernel (body {"name"} optional) -> 201 {"id", ...}
    POST   /api/kernels/<id>/execute    {"code", "timeout"} -> {"status", "result"|"error"}
                                        (stands in for the websocket channel)
    DELETE /api/kernels/<id>            shut it down -> 204

Options come from the command line (`--port`, `--user`, ...) or, as the 2017 image's CMD
passed them, from JPY_* variables. The stand-in cluster shares the host network, so it
sets DEMO_POD_PORT to the port this pod really gets; that wins over --port.
"""

import argparse
import datetime
import json
import os
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from jupyter_client.manager import KernelManager

KERNEL_NAME = "python3-2017"


def log(msg):
    stamp = datetime.datetime.now().strftime("%H:%M:%S.%f")[:-3]
    print(f"[I {stamp} SingleUserNotebookApp] {msg}", file=sys.stderr, flush=True)


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


class Kernels:
    def __init__(self):
        self.lock = threading.Lock()
        self.managers = {}

    def start(self, name):
        km = KernelManager(kernel_name=name)
        km.start_kernel()
        kid = str(uuid.uuid4())
        with self.lock:
            self.managers[kid] = km
        log(f"Kernel started: {kid} (pid {km.provisioner.process.pid}, parent pid {os.getpid()})")
        return kid

    def get(self, kid):
        with self.lock:
            return self.managers.get(kid)

    def ids(self):
        with self.lock:
            return list(self.managers)

    def shutdown(self, kid):
        with self.lock:
            km = self.managers.pop(kid, None)
        if km is not None:
            try:
                km.shutdown_kernel(now=True)
            except Exception as error:  # a dead kernel may fail to clean up; it is gone either way
                log(f"Kernel {kid}: shutdown: {error}")
            log(f"Kernel shutdown: {kid}")
        return km is not None

    def shutdown_all(self):
        for kid in self.ids():
            self.shutdown(kid)


def exit_status(km):
    process = getattr(km.provisioner, "process", None)
    return process.poll() if process is not None else None


def execute(kid, km, code, timeout):
    deadline = time.monotonic() + timeout
    kc = km.client()
    kc.start_channels()
    try:
        try:
            kc.wait_for_ready(timeout=timeout)
        except (RuntimeError, TimeoutError) as error:
            if not km.is_alive():
                log(f"Kernel {kid} died (exit status {exit_status(km)}), no traceback")
                return {"status": "error", "error": "kernel died before replying to kernel_info",
                        "exit_status": exit_status(km)}
            return {"status": "error", "error": f"kernel not ready: {error}"}
        outputs = []

        def hook(msg):
            if msg["msg_type"] == "execute_result":
                outputs.append(msg["content"]["data"].get("text/plain", ""))

        remaining = max(0.1, deadline - time.monotonic())
        try:
            reply = kc.execute_interactive(code, timeout=remaining, output_hook=hook,
                                           store_history=False)
        except TimeoutError:
            if not km.is_alive():
                return {"status": "error", "error": "kernel died while executing",
                        "exit_status": exit_status(km)}
            return {"status": "error", "error": f"no reply within {timeout} s"}
        content = reply["content"]
        if content["status"] != "ok":
            return {"status": "error", "error": f"{content.get('ename')}: {content.get('evalue')}"}
        return {"status": "ok", "result": outputs[-1] if outputs else None}
    finally:
        kc.stop_channels()


def make_handler(kernels, base_url, started):
    class Handler(BaseHTTPRequestHandler):
        server_version = "SingleUserNotebookApp-standin/2017"
        activity = {"last": started}

        def log_message(self, fmt, *args):
            log(f"{self.command} {self.path} {args[1] if len(args) > 1 else ''}")

        def route(self):
            path = self.path.split("?", 1)[0]
            if base_url != "/" and path.startswith(base_url.rstrip("/") + "/"):
                path = path[len(base_url.rstrip("/")):]
            return [p for p in path.split("/") if p]

        def reply(self, code, body=None):
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(code)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def body(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            return json.loads(raw) if raw else {}

        def do_GET(self):
            parts = self.route()
            if parts == ["api", "status"]:
                self.reply(200, {"started": started, "last_activity": self.activity["last"],
                                 "connections": 0, "kernels": len(kernels.ids())})
            elif parts == ["api", "kernels"]:
                self.reply(200, [{"id": k, "name": KERNEL_NAME} for k in kernels.ids()])
            else:
                self.reply(404, {"message": "Not Found"})

        def do_POST(self):
            parts = self.route()
            self.activity["last"] = now_iso()
            try:
                body = self.body()
            except ValueError:
                return self.reply(400, {"message": "bad JSON"})
            if parts == ["api", "kernels"]:
                try:
                    kid = kernels.start(body.get("name") or KERNEL_NAME)
                except Exception as error:
                    return self.reply(500, {"message": f"cannot start kernel: {error}"})
                return self.reply(201, {"id": kid, "name": body.get("name") or KERNEL_NAME,
                                        "execution_state": "starting"})
            if len(parts) == 4 and parts[:2] == ["api", "kernels"] and parts[3] == "execute":
                km = kernels.get(parts[2])
                if km is None:
                    return self.reply(404, {"message": "no such kernel"})
                result = execute(parts[2], km, str(body.get("code", "")),
                                 float(body.get("timeout", 10)))
                return self.reply(200, result)
            self.reply(404, {"message": "Not Found"})

        def do_DELETE(self):
            parts = self.route()
            if len(parts) == 3 and parts[:2] == ["api", "kernels"]:
                return self.reply(204 if kernels.shutdown(parts[2]) else 404)
            self.reply(404, {"message": "Not Found"})

    return Handler


def main():
    parser = argparse.ArgumentParser(prog="jupyterhub-singleuser")
    parser.add_argument("--port", type=int)
    parser.add_argument("--ip", default="")
    parser.add_argument("--user")
    parser.add_argument("--base-url")
    parser.add_argument("--hub-api-url")
    parser.add_argument("--hub-prefix")
    parser.add_argument("--cookie-name")
    args, unknown = parser.parse_known_args()
    user = args.user or os.environ.get("JPY_USER")
    if not user:
        sys.exit("jupyterhub-singleuser: no user (pass --user or set JPY_USER)")
    base_url = args.base_url or os.environ.get("JPY_BASE_URL") or "/"
    port = int(os.environ.get("DEMO_POD_PORT") or args.port or 8888)

    kernels = Kernels()
    started = now_iso()

    def stop(signum, frame):
        kernels.shutdown_all()
        os._exit(0)

    # A PID 1 ignores signals it has no handler for; this one also takes its kernels along.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(kernels, base_url, started))
    server.daemon_threads = True
    log(f"Serving notebooks for {user} at http://127.0.0.1:{port}{base_url} "
        f"(pid {os.getpid()}, parent pid {os.getppid()})")
    if unknown:
        log(f"ignoring options {unknown}")
    server.serve_forever()


if __name__ == "__main__":
    main()
