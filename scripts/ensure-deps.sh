#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks for building and testing bisect-deploy:
# libgit2-dev (through pkg-config), git, python3 with venv (the demo's kernels), unshare, openssl.
# Swift itself is expected on PATH.
# Sourced by scripts/demo and scripts/test; uses sudo when not root.
set -euo pipefail

need=()
pkg-config --exists libgit2 2>/dev/null || need+=(libgit2-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v git >/dev/null 2>&1 || need+=(git)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# The demo's kernels run in a virtual environment; Debian's python3 needs python3-venv for it.
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
# The TLS tests make their own CA and certificates (PostgreSQL over TLS, an https hub).
command -v openssl >/dev/null 2>&1 || need+=(openssl)

if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "error: swift is not on PATH. Install a Swift 6.2+ toolchain (https://www.swift.org/install/linux/)." >&2
  exit 1
fi
