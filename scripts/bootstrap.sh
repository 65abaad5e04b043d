#!/usr/bin/env bash
# Sourced by scripts/run and scripts/test: make sure .venv holds tritonload with the embedded
# Triton server, the test tools and the docs tools. Reinstalls only when pyproject.toml or the
# list of extras changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${TRITONLOAD_VENV:-$root/.venv}"
python="${PYTHON:-python3}"

if ! "$python" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 13) else 1)'; then
    echo "error: tritonload needs Python 3.10-3.13 (found $("$python" --version 2>&1)); set PYTHON=..." >&2
    exit 2
fi
extras="embedded,test,docs"
stamp="$({ cat "$root/pyproject.toml"; echo "extras=$extras"; } | sha256sum | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ]; then
    echo "creating virtualenv $venv" >&2
    "$python" -m venv "$venv"
fi
if [ "$(cat "$venv/.tritonload-stamp" 2>/dev/null || true)" != "$stamp" ]; then
    echo "installing tritonload[$extras] into $venv (the first run downloads its packages: minutes)" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    # setuptools announces every editable install with a warning banner that pip shows even with
    # --quiet; filter that one warning (by its text) in the build backend, nothing else.
    PYTHONWARNINGS="ignore:Editable installation:UserWarning${PYTHONWARNINGS:+,$PYTHONWARNINGS}" \
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$root[$extras]"
    echo "$stamp" > "$venv/.tritonload-stamp"
fi
export PATH="$venv/bin:$PATH"
