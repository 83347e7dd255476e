"""Start and stop a real JupyterHub on 127.0.0.1 for the tests of `bisect-deploy smoke kernel`.

    hub.py start DIR --venv VENV [--watch PID] [--slow-spawn S]
        Makes DIR (which must not exist, or be empty), a token, the kernelspecs, starts the
        hub with jupyterhub_config.py in a session of its own, and waits (at most 90 s) until
        GET /hub/api/ answers 200. Prints one JSON line: url, token_file, jupyter_path, log,
        pid. With --watch, a watchdog stops the hub when process PID is gone (a test run that
        crashed leaves nothing running).
    hub.py stop DIR
        Stops the hub (SIGTERM, then SIGKILL after 20 s), then every process still running
        from DIR (user servers and kernels run in sessions of their own). Safe to repeat.

Kernelspecs in DIR/jupyter/kernels: `python3-exits` starts a kernel that exits at once,
silently, as every kernel did on 2017-03-23 (exits-at-start.py). Tests add their own.
Standard library only: runs with any python3.
"""

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
MARKER = ".bisect-deploy-test-hub"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fail(message):
    print(f"hub.py: {message}", file=sys.stderr)
    sys.exit(1)


def write_kernelspec(jupyter_path, name, argv, display):
    folder = os.path.join(jupyter_path, "kernels", name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "kernel.json"), "w") as f:
        json.dump({"argv": argv, "display_name": display, "language": "python"}, f, indent=1)


def answers(url):
    try:
        with urllib.request.urlopen(url + "/hub/api/", timeout=2) as response:
            return response.status == 200
    except Exception:
        return False


def start(args):
    state = os.path.abspath(args.dir)
    if os.path.exists(state) and os.listdir(state):
        fail(f"{state} is not empty")
    os.makedirs(os.path.join(state, "home"), exist_ok=True)
    with open(os.path.join(state, MARKER), "w") as f:
        f.write("made by Fixtures/jupyterhub/hub.py\n")
    venv = os.path.abspath(args.venv)
    python = os.path.join(venv, "bin", "python")
    jupyter_path = os.path.join(state, "jupyter")
    write_kernelspec(jupyter_path, "python3-exits", [python, os.path.join(HERE, "exits-at-start.py"),
                     "-f", "{connection_file}"], "Python 3 (exits at start, as on 2017-03-23)")
    token_file = os.path.join(state, "token")
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    port = free_port()
    env = dict(os.environ)
    env.update({
        "BISECT_HUB_DIR": state,
        "BISECT_HUB_VENV": venv,
        "BISECT_HUB_PORT": str(port),
        "BISECT_HUB_API_PORT": str(free_port()),
        "BISECT_HUB_PROXY_API_PORT": str(free_port()),
        "BISECT_HUB_TOKEN_FILE": token_file,
        "BISECT_HUB_JUPYTER_PATH": jupyter_path,
        "BISECT_HUB_SLOW_SPAWN": str(args.slow_spawn),
    })
    # The token reaches the hub through its file only.
    env.pop("JUPYTERHUB_API_TOKEN", None)
    log_path = os.path.join(state, "hub.log")
    with open(log_path, "ab") as log:
        hub = subprocess.Popen(
            [os.path.join(venv, "bin", "jupyterhub"), "-f", os.path.join(HERE, "jupyterhub_config.py")],
            cwd=state, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    with open(os.path.join(state, "hub.pid"), "w") as f:
        f.write(str(hub.pid))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while not answers(url):
        if hub.poll() is not None or time.monotonic() > deadline:
            stop_dir(state)
            with open(log_path, errors="replace") as f:
                tail = f.read()[-3000:]
            fail(f"the hub did not come up at {url} (exit status {hub.poll()}); end of {log_path}:\n{tail}")
        time.sleep(0.2)
    if args.watch:
        watchdog(state, args.watch)
    print(json.dumps({"url": url, "token_file": token_file, "jupyter_path": jupyter_path,
                      "log": log_path, "pid": hub.pid}), flush=True)


def watchdog(state, pid):
    """Starts a detached process that stops the hub once `pid` has gone. It is a new
    program, not a fork: a fork would keep every descriptor this process inherited, and a
    caller that waits for them to close (Foundation's Process does) would wait forever."""
    subprocess.Popen([sys.executable, os.path.abspath(__file__), "watch", state, str(pid)],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True, close_fds=True)


def watch(state, pid):
    while os.path.exists(os.path.join(state, "hub.pid")):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            stop_dir(state)
            return
        time.sleep(1)


def processes_of(state):
    """Processes (not this one) whose working directory or command line is inside `state`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (os.getpid(), os.getppid()):
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().decode(errors="replace")
        except OSError:
            continue
        if cwd == state or cwd.startswith(state + "/") or state + "/" in cmdline:
            found.append(int(entry))
    return found


def signal_all(pids, number):
    for pid in pids:
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            pass


def stop_dir(state):
    state = os.path.abspath(state)
    if not os.path.exists(os.path.join(state, MARKER)):
        return  # not ours, or never started
    pid_file = os.path.join(state, "hub.pid")
    try:
        with open(pid_file) as f:
            hub = int(f.read().strip())
    except (OSError, ValueError):
        hub = None
    if hub:
        # SIGTERM lets the hub stop the user servers it started.
        try:
            os.killpg(hub, signal.SIGTERM)
        except ProcessLookupError:
            hub = None
        deadline = time.monotonic() + 20
        while hub and time.monotonic() < deadline:
            try:
                os.killpg(hub, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            if hub:
                try:
                    os.killpg(hub, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    try:
        os.remove(pid_file)
    except FileNotFoundError:
        pass
    # Servers and kernels the hub did not take along.
    left = processes_of(state)
    signal_all(left, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = processes_of(state)
    signal_all(left, signal.SIGKILL)


def main():
    # A caller's worker thread may block SIGINT and SIGTERM (libdispatch's threads do, and a
    # Swift test runs on them), and children inherit the mask: the hub could then never stop
    # a user's server, nor a server its kernels, except by SIGKILL after its timeouts.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    parser = argparse.ArgumentParser(prog="hub.py")
    commands = parser.add_subparsers(dest="command", required=True)
    start_parser = commands.add_parser("start")
    start_parser.add_argument("dir")
    start_parser.add_argument("--venv", required=True)
    start_parser.add_argument("--watch", type=int)
    start_parser.add_argument("--slow-spawn", type=float, default=30)
    stop_parser = commands.add_parser("stop")
    stop_parser.add_argument("dir")
    watch_parser = commands.add_parser("watch")  # started by `start --watch`
    watch_parser.add_argument("dir")
    watch_parser.add_argument("pid", type=int)
    args = parser.parse_args()
    if args.command == "start":
        start(args)
    elif args.command == "watch":
        watch(os.path.abspath(args.dir), args.pid)
    else:
        stop_dir(args.dir)


if __name__ == "__main__":
    main()
