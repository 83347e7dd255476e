#!/usr/bin/env python3
"""Make the infrastructure repo of the 2017-03-23 kernel-death incident.

    python3 make-incident-repo.py OUT_DIR

A data-8/jupyterhub-k8s shaped history over March 2017 (about 120 commits, pull requests
landed by merge commits) with exactly one culprit: the "Generalization cleanup" commit of
PR #146, whose vendored KubeSpawner update puts the user server's command line into the
pod's `command`. Tags `known-good` and `2017-03-19-good` mark the last good commit. The
same run always gives the same hashes. Prints one JSON object:

    {"path", "culprit", "culprit_merge", "known_good", "tip", "commits"}

Python 3.11 standard library and git only.
"""

from __future__ import annotations

import datetime
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

CAST = [
    ("Ada Okafor", "ada.okafor@data8.example.org"),
    ("Ben Castillo", "ben.castillo@data8.example.org"),
    ("Chen Wei", "chen.wei@data8.example.org"),
    ("Dana Whitfield", "dana.whitfield@data8.example.org"),
    ("Eli Marsh", "eli.marsh@data8.example.org"),
]
GITHUB = ("GitHub", "noreply@github.com")
PACIFIC_DST = datetime.datetime(2017, 3, 12, 10, 0, tzinfo=datetime.timezone.utc)

# ------------------------------------------------------------------ file templates

SPAWNER_VERSIONS = {
    # The upstream commit each vendored copy was taken from, and what it changed.
    "2d5b1ab": "initial vendored copy",
    "7f3c9e2": "configurable start_timeout, retry pod creation on API errors",
    "9be3ac4": "use the spawner's cmd and args for the pod (jupyterhub/kubespawner#34)",
}
CULPRIT_SPAWNER = "9be3ac4"


def objects_py(version: str) -> str:
    cmd_param = "    cmd,\n" if version == CULPRIT_SPAWNER else ""
    cmd_doc = ("    cmd:\n        The command used to execute the singleuser server.\n"
               if version == CULPRIT_SPAWNER else "")
    cmd_field = "        'command': cmd,\n" if version == CULPRIT_SPAWNER else ""
    return f'''"""
Helper methods for generating k8s API objects.
"""


def make_pod_spec(
    name,
    image_spec,
    image_pull_policy,
    port,
{cmd_param}    env,
    volumes,
    volume_mounts,
    labels,
    cpu_limit,
    cpu_guarantee,
    mem_limit,
    mem_guarantee,
):
    """
    Make a k8s pod specification for running a user notebook.

    name:
        Name of pod. Must be unique within the namespace the object is
        going to be created in.
    image_spec:
        Image specification - usually a image name and tag in the form
        of image_name:tag.
    port:
        Port the notebook server is going to be listening on
{cmd_doc}    env:
        Dictionary of environment variables.
    """
    resources = {{'limits': {{}}, 'requests': {{}}}}
    if cpu_limit:
        resources['limits']['cpu'] = cpu_limit
    if mem_limit:
        resources['limits']['memory'] = mem_limit
    if cpu_guarantee:
        resources['requests']['cpu'] = cpu_guarantee
    if mem_guarantee:
        resources['requests']['memory'] = mem_guarantee
    container = {{
        'name': 'notebook',
        'image': image_spec,
{cmd_field}        'imagePullPolicy': image_pull_policy,
        'ports': [{{'containerPort': port}}],
        'env': [{{'name': k, 'value': v}} for k, v in sorted(env.items())],
        'volumeMounts': volume_mounts,
        'resources': resources,
    }}
    return {{
        'apiVersion': 'v1',
        'kind': 'Pod',
        'metadata': {{'name': name, 'labels': labels}},
        'spec': {{
            'securityContext': {{'runAsUser': 1000, 'fsGroup': 1000}},
            'containers': [container],
            'volumes': volumes,
        }},
    }}
'''


def spawner_py(version: str) -> str:
    later = version != "2d5b1ab"
    timeout = ("    # Seconds to wait for the pod to start; images are large.\n"
               "    start_timeout = 60 * 5\n    create_retries = 3\n"
               if later else "    start_timeout = 60\n")
    if version == CULPRIT_SPAWNER:
        env_block = "        env = dict(self.environment)\n        env['JPY_API_TOKEN'] = self.api_token\n"
        manifest = ("        real_cmd = None\n        if self.cmd:\n"
                    "            real_cmd = self.cmd + self.get_args()\n\n"
                    "        return make_pod_spec(\n            self.pod_name,\n"
                    "            self.singleuser_image_spec,\n"
                    "            self.singleuser_image_pull_policy,\n            self.port,\n"
                    "            real_cmd,\n            self.get_env(),\n")
    else:
        env_block = ("        env = dict(self.environment)\n"
                     "        env.update({\n"
                     "            'JPY_USER': self.user,\n"
                     "            'JPY_COOKIE_NAME': self.cookie_name,\n"
                     "            'JPY_BASE_URL': self.base_url,\n"
                     "            'JPY_HUB_PREFIX': self.hub_prefix,\n"
                     "            'JPY_HUB_API_URL': self.hub_api_url,\n"
                     "            'JPY_API_TOKEN': self.api_token,\n"
                     "        })\n")
        manifest = ("        return make_pod_spec(\n            self.pod_name,\n"
                    "            self.singleuser_image_spec,\n"
                    "            self.singleuser_image_pull_policy,\n            self.port,\n"
                    "            self.get_env(),\n")
    return f'''"""
JupyterHub Spawner to spawn user notebooks on a Kubernetes cluster.

Vendored from jupyterhub/kubespawner at {version} (see UPSTREAM), trimmed to the parts the
hub image uses. Options come from jupyterhub_config.py.
"""
import re
import string

from kubespawner.objects import make_pod_spec


class KubeSpawner:
    cmd = ['jupyterhub-singleuser']
    port = 8888
    ip = '0.0.0.0'
    cookie_name = 'jupyter-hub-token'
    hub_prefix = '/hub/'
    singleuser_image_spec = 'jupyter/singleuser:latest'
    singleuser_image_pull_policy = 'IfNotPresent'
    cpu_limit = None
    cpu_guarantee = None
    mem_limit = None
    mem_guarantee = None
    storage_class = None
    storage_capacity = None
    environment = {{}}
{timeout}
    def __init__(self, user, hub_api_url, api_token, **config):
        self.user = user
        self.hub_api_url = hub_api_url
        self.api_token = api_token
        for key, value in config.items():
            if not hasattr(self, key):
                raise TypeError('KubeSpawner has no option %r' % key)
            setattr(self, key, value)

    @property
    def base_url(self):
        return '/user/%s/' % self.user

    @property
    def pod_name(self):
        safe = set(string.ascii_lowercase + string.digits)
        return 'jupyter-' + ''.join(c if c in safe else '-%x' % ord(c) for c in self.user)

    def get_args(self):
        """Arguments for the single-user server (as JupyterHub's Spawner.get_args)."""
        return [
            '--user=%s' % self.user,
            '--cookie-name=%s' % self.cookie_name,
            '--base-url=%s' % self.base_url,
            '--hub-prefix=%s' % self.hub_prefix,
            '--hub-api-url=%s' % self.hub_api_url,
            '--ip=%s' % self.ip,
            '--port=%d' % self.port,
        ]

    def get_env(self):
{env_block}        return env

    def get_volumes(self):
        claim = 'claim-' + re.sub('[^a-z0-9-]', '-', self.user)
        return [{{'name': 'home', 'persistentVolumeClaim': {{'claimName': claim}}}}]

    def get_pod_manifest(self):
{manifest}            self.get_volumes(),
            [{{'name': 'home', 'mountPath': '/home/jovyan'}}],
            {{'heritage': 'jupyterhub', 'component': 'singleuser-server'}},
            self.cpu_limit,
            self.cpu_guarantee,
            self.mem_limit,
            self.mem_guarantee,
        )
'''


DEPLOY_PY = '''#!/usr/bin/env python3
"""Deploy the data8 JupyterHub to an environment.

    ./deploy.py <environment> <deployment> <commit>

Builds the hub and single-user images, each tagged by the last commit that touched its
directory, then upgrades the release <deployment>-<environment> with
helm-chart/values.yaml overlaid by <environment>.yaml. Run it from a checkout of <commit>.
"""
import json
import os
import re
import subprocess
import sys

ENVIRONMENTS = ('prod', 'dev')
IMAGES = {'hub': 'hub', 'singleuser': 'user'}   # values key -> image directory


def load_yaml(path):
    """The YAML our values files use: nested mappings of scalars."""
    root, stack = {}, [(-1, None)]
    stack[0] = (-1, root)
    with open(path) as f:
        for raw in f:
            line = raw.split(' #', 1)[0].rstrip()
            if not line.strip() or line.lstrip().startswith('#'):
                continue
            indent = len(line) - len(line.lstrip())
            key, _, value = line.strip().partition(':')
            while stack[-1][0] >= indent:
                stack.pop()
            parent = stack[-1][1]
            value = value.strip()
            if not value:
                parent[key] = {}
                stack.append((indent, parent[key]))
            elif value[0] in '"\\'':
                parent[key] = value[1:-1]
            elif re.fullmatch(r'-?[0-9]+', value):
                parent[key] = int(value)
            else:
                parent[key] = value
    return root


def merge(base, override):
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def last_change(commit, directory):
    repo = os.environ.get('BISECT_REPO') or '.'
    try:
        out = subprocess.run(['git', '-C', repo, 'log', '-1', '--format=%h', commit, '--', directory],
                             capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        out = ''
    return out or commit[:7]


def cluster(*args):
    # Stands in for docker and helm: see the demo's cluster.py.
    tool = os.environ.get('BISECT_DEMO_CLUSTER')
    if not tool:
        sys.exit('deploy.py: BISECT_DEMO_CLUSTER is not set (the cluster to deploy to)')
    print('+ cluster ' + ' '.join(args), flush=True)
    subprocess.run([sys.executable, tool] + list(args), check=True)


def main(argv):
    if len(argv) != 4:
        sys.exit('usage: deploy.py <environment> <deployment> <commit>')
    environment, deployment, commit = argv[1:]
    if environment not in ENVIRONMENTS:
        sys.exit('deploy.py: unknown environment %r (one of %s)' % (environment, ', '.join(ENVIRONMENTS)))
    if not re.fullmatch(r'[0-9a-f]{7,40}', commit):
        sys.exit('deploy.py: %r is not a commit hash' % commit)
{deployment_check}
    values = merge(load_yaml('helm-chart/values.yaml'), load_yaml(environment + '.yaml'))
    for key, directory in IMAGES.items():
        image = values[key]['image']
        image['tag'] = last_change(commit, directory)
        cluster('build', '--context', directory, '--image', '%s:%s' % (image['name'], image['tag']))
    with open('.deploy-values.json', 'w') as f:
        json.dump(values, f, indent=2, sort_keys=True)
    cluster('upgrade', '%s-%s' % (deployment, environment), '--environment', environment,
            '--values', '.deploy-values.json', '--commit', commit)
    print('Deployed %s to %s' % (commit[:7], environment))


if __name__ == '__main__':
    main(sys.argv)
'''

DEPLOYMENT_CHECK = '''    if deployment != 'data8':
        sys.exit('deploy.py: unknown deployment %r (only data8 lives here)' % deployment)
'''

USER_CMD = ('cd "$HOME" && jupyterhub-singleuser --ip=0.0.0.0 --port=8888 --user="$JPY_USER" '
            '--cookie-name="$JPY_COOKIE_NAME" --base-url="$JPY_BASE_URL" '
            '--hub-prefix="$JPY_HUB_PREFIX" --hub-api-url="$JPY_HUB_API_URL"; '
            'echo "jupyterhub-singleuser exited with status $?" >&2')

# ------------------------------------------------------------------ repository state
# The tree is rendered from "knobs" (dotted keys); a merge takes the branch's changed
# knobs over main's, so every merge tree is well defined and every commit deployable.

INITIAL = {
    "values.hub.image.name": "data8/jupyterhub-k8s-hub",
    "values.hub.image.tag": "5a2c0e1",
    "values.singleuser.image.name": "data8/jupyterhub-k8s-user",
    "values.singleuser.image.tag": "c41d9a7",
    "values.singleuser.storage.class": "gce-pd",
    "values.singleuser.storage.capacity": "5Gi",
    "values.singleuser.memory.limit": "1G",
    "values.singleuser.memory.guarantee": "512M",
    "values.singleuser.cpu.limit": 1,
    "values.culler.timeout": 3600,
    "values.culler.every": 600,
    "env.prod.hub.host": "datahub.berkeley.edu",
    "env.prod.singleuser.memory.limit": "2G",
    "env.prod.culler.timeout": 7200,
    "env.dev.hub.host": "datahub-dev.berkeley.edu",
    "env.dev.singleuser.memory.limit": "1G",
    "env.dev.culler.timeout": 1800,
    "hub.base": "jupyterhub/jupyterhub:0.7.2",
    "hub.pkg.oauthenticator": "0.5.1",
    "hub.pkg.pycurl": "7.43.0",
    "hub.kubespawner": "2d5b1ab",
    "hub.config.http_timeout": 60,
    "hub.config.concurrent_spawn_limit": 50,
    "user.base": "ubuntu:16.04",
    "user.pkg.datascience": "0.8.2",
    "user.pkg.numpy": "1.12.0",
    "user.pkg.pandas": "0.19.2",
    "user.pkg.matplotlib": "2.0.0",
    "user.pkg.scipy": "0.18.1",
    "user.pkg.okpy": "1.9.6",
    "user.pkg.notebook": "4.4.1",
    "user.pkg.ipykernel": "4.5.2",
    "user.pkg.jupyterhub": "0.7.2",
    "user.env.LANG": "C.UTF-8",
    "deploy.check_deployment": 0,
    "doc.readme.00": ("# jupyterhub-k8s\n\nResources for deploying JupyterHub to Kubernetes for "
                      "UC Berkeley's Data 8 and its connector courses."),
    "doc.readme.10": ("## Layout\n\n- `hub/`: the hub image, with a vendored copy of KubeSpawner\n"
                      "- `user/`: the single-user image students get\n"
                      "- `helm-chart/`: the chart and its default values\n"
                      "- `prod.yaml`, `dev.yaml`: per-environment settings\n"
                      "- `deploy.py`: builds the images and upgrades a release"),
    "doc.readme.20": ("## Deploying\n\n```\n./deploy.py <prod|dev> data8 <commit>\n```\n\n"
                      "Always deploy to dev first."),
}

PKG_POOL = ["folium", "seaborn", "sympy", "nbgrader", "networkx", "statsmodels"]
ENV_POOL = [("EDITOR", "nano"), ("SHELL", "/bin/bash"), ("DATA8_SEMESTER", "sp17"),
            ("TERM", "xterm-256color"), ("PAGER", "less"), ("GIT_AUTHOR_NAME", "Data 8 Student")]
DOC_TOPICS = [
    ("30", "## Rolling back\n\nDeploy an older commit: `./deploy.py prod data8 <good commit>`. "
           "Images are tagged by commit, so a rollback rebuilds nothing."),
    ("40", "## Idle culling\n\n`cull_idle_servers.py` runs inside the hub and stops servers idle "
           "for longer than `culler.timeout` seconds."),
    ("50", "## Secrets\n\nOAuth credentials live in the cluster, never in this repository."),
    ("60", "## Home directories\n\nEach user gets a persistent volume claim of "
           "`singleuser.storage.capacity`."),
    ("70", "## On call\n\nAnnounce deploys in #infra and deploy to dev first."),
]


def bump(version: str, rng: random.Random) -> str:
    parts = [int(p) for p in version.split(".")]
    parts[-1] += rng.randint(1, 2)
    return ".".join(str(p) for p in parts)


def hexid(rng: random.Random) -> str:
    return "%07x" % rng.getrandbits(28)


def change(rng: random.Random, k: dict) -> tuple[str, dict]:
    """One ordinary infra change that really changes something: (subject, knob updates)."""
    while True:
        subject, updates = some_change(rng, k)
        if any(k.get(key) != value for key, value in updates.items()):
            return subject, updates


def some_change(rng: random.Random, k: dict) -> tuple[str, dict]:
    env = rng.choice(["prod", "dev"])
    kind = rng.choice(["user_pkg", "user_pkg", "user_tag", "user_tag", "hub_tag", "mem", "mem",
                       "cpu", "culler", "culler_every", "env_var", "hub_pkg", "hub_cfg", "doc",
                       "doc", "storage", "guarantee"])
    if kind == "user_pkg":
        pkgs = sorted(p[len("user.pkg."):] for p in k if p.startswith("user.pkg.")
                      and p not in ("user.pkg.ipykernel", "user.pkg.notebook", "user.pkg.jupyterhub"))
        new = [p for p in PKG_POOL if f"user.pkg.{p}" not in k]
        if new and rng.random() < 0.35:
            pkg = new[0]
            return f"Add {pkg} to the user image", {f"user.pkg.{pkg}": f"0.{rng.randint(2, 9)}.{rng.randint(0, 3)}"}
        pkg = rng.choice(pkgs)
        version = bump(k[f"user.pkg.{pkg}"], rng)
        return f"Bump {pkg} to {version} in the user image", {f"user.pkg.{pkg}": version}
    if kind == "user_tag":
        tag = hexid(rng)
        return f"Update single-user image to {tag}", {"values.singleuser.image.tag": tag}
    if kind == "hub_tag":
        tag = hexid(rng)
        return f"Update hub image to {tag}", {"values.hub.image.tag": tag}
    if kind == "mem":
        value = rng.choice(["1G", "1.5G", "2G", "2.5G", "3G"])
        return f"Set memory limit on {env} to {value}", {f"env.{env}.singleuser.memory.limit": value}
    if kind == "guarantee":
        value = rng.choice(["256M", "512M", "768M", "1G"])
        return f"Guarantee {value} of memory per user", {"values.singleuser.memory.guarantee": value}
    if kind == "cpu":
        value = rng.choice(["0.5", "1", "2"])
        return f"Give users {value} CPU on {env}", {f"env.{env}.singleuser.cpu.limit": value}
    if kind == "culler":
        minutes = rng.choice([30, 45, 60, 90, 120, 180])
        return (f"Cull idle servers after {minutes} minutes on {env}",
                {f"env.{env}.culler.timeout": minutes * 60})
    if kind == "culler_every":
        minutes = rng.choice([5, 10, 15])
        return f"Run the idle culler every {minutes} minutes", {"values.culler.every": minutes * 60}
    if kind == "env_var":
        name, value = rng.choice(ENV_POOL)
        return f"Set {name} for user servers", {f"values.singleuser.extraEnv.{name}": value}
    if kind == "hub_pkg":
        version = bump(k["hub.pkg.oauthenticator"], rng)
        return f"Upgrade oauthenticator to {version}", {"hub.pkg.oauthenticator": version}
    if kind == "hub_cfg":
        if rng.random() < 0.5:
            value = rng.choice([30, 60, 90, 120])
            return f"Set hub http_timeout to {value}s", {"hub.config.http_timeout": value}
        value = rng.choice([20, 50, 100, 200])
        return f"Allow {value} concurrent spawns", {"hub.config.concurrent_spawn_limit": value}
    if kind == "doc":
        todo = [t for t in DOC_TOPICS if f"doc.readme.{t[0]}" not in k]
        if todo:
            key, text = todo[0]
            title = text.split("\n", 1)[0].lstrip("# ").lower()
            return f"README: document {title}", {f"doc.readme.{key}": text}
        key = rng.choice(sorted(x for x in k if x.startswith("doc.readme.")))
        return "Fix typos in README", {key: k[key].replace("  ", " ") + "\n"}
    value = rng.choice(["5Gi", "10Gi", "20Gi"])
    return f"Give users {value} home directories", {"values.singleuser.storage.capacity": value}


def nested(knobs: dict, prefix: str) -> dict:
    out: dict = {}
    for key in sorted(knobs):
        if key.startswith(prefix):
            *path, leaf = key[len(prefix):].split(".")
            node = out
            for p in path:
                node = node.setdefault(p, {})
            node[leaf] = knobs[key]
    return out


def yaml(tree: dict, indent: int = 0) -> str:
    lines = []
    for key, value in tree.items():
        pad = "  " * indent
        if isinstance(value, dict):
            lines.append(f"{pad}{key}:")
            lines.append(yaml(value, indent + 1).rstrip("\n"))
        elif isinstance(value, int):
            lines.append(f"{pad}{key}: {value}")
        else:
            lines.append(f'{pad}{key}: "{value}"')
    return "\n".join(lines) + "\n"


def render(k: dict) -> dict[str, bytes]:
    files: dict[str, str] = {}
    files[".gitignore"] = ".deploy-values.json\n*.pyc\n"
    files["README.md"] = "\n\n".join(k[x] for x in sorted(k) if x.startswith("doc.readme.")) + "\n"
    files["deploy.py"] = DEPLOY_PY.replace(
        "{deployment_check}\n", DEPLOYMENT_CHECK if k["deploy.check_deployment"] else "")
    files["helm-chart/Chart.yaml"] = ('name: jupyterhub\nversion: "v0.1"\n'
                                      'description: "Multi-user Jupyter installation"\n')
    files["helm-chart/values.yaml"] = ("# Defaults; prod.yaml and dev.yaml override them. deploy.py\n"
                                       "# sets the image tags.\n" + yaml(nested(k, "values.")))
    for env in ("prod", "dev"):
        files[f"{env}.yaml"] = f"# Settings for {env}.\n" + yaml(nested(k, f"env.{env}."))
    hub_pkgs = " ".join(f"{p[len('hub.pkg.'):]}=={k[p]}" for p in sorted(k) if p.startswith("hub.pkg."))
    files["hub/Dockerfile"] = (
        f"FROM {k['hub.base']}\n\n"
        f"RUN pip install --no-cache-dir {hub_pkgs}\n\n"
        "# Vendored KubeSpawner; the upstream commit is in kubespawner/UPSTREAM.\n"
        "COPY kubespawner /srv/kubespawner\nRUN pip install --no-cache-dir /srv/kubespawner\n\n"
        "COPY jupyterhub_config.py cull_idle_servers.py /srv/jupyterhub/\n"
        'CMD ["jupyterhub", "--config", "/srv/jupyterhub/jupyterhub_config.py"]\n')
    files["hub/jupyterhub_config.py"] = (
        "import os\n\n"
        "c.JupyterHub.spawner_class = 'kubespawner.KubeSpawner'\n"
        "c.JupyterHub.authenticator_class = 'oauthenticator.GoogleOAuthenticator'\n"
        "c.JupyterHub.ip = '0.0.0.0'\nc.JupyterHub.hub_ip = '0.0.0.0'\n"
        f"c.JupyterHub.concurrent_spawn_limit = {k['hub.config.concurrent_spawn_limit']}\n"
        f"c.Spawner.http_timeout = {k['hub.config.http_timeout']}\n\n"
        "c.KubeSpawner.singleuser_image_spec = os.environ['SINGLEUSER_IMAGE']\n"
        "c.KubeSpawner.mem_limit = os.environ.get('SINGLEUSER_MEM_LIMIT')\n"
        "c.KubeSpawner.mem_guarantee = os.environ.get('SINGLEUSER_MEM_GUARANTEE')\n"
        "c.KubeSpawner.cpu_limit = os.environ.get('SINGLEUSER_CPU_LIMIT')\n\n"
        "c.JupyterHub.services = [{\n    'name': 'cull-idle',\n    'admin': True,\n"
        "    'command': ['python3', '/srv/jupyterhub/cull_idle_servers.py',\n"
        "                '--timeout=%s' % os.environ.get('CULLER_TIMEOUT', '3600'),\n"
        "                '--cull-every=%s' % os.environ.get('CULLER_EVERY', '600')],\n}]\n")
    files["hub/cull_idle_servers.py"] = (
        '#!/usr/bin/env python3\n"""Stop single-user servers idle for longer than --timeout."""\n'
        "import argparse\n\n\ndef main():\n    parser = argparse.ArgumentParser()\n"
        "    parser.add_argument('--timeout', type=int, default=3600)\n"
        "    parser.add_argument('--cull-every', type=int, default=600)\n"
        "    parser.parse_args()\n\n\nif __name__ == '__main__':\n    main()\n")
    version = k["hub.kubespawner"]
    files["hub/kubespawner/__init__.py"] = "from kubespawner.spawner import KubeSpawner  # noqa\n"
    files["hub/kubespawner/objects.py"] = objects_py(version)
    files["hub/kubespawner/spawner.py"] = spawner_py(version)
    files["hub/kubespawner/UPSTREAM"] = (f"https://github.com/jupyterhub/kubespawner {version}\n"
                                         f"{SPAWNER_VERSIONS[version]}\n")
    files["hub/kubespawner/setup.py"] = ("from setuptools import setup\n\n"
                                         "setup(name='jupyterhub-kubespawner', version='0.1.0', "
                                         "packages=['kubespawner'])\n")
    user_env = " ".join(f"{x[len('user.env.'):]}={k[x]}" for x in sorted(k) if x.startswith("user.env."))
    files["user/Dockerfile"] = (
        f"FROM {k['user.base']}\n\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends \\\n"
        "        python3 python3-pip git less nano && \\\n    apt-get clean\n\n"
        "RUN useradd -m -s /bin/bash -N -u 1000 jovyan\n"
        "COPY requirements.txt /tmp/requirements.txt\n"
        "RUN pip3 install --no-cache-dir -r /tmp/requirements.txt\n\n"
        f"ENV {user_env}\nUSER jovyan\nWORKDIR /home/jovyan\n\n"
        "# KubeSpawner passes the server's options as JPY_* environment variables.\n"
        f"CMD {USER_CMD}\n")
    files["user/requirements.txt"] = "".join(
        f"{x[len('user.pkg.'):]}=={k[x]}\n" for x in sorted(k) if x.startswith("user.pkg."))
    return {path: text.encode() for path, text in files.items()}


# ------------------------------------------------------------------ history plan

def when(day: int, minute: int) -> int:
    """Epoch seconds of 2017-03-<day> at <minute> past midnight, Pacific time."""
    utc_offset = 8 if day < 12 or (day == 12 and minute < 120) else 7
    base = datetime.datetime(2017, 3, day, tzinfo=datetime.timezone.utc)
    return int(base.timestamp()) + minute * 60 + utc_offset * 3600


def tz(epoch: int) -> str:
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return "-0700" if moment >= PACIFIC_DST else "-0800"


def slug(subject: str) -> str:
    words = re.sub(r"[^a-z0-9]+", " ", subject.lower()).split()
    return "-".join(words[:4])


class Writer:
    """Builds the fast-import stream; commits get marks in creation order."""

    def __init__(self):
        self.out = bytearray()
        self.marks = 0
        self.last_time = 0

    def commit(self, ref: str, author, committer, epoch: int, message: str,
               tree: dict[str, bytes], parents: list[int | str]) -> int:
        # A busy slot pushes the commit a few minutes later: dates strictly increase.
        epoch = max(epoch, self.last_time + 240)
        self.last_time = epoch
        self.marks += 1
        mark = self.marks
        msg = message.encode()
        o = self.out
        o += f"commit {ref}\nmark :{mark}\n".encode()
        o += f"author {author[0]} <{author[1]}> {epoch} {tz(epoch)}\n".encode()
        o += f"committer {committer[0]} <{committer[1]}> {epoch} {tz(epoch)}\n".encode()
        o += f"data {len(msg)}\n".encode() + msg + b"\n"
        refs = [f":{p}" if isinstance(p, int) else p for p in parents]
        if refs:
            o += f"from {refs[0]}\n".encode()
        for p in refs[1:]:
            o += f"merge {p}\n".encode()
        o += b"deleteall\n"
        for path in sorted(tree):
            data = tree[path]
            mode = "100755" if path in ("deploy.py", "hub/cull_idle_servers.py") else "100644"
            o += f"M {mode} inline {path}\ndata {len(data)}\n".encode() + data + b"\n"
        o += b"\n"
        return mark


def plan_days(rng: random.Random) -> list[tuple[int, int]]:
    """(day, units of work) for ordinary days; weekends are quiet."""
    out = []
    for day in range(1, 24):
        weekday = datetime.date(2017, 3, day).weekday()
        out.append((day, rng.choice([1, 2]) if weekday >= 5 else rng.choice([3, 3, 4])))
    return out


def build(out_dir: Path) -> dict:
    rng = random.Random(20170323)
    w = Writer()
    knobs = dict(INITIAL)
    main_mark = w.commit("refs/heads/main", CAST[0], CAST[0], when(1, 10 * 60 + 12),
                         "Initial commit: hub and user images, chart, deploy.py\n",
                         render(knobs), [])
    info = {"pr": 95, "commits": 1}
    special: dict[str, int] = {}
    state = {"main": main_mark, "knobs": knobs}

    def direct(day: int, minute: int, subject: str, updates: dict, who=None) -> int:
        state["knobs"] = {**state["knobs"], **updates}
        who = who or rng.choice(CAST)
        state["main"] = w.commit("refs/heads/main", who, who, when(day, minute), subject + "\n",
                                 render(state["knobs"]), [state["main"]])
        info["commits"] += 1
        return state["main"]

    def pull_request(day: int, minute: int, items: list[tuple[str, dict]], branch: str,
                     number: int | None = None, interleave: tuple[str, dict] | None = None,
                     body: str = "", who=None) -> tuple[int, int]:
        """Branch commits from main's tip, maybe a direct commit on main meanwhile, a merge."""
        who = who or rng.choice(CAST)
        number = number or info["pr"] + rng.randint(1, 2)
        info["pr"] = number
        fork_knobs, mark, changed = dict(state["knobs"]), state["main"], {}
        t = minute
        first = None
        for subject, updates in items:
            changed.update(updates)
            fork_knobs.update(updates)
            mark = w.commit(f"refs/heads/pr-{number}", who, who, when(day, t),
                            subject + "\n" + (f"\n{body}\n" if body and first is None else ""),
                            render(fork_knobs), [mark])
            first = first or mark
            info["commits"] += 1
            t += rng.randint(6, 25)
        if interleave:
            direct(day, t, *interleave)
            t += rng.randint(5, 20)
        state["knobs"] = {**state["knobs"], **changed}
        merger = rng.choice([c for c in CAST if c != who])
        title = items[0][0] if len(items) == 1 else branch.replace("-", " ").capitalize()
        state["main"] = w.commit("refs/heads/main", merger, GITHUB, when(day, t + rng.randint(5, 30)),
                                 f"Merge pull request #{number} from data-8/{branch}\n\n{title}\n",
                                 render(state["knobs"]), [state["main"], mark])
        info["commits"] += 1
        return first, state["main"]

    def ordinary_day(day: int, units: int, start: int, end: int) -> None:
        minute = start
        span = (end - start) // max(units, 1)
        for _ in range(units):
            if rng.random() < 0.45:
                items = [change(rng, state["knobs"]) for _ in range(rng.choice([1, 1, 2, 3]))]
                inter = change(rng, state["knobs"]) if rng.random() < 0.4 else None
                pull_request(day, minute, items, slug(items[0][0]), interleave=inter)
            else:
                direct(day, minute, *change(rng, state["knobs"]))
            minute += span

    days = dict(plan_days(rng))
    for day in range(1, 19):
        start = 11 * 60 if day == 1 else 9 * 60 + rng.randint(0, 60)
        if day == 9:
            pull_request(day, 10 * 60, [("Update vendored kubespawner to 7f3c9e2",
                                         {"hub.kubespawner": "7f3c9e2"})], "kubespawner-start-timeout",
                         body="Picks up the configurable start timeout and retries on API errors.")
            start = 13 * 60
        if day == 13:
            direct(day, 9 * 60 + 5, "deploy.py: refuse unknown deployments",
                   {"deploy.check_deployment": 1})
            start = 10 * 60
        ordinary_day(day, days[day], start, 22 * 60)

    # March 19 (Sunday): the known-good deploy of the postmortem is its last commit.
    ordinary_day(19, 1, 11 * 60, 15 * 60)
    _, known_good = pull_request(19, 17 * 60 + 40, [("Cull idle servers after 60 minutes on prod",
                                                     {"env.prod.culler.timeout": 3600}),
                                                    ("Run the idle culler every 10 minutes",
                                                     {"values.culler.every": 600})],
                                 "culler-settings")
    special["known_good"] = known_good

    ordinary_day(20, 3, 9 * 60 + 30, 21 * 60)
    ordinary_day(21, 2, 8 * 60 + 45, 12 * 60)
    # PR #146: the only change that matters is the kubespawner bump.
    assert info["pr"] < 146, info["pr"]
    culprit, culprit_merge = pull_request(
        21, 13 * 60 + 20,
        [("Generalization cleanup", {"hub.kubespawner": CULPRIT_SPAWNER,
                                     "values.hub.image.tag": "v0.3.0",
                                     "values.singleuser.image.tag": "v0.3.0",
                                     "values.singleuser.storage.class": "standard"})],
        "generalization-cleanup", number=146,
        interleave=("README: mention the on-call channel",
                    {"doc.readme.20": INITIAL["doc.readme.20"] + " Ask in #infra first."}),
        body=(f"- Update vendored kubespawner to {CULPRIT_SPAWNER}\n"
              "- Use generic image tags in the chart's values\n"
              "- Default the single-user storage class to `standard`"))
    special["culprit"], special["culprit_merge"] = culprit, culprit_merge
    ordinary_day(21, 2, 17 * 60, 22 * 60)
    ordinary_day(22, 3, 9 * 60 + 15, 18 * 60)
    # Deployed to prod that evening (19:30); reverted first thing on the 23rd.
    image_tag = hexid(rng)
    last_image = direct(22, 19 * 60 + 8, f"Update single-user image to {image_tag}",
                        {"values.singleuser.image.tag": image_tag})
    special["last_image"] = last_image
    info["previous_tag"] = state["knobs"]["values.singleuser.image.tag"]
    return {"writer": w, "special": special, "info": info, "state": state,
            "image_tag": image_tag}


def git(out_dir: Path, *args: str, data: bytes | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1", LC_ALL="C")
    done = subprocess.run(["git", "-C", str(out_dir), *args], input=data, env=env,
                          capture_output=True, check=False)
    if done.returncode != 0:
        sys.exit(f"make-incident-repo: git {' '.join(args)} failed:\n{done.stderr.decode()}")
    return done.stdout.decode().strip()


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: make-incident-repo.py OUT_DIR")
    out_dir = Path(sys.argv[1]).resolve()
    if out_dir.exists() and any(out_dir.iterdir()):
        print(f"make-incident-repo: {out_dir} is not empty", file=sys.stderr)
        sys.exit(2)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = build(out_dir)
    w: Writer = plan["writer"]
    git(out_dir, "init", "-q", "-b", "main")
    marks_file = out_dir / ".git" / "incident-marks"
    git(out_dir, "fast-import", "--quiet", f"--export-marks={marks_file}", data=bytes(w.out))
    marks = {int(mark[1:]): sha for mark, sha in
             (line.split() for line in marks_file.read_text().splitlines())}
    marks_file.unlink()
    special = {name: marks[m] for name, m in plan["special"].items()}

    # The 09:16 revert names the reverted commit's hash, so it is written second, with the
    # annotated tag (fast-import fixes the tagger and its date).
    knobs = {**plan["state"]["knobs"], "values.singleuser.image.tag": plan["info"]["previous_tag"]}
    second = Writer()
    second.last_time = w.last_time
    second.commit("refs/heads/main", CAST[2], CAST[2], when(23, 9 * 60 + 16),
                  f'Revert "Update single-user image to {plan["image_tag"]}"\n\n'
                  f"This reverts commit {special['last_image']}.\n", render(knobs),
                  ["refs/heads/main^0"])
    good = special["known_good"]
    note = b"Last known-good deploy (March 19), from the 2017-03-23 postmortem\n"
    second.out += (f"tag 2017-03-19-good\nfrom {good}\n"
                   f"tagger {CAST[0][0]} <{CAST[0][1]}> {when(23, 9 * 60 + 41)} -0700\n"
                   f"data {len(note)}\n").encode() + note + b"\n"
    git(out_dir, "fast-import", "--quiet", data=bytes(second.out))
    for ref in git(out_dir, "for-each-ref", "--format=%(refname)", "refs/heads/").split():
        if ref != "refs/heads/main":
            git(out_dir, "update-ref", "-d", ref)
    git(out_dir, "tag", "known-good", good)
    git(out_dir, "checkout", "-q", "-f", "main")
    git(out_dir, "repack", "-a", "-d", "-q")
    tip = git(out_dir, "rev-parse", "main")
    count = int(git(out_dir, "rev-list", "--all", "--count"))
    print(json.dumps({"path": str(out_dir), "culprit": special["culprit"],
                      "culprit_merge": special["culprit_merge"], "known_good": good,
                      "tip": tip, "commits": count}))


if __name__ == "__main__":
    main()
