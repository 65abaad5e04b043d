"""A run directory and its reports are never group- or world-writable, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from loadtest.cli import main
from loadtest.exit_codes import ExitCode
from loadtest.report import write_reports

from .runs import write_run


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """umask 000: without care every directory would be 0777 and every file 0666."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _shared_writable(folder: Path) -> list[str]:
    return [
        f"{path.relative_to(folder.parent)} {stat.filemode(path.stat().st_mode)}"
        for path in [folder, *folder.rglob("*")]
        if path.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    ]


@pytest.mark.usefixtures("permissive_umask")
def test_nothing_a_run_and_its_reports_write_is_group_or_world_writable(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    write_run(run_dir, [{"a": [1000, 2000]}, {"a": [1500]}])
    write_reports(run_dir, ("text", "json", "csv", "markdown", "junit"))
    result = CliRunner().invoke(main, ["report", str(run_dir), "-f", "text", "--out", str(tmp_path / "elsewhere")])
    assert result.exit_code == ExitCode.OK, result.output
    assert len(list(run_dir.iterdir())) >= 9
    assert _shared_writable(run_dir) == []
    assert _shared_writable(tmp_path / "elsewhere") == []
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o755  # readable by others, as the umask allowed
