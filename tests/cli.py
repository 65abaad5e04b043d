"""The ``tritonload`` command as tests run it: a child process from the repository root."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tritonload(
    *args: str, env: dict[str, str] | None = None, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m loadtest ARGS``; its output captured as text.

    A ``run`` without ``--format`` writes the text and JSON reports only: the HTML one costs about 2 s of
    CPU per run, and tests/report renders and checks it.
    """
    if args and args[0] == "run" and "--format" not in args:
        args = (*args, "--format", "text,json")
    return subprocess.run(
        [sys.executable, "-m", "loadtest", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=ROOT,
        env=env,
    )
