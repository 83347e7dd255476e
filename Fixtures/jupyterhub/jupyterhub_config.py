# A JupyterHub on 127.0.0.1 for the tests of `bisect-deploy smoke kernel`, started by hub.py
# (which sets the BISECT_HUB_* variables). The configuration checked in
# shared notes "jupyterhub-on-loopback": Python proxy, dummy authenticator, local processes.
#
# Users: `smoke` gets a working server; `broken` a server command that exits at once (the
# spawn fails); `slow` waits BISECT_HUB_SLOW_SPAWN seconds before its server starts. The
# service `bisect-smoke` holds the test's token, with the rights the smoke test needs.
import os

c = get_config()  # noqa: F821 (JupyterHub defines it)

state = os.environ["BISECT_HUB_DIR"]
venv = os.environ["BISECT_HUB_VENV"]
loopback = "127.0.0.1"

c.JupyterHub.bind_url = f"http://{loopback}:{os.environ['BISECT_HUB_PORT']}"
c.JupyterHub.hub_bind_url = f"http://{loopback}:{os.environ['BISECT_HUB_API_PORT']}"
c.ConfigurableHTTPProxy.api_url = f"http://{loopback}:{os.environ['BISECT_HUB_PROXY_API_PORT']}"
c.ConfigurableHTTPProxy.command = [os.path.join(venv, "bin", "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = os.path.join(state, "proxy.pid")
c.JupyterHub.db_url = "sqlite:///" + os.path.join(state, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(state, "cookie_secret")
c.JupyterHub.pid_file = os.path.join(state, "jupyterhub.pid")

c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = {"smoke", "broken", "slow"}

c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = os.path.join(state, "home", "{username}")
c.Spawner.cmd = [os.path.join(venv, "bin", "jupyterhub-singleuser")]
c.Spawner.ip = loopback
# As root, jupyter-server refuses to start without it.
c.Spawner.args = ["--allow-root"]
c.Spawner.environment = {"JUPYTER_PATH": os.environ["BISECT_HUB_JUPYTER_PATH"]}


def per_user_command(spawner):
    name = spawner.user.name
    if name == "broken":
        # The server's command does not exist: the spawner fails at once, as a KubeSpawner
        # does when its pod cannot be made.
        spawner.cmd = [os.path.join(state, "no-such-server-command")]
    elif name == "slow":
        delay = os.environ.get("BISECT_HUB_SLOW_SPAWN", "30")
        # The hub stops a server with SIGINT: the wait gives way to it at once.
        wait = f'trap \'kill $!; exit 130\' INT TERM; sleep {delay} & wait $!; exec "$@"'
        spawner.cmd = ["/bin/sh", "-c", wait, "slow-server"] + c.Spawner.cmd


c.Spawner.pre_spawn_hook = per_user_command

with open(os.environ["BISECT_HUB_TOKEN_FILE"]) as token_file:
    token = token_file.read().strip()
c.JupyterHub.services = [{"name": "bisect-smoke", "api_token": token}]
c.JupyterHub.load_roles = [
    {
        "name": "bisect-smoke",
        "description": "the kernel smoke test of bisect-deploy",
        "services": ["bisect-smoke"],
        "scopes": ["servers", "access:servers", "admin:users"],
    }
]
