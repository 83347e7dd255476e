#!/usr/bin/env python3
"""A one-machine stand-in for the Kubernetes cluster of the 2017-03-23 incident.

The incident repo's deploy.py calls it (path in BISECT_DEMO_CLUSTER) the way the real one
called docker and helm:

    cluster.py build --context DIR --image NAME:TAG     "build" an image (copy its context;
                                                        for a Dockerfile, record ENTRYPOINT/CMD/ENV)
    cluster.py upgrade RELEASE --environment ENV --values FILE.json
                                                        replace ENV's user server: build the pod
                                                        spec with the hub image's vendored
                                                        KubeSpawner, start the pod, wait for it
    cluster.py status --environment ENV                 the running pod as JSON (exit 1: none)
    cluster.py stop --environment ENV | stop-all [--any]

Only the container rules that matter are applied: a pod's `command` replaces the image's
ENTRYPOINT and CMD, `args` replaces only CMD. The pod's argv runs as PID 1 of a fresh PID
namespace (`unshare --pid --fork --mount-proc --kill-child=SIGKILL`), so with a shell-form
CMD `/bin/sh` is PID 1 and the server its child, while a pod whose `command` is the server
makes the server PID 1.

Where PID namespaces are not permitted, BISECT_DEMO_PIDNS decides: `emulate` (the default
fallback) runs the pod without a namespace and, when the server would have been PID 1,
puts a `pdb.py` that ends the process on the pod's PYTHONPATH (IPython imports pdb, so
every kernel dies on start while the server stays up); `skip` starts nothing and the
checks exit 125. BISECT_DEMO_PIDNS=off forces the fallback for testing.

State lives in BISECT_DEMO_STATE (default /tmp/bisect-deploy-demo); the pods run the
notebook server with the venv in BISECT_DEMO_VENV (see setup-venv.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
STATE = Path(os.environ.get("BISECT_DEMO_STATE") or "/tmp/bisect-deploy-demo").resolve()
VENV = Path(os.environ.get("BISECT_DEMO_VENV")
            or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
            / "bisect-deploy" / "demo-venv")
MARKER = "BISECT_DEMO_POD"   # in every pod process's environment, to find strays
SHELLS = {"sh", "bash", "dash", "ash", "zsh"}
UNSHARE = ["--pid", "--fork", "--mount-proc", "--kill-child=SIGKILL"]


def say(msg: str) -> None:
    print(f"cluster: {msg}", flush=True)


def fail(msg: str, status: int = 1) -> None:
    print(f"cluster: error: {msg}", file=sys.stderr, flush=True)
    sys.exit(status)


# ---------------------------------------------------------------------------- images

def image_dir(image: str) -> Path:
    name, _, tag = image.rpartition(":")
    if not name or not tag:
        fail(f"image '{image}' has no tag")
    return STATE / "images" / name.replace("/", "_") / tag


def parse_dockerfile(text: str) -> dict:
    """ENTRYPOINT, CMD and ENV of the image (the base image is taken to set none)."""
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    config = {"Entrypoint": None, "Cmd": None, "Env": {}, "WorkingDir": None}
    for line in lines:
        word, _, rest = line.partition(" ")
        word, rest = word.upper(), rest.strip()
        if word in ("CMD", "ENTRYPOINT"):
            # Docker's two forms: JSON exec form, anything else runs under /bin/sh -c.
            value = json.loads(rest) if rest.startswith("[") else ["/bin/sh", "-c", rest]
            if word == "CMD":
                config["Cmd"] = value
            else:
                config["Entrypoint"], config["Cmd"] = value, None
        elif word == "ENV":
            if "=" in rest.split(" ", 1)[0]:
                for item in shlex.split(rest):
                    key, _, value = item.partition("=")
                    config["Env"][key] = value
            else:
                key, _, value = rest.partition(" ")
                config["Env"][key] = value.strip()
        elif word == "WORKDIR":
            config["WorkingDir"] = rest
    return config


def cmd_build(args) -> None:
    dest = image_dir(args.image)
    context = Path(args.context)
    if not context.is_dir():
        fail(f"build context '{context}' is not a directory")
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=dest.parent if dest.parent.exists()
                                else _mkdir(dest.parent)))
    shutil.copytree(context, tmp / "ctx", symlinks=True)
    config = {}
    if (context / "Dockerfile").is_file():
        config = parse_dockerfile((context / "Dockerfile").read_text())
    (tmp / "ctx" / ".image-config.json").write_text(json.dumps(config, indent=2) + "\n")
    # Same tag, same content: the last build wins, atomically.
    old = dest.with_name(dest.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        dest.rename(old)
    (tmp / "ctx").rename(dest)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(tmp, ignore_errors=True)
    say(f"built {args.image}")


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------------------- pods

def pod_spec(values: dict, port: int) -> dict:
    """The pod manifest the hub image's vendored KubeSpawner makes for user 'demo'."""
    hub_image = "{name}:{tag}".format(**values["hub"]["image"])
    hub_dir = image_dir(hub_image)
    if not (hub_dir / "kubespawner").is_dir():
        fail(f"hub image {hub_image} is not built or has no kubespawner")
    sys.path.insert(0, str(hub_dir))
    from kubespawner.spawner import KubeSpawner  # noqa: E402  the hub image's own copy

    single = values["singleuser"]
    spawner = KubeSpawner(
        user="demo",
        hub_api_url="http://hub:8081/hub/api",
        api_token="demo-api-token",
        port=port,
        singleuser_image_spec="{name}:{tag}".format(**single["image"]),
        mem_limit=single.get("memory", {}).get("limit"),
        mem_guarantee=single.get("memory", {}).get("guarantee"),
        cpu_limit=single.get("cpu", {}).get("limit"),
        cpu_guarantee=single.get("cpu", {}).get("guarantee"),
        environment={k: str(v) for k, v in (single.get("extraEnv") or {}).items()},
        storage_class=single.get("storage", {}).get("class"),
        storage_capacity=single.get("storage", {}).get("capacity"),
    )
    return spawner.get_pod_manifest()


def effective_argv(container: dict, image: dict) -> list[str]:
    entrypoint, cmd = image.get("Entrypoint") or [], image.get("Cmd") or []
    command, args = container.get("command"), container.get("args")
    if command:
        return list(command) + list(args or [])
    if args:
        return list(entrypoint) + list(args)
    return list(entrypoint) + list(cmd)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pidns_mode() -> str:
    """ns-root, ns-user, emulate or skip, decided here, at deploy time."""
    wanted = os.environ.get("BISECT_DEMO_PIDNS", "auto")
    fallback = "skip" if wanted == "skip" else "emulate"
    unshare = shutil.which("unshare")
    if wanted == "off" or not unshare:
        return fallback
    for mode, extra in (("ns-root", []), ("ns-user", ["--user", "--map-root-user"])):
        try:
            probe = subprocess.run([unshare, *extra, *UNSHARE, "true"],
                                   capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return mode
    return fallback


def proc_start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return None if fields[0] == "Z" else fields[19]


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop(0)
        out.append(pid)
        todo.extend(sorted(children.get(pid, [])))
    return out


def pod_processes(root: int) -> list[tuple[str, str]]:
    """(PID inside the pod, command line) of every process of the pod."""
    rows = []
    for pid in descendants(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        nspid = next((l.split()[-1] for l in status.splitlines() if l.startswith("NSpid:")), str(pid))
        args = [a.decode(errors="replace") for a in cmdline if a]
        if args and Path(args[0]).name == "unshare":
            continue
        rows.append((nspid, " ".join(args)))
    return rows


def wait_up(port: int, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def env_dir(env: str) -> Path:
    return STATE / "envs" / env


def cmd_upgrade(args) -> None:
    env = args.environment
    values = json.loads(Path(args.values).read_text())
    stop_env(env)
    here = _mkdir(env_dir(env))
    mode = pidns_mode()
    if mode == "skip":
        write_state(env, {"mode": mode, "release": args.release, "commit": args.commit})
        say("PID namespaces are not permitted here and BISECT_DEMO_PIDNS=skip: no pod started "
            "(the checks will exit 125)")
        return
    if not (VENV / "bin" / "python").exists():
        fail(f"no demo venv at {VENV} (run setup-venv.sh; set BISECT_DEMO_VENV)")

    port = free_port()
    pod = pod_spec(values, port)
    container = pod["spec"]["containers"][0]
    image = json.loads((image_dir(container["image"]) / ".image-config.json").read_text())
    argv = effective_argv(container, image)
    if not argv:
        fail("the pod has nothing to run (no command and the image has no ENTRYPOINT/CMD)")
    server_is_pid1 = Path(argv[0]).name not in SHELLS

    # The pod's filesystem view: the user image's programs on PATH, a home of its own.
    bin_dir = _mkdir(STATE / "bin")
    launcher = bin_dir / "jupyterhub-singleuser"
    launcher.write_text(f"#!{VENV}/bin/python\nimport runpy, sys\n"
                        f"sys.argv[0] = 'jupyterhub-singleuser'\n"
                        f"runpy.run_path({str(HERE / 'singleuser.py')!r}, run_name='__main__')\n")
    launcher.chmod(0o755)
    home = here / "home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    penv = {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home),
            "LANG": "C.UTF-8", "JUPYTER_RUNTIME_DIR": str(home / ".local/share/jupyter/runtime"),
            "JUPYTER_DATA_DIR": str(home / ".local/share/jupyter"),
            "JUPYTER_CONFIG_DIR": str(home / ".jupyter"), "IPYTHONDIR": str(home / ".ipython"),
            "PYTHONDONTWRITEBYTECODE": "1"}
    penv.update(image.get("Env") or {})
    penv.update({e["name"]: str(e["value"]) for e in container.get("env") or []})
    penv["DEMO_POD_PORT"] = str(port)
    penv[MARKER] = str(here)

    if mode == "emulate" and server_is_pid1:
        trap = _mkdir(STATE / "pid1-emulation")
        (trap / "pdb.py").write_text(
            "# Demo fallback where PID namespaces are not permitted: stands in for a notebook\n"
            "# server that is PID 1. IPython imports pdb at start, so every kernel ends here,\n"
            "# silently, as ipykernel <= 4.5.2 did under a PID-1 parent.\n"
            "import os\nos._exit(1)\n")
        penv["PYTHONPATH"] = str(trap)

    unshare = shutil.which("unshare") or "unshare"
    prefix = {"ns-root": [unshare, *UNSHARE, "--"],
              "ns-user": [unshare, "--user", "--map-root-user", *UNSHARE, "--"]}.get(mode, [])
    log_path = here / "pod.log"
    with open(log_path, "wb") as log, open(os.devnull, "rb") as null:
        proc = subprocess.Popen(prefix + argv, env=penv, cwd=home, stdin=null, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    state = {"mode": mode, "release": args.release, "commit": args.commit, "pid": proc.pid,
             "starttime": proc_start_time(proc.pid), "port": port,
             "url": f"http://127.0.0.1:{port}", "argv": argv, "server_is_pid1": server_is_pid1,
             "container": {k: container.get(k) for k in ("image", "command", "args")},
             "log": str(log_path)}
    write_state(env, state)
    if not wait_up(port, proc, timeout=30):
        tail = log_path.read_text(errors="replace")[-2000:]
        stop_env(env)
        fail(f"the pod did not answer /api/status within 30 s; its log ends:\n{tail}")

    say(f"release {args.release}: pod jupyter-demo up at {state['url']}")
    say(f"  image {container['image']}: ENTRYPOINT {json.dumps(image.get('Entrypoint'))} "
        f"CMD {json.dumps(image.get('Cmd'))}")
    say(f"  pod spec: command {json.dumps(container.get('command'))} "
        f"args {json.dumps(container.get('args'))}")
    names = {"ns-root": "own PID namespace", "ns-user": "own PID namespace (user namespace)",
             "emulate": ("no PID namespace (" + ("BISECT_DEMO_PIDNS=off" if os.environ.get(
                 "BISECT_DEMO_PIDNS") == "off" else "not permitted here") +
                 "): PID 1 emulated with pdb.py on PYTHONPATH")}
    say(f"  runs in: {names[mode]}")
    if mode.startswith("ns"):
        for nspid, line in pod_processes(proc.pid):
            say(f"  PID {nspid:>3} in the pod: {line[:110]}")
    else:
        say(f"  would be PID 1 in a container: {'the server' if server_is_pid1 else argv[0]}")


def write_state(env: str, state: dict) -> None:
    path = _mkdir(env_dir(env)) / "server.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.rename(path)


def read_state(env: str) -> dict | None:
    try:
        return json.loads((env_dir(env) / "server.json").read_text())
    except (OSError, ValueError):
        return None


def marked_pids(prefix: str) -> list[int]:
    """Processes whose environment carries the pod marker (kernels in their own sessions too)."""
    needle = f"{MARKER}={prefix}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if any(item.startswith(needle) for item in environ.split(b"\0")):
            found.append(int(entry.name))
    return found


def kill_and_wait(pids: list[int], group: int | None = None) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if group is not None:
            try:
                os.killpg(group, sig)
            except OSError:
                pass
        for pid in pids:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if all(proc_start_time(p) is None for p in pids):
                return
            time.sleep(0.05)


def stop_env(env: str) -> bool:
    state = read_state(env)
    stopped = False
    if state and state.get("pid") and proc_start_time(state["pid"]) == state.get("starttime"):
        # Killing unshare ends PID 1 (--kill-child), and with it the whole namespace.
        kill_and_wait([state["pid"]], group=state["pid"])
        stopped = True
    strays = marked_pids(str(env_dir(env)))
    if strays:
        kill_and_wait(strays)
        stopped = True
    try:
        (env_dir(env) / "server.json").unlink()
    except OSError:
        pass
    return stopped


def cmd_stop(args) -> None:
    if stop_env(args.environment):
        say(f"stopped the pod of {args.environment}")


def cmd_stop_all(args) -> None:
    envs = STATE / "envs"
    for path in sorted(envs.iterdir()) if envs.is_dir() else []:
        if stop_env(path.name):
            say(f"stopped the pod of {path.name}")
    strays = marked_pids("" if args.any else str(STATE))
    if strays:
        kill_and_wait(strays)
        say(f"stopped {len(strays)} stray pod process(es)")


def cmd_status(args) -> None:
    state = read_state(args.environment)
    if state is None:
        fail(f"no pod in {args.environment}")
    print(json.dumps(state, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("build")
    p.add_argument("--context", required=True)
    p.add_argument("--image", required=True)
    p.set_defaults(run=cmd_build)
    p = sub.add_parser("upgrade")
    p.add_argument("release")
    p.add_argument("--environment", required=True)
    p.add_argument("--values", required=True)
    p.add_argument("--commit", default="")
    p.set_defaults(run=cmd_upgrade)
    for name, run in (("status", cmd_status), ("stop", cmd_stop)):
        p = sub.add_parser(name)
        p.add_argument("--environment", required=True)
        p.set_defaults(run=run)
    p = sub.add_parser("stop-all")
    p.add_argument("--any", action="store_true", help="also pods of other state folders")
    p.set_defaults(run=cmd_stop_all)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
