#!/bin/sh
# Prepare the Python environment of the local JupyterHub once: jupyterhub, the Python
# configurable-http-proxy, jupyter-server and ipykernel from PyPI, pinned in
# requirements.txt. Fast when already done (a stamp records what was installed).
#
#   setup-venv.sh [VENV_DIR]      default: ~/.cache/bisect-deploy/hub-venv
#
# Prints the venv's path as the last line of stdout. Env: PYTHON (default python3).
# Fails (exit 1, with pip's message) when PyPI cannot be reached and nothing is cached.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/bisect-deploy/hub-venv}
python=${PYTHON:-python3}
stamp="$venv/.bisect-deploy-hub-stamp"

want=$({ "$python" -c 'import sys; print(sys.version)'; cat "$here/requirements.txt"; } | sha256sum | cut -d' ' -f1)
check() {
  "$venv/bin/python" -c 'import jupyterhub, jupyter_server, ipykernel, configurable_http_proxy' &&
    [ -x "$venv/bin/jupyterhub" ] && [ -x "$venv/bin/jupyterhub-singleuser" ] &&
    [ -x "$venv/bin/configurable-http-proxy" ]
}
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && check 2>/dev/null; then
  echo "$venv"
  exit 0
fi

echo "setup-venv: creating $venv (JupyterHub and its proxy, jupyter-server, ipykernel: about 300 MB, a minute or more)" >&2
rm -f "$stamp"
mkdir -p "$(dirname "$venv")"
"$python" -m venv --clear "$venv"
if ! "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$here/requirements.txt" >&2; then
  echo "setup-venv: cannot install the packages of $here/requirements.txt from PyPI (see pip's message above)" >&2
  exit 1
fi
check >&2
echo "$want" > "$stamp"
echo "$venv"
