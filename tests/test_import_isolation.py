"""Importing the client library must stay light: no Locust, gevent, click, grpc or server code."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("locust", "gevent", "click", "grpc", "pytriton", "loadtest", "tritonclient.http", "tritonclient.grpc")


def test_import_pytriton_client_pulls_in_no_heavy_or_server_modules() -> None:
    code = "import json, sys, pytriton_client; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    loaded = json.loads(out)
    offenders = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert offenders == []
