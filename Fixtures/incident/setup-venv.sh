#!/bin/sh
# Prepare the Python environment of the 2017-03-23 demo once: pinned jupyter_client and
# ipykernel from PyPI, the kernel launcher with the pre-4.6 parent poller, and its
# kernelspec. Fast when already done (a stamp records what was installed).
#
#   setup-venv.sh [VENV_DIR]      default: ~/.cache/bisect-deploy/demo-venv
#
# Prints the venv's path as the last line of stdout. Env: PYTHON (default python3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/bisect-deploy/demo-venv}
python=${PYTHON:-python3}
stamp="$venv/.bisect-deploy-demo-stamp"

want=$({ "$python" -c 'import sys; print(sys.version)'; cat "$here/requirements.txt" "$here/kernel2017.py"; } \
  | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
  && "$venv/bin/python" -c 'import jupyter_client, ipykernel, kernel2017' 2>/dev/null; then
  echo "$venv"
  exit 0
fi

echo "setup-venv: creating $venv (pinned jupyter_client/ipykernel, about 10 s)" >&2
rm -f "$stamp"
"$python" -m venv --clear "$venv"
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$here/requirements.txt" >&2

purelib=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cp "$here/kernel2017.py" "$purelib/kernel2017.py"
spec="$venv/share/jupyter/kernels/python3-2017"
mkdir -p "$spec"
cat > "$spec/kernel.json" <<JSON
{
  "argv": ["$venv/bin/python", "-m", "kernel2017", "-f", "{connection_file}"],
  "display_name": "Python 3 (ipykernel with the 4.5.2 parent poller)",
  "language": "python"
}
JSON
"$venv/bin/python" -c 'import jupyter_client, ipykernel, kernel2017' >&2
echo "$want" > "$stamp"
echo "$venv"
