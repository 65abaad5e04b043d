"""The HTML capacity report opened in headless Chromium: the curve, the SLO line and the answer are drawn.

The first test renders a real ``tritonload sweep`` of the ``Capacity`` model on the session's Triton
(through ``tritonload report``); the others the committed capacity-search fixture, whose answer and
uncertainty band a short sweep does not have. Chromium (Debian's ``chromium``; ``scripts/test``
installs it) loads each page twice: once dumping the DOM it built (every element of the curve is
there, inside the figure), once taking a screenshot whose pixels must show each element's own colour
(the curve's colours are fixed in ``loadtest.report._plots.CURVE_COLORS`` and used nowhere else on the
page).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from loadtest.embedded import EmbeddedTriton
from loadtest.exit_codes import ExitCode
from loadtest.report._plots import CURVE_COLORS, PHASE_COLORS
from loadtest.report.capacity import write_capacity_reports

from .test_acceptance import CHROMIUM, CHROMIUM_FLAGS, CONSOLE_LINE, _chromium, tritonload

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "capacity"
WINDOW = (1280, 2000)
COLOUR_TOLERANCE = 20
"""Largest per-channel difference of a pixel counted as an element's colour (anti-aliased edges are lighter)."""


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _pixels_of(pixels: np.ndarray, colour: str) -> int:
    return int((np.abs(pixels - _rgb(colour)).max(axis=1) <= COLOUR_TOLERANCE).sum())


def _dump_dom(url: str, profile: Path) -> str:
    command = [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url]
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=60).stdout


def _screenshot_pixels(report: Path, tmp_path: Path) -> tuple[np.ndarray, Path]:
    screenshot = tmp_path / f"{report.parent.name}-report.png"
    browser = _chromium(report.as_uri(), screenshot, tmp_path / "profile")
    assert browser.returncode == 0, browser.stderr[-2000:]
    assert [line for line in browser.stderr.splitlines() if CONSOLE_LINE.search(line)] == []
    with Image.open(screenshot) as image:
        assert image.size == WINDOW
        pixels = np.asarray(image.convert("RGB"), dtype=np.int32).reshape(-1, 3)
    non_white = int((pixels.sum(axis=1) < 700).sum())
    assert non_white > 0.03 * len(pixels), f"only {non_white} non-white pixels in {screenshot}"
    return pixels, screenshot


@pytest.mark.timeout(240)
def test_a_real_sweep_report_draws_its_curve_slo_line_and_server_bars(
    triton_server: EmbeddedTriton, tmp_path: Path
) -> None:
    scenario = tmp_path / "capacity.yaml"
    scenario.write_text(
        f"""
version: 1
name: capacity-chromium
targets:
  capacity: {{url: "{triton_server.http_url}", model: Capacity, metrics_url: "{triton_server.metrics_url}"}}
payloads:
  small: {{inputs: {{INPUT: {{dtype: float32, shape: [4], generator: zeros}}}}}}
traffic:
  - {{name: capacity-sync, pattern: sync, target: capacity, payload: small}}
load: {{kind: closed, users: 1}}
duration_s: 10
"""
    )
    run_dir = tmp_path / "sweep"
    swept = tritonload(
        "sweep", str(scenario), "--concurrency", "1,4,8", "--slo", "p99 latency < 60ms", "--window-s", "1",
        "--max-windows", "5", "--warmup-s", "0.5", "--no-early-stop", "--out", str(run_dir), "-q",
        timeout_s=180,
    )  # fmt: skip
    # 3: a step that never became stable on this busy machine fails the SLOs; the report is the same
    assert swept.returncode in (ExitCode.OK, ExitCode.SLO_BREACHED), swept.stderr[-3000:]
    rendered = tritonload("report", str(run_dir), "--format", "html")
    assert rendered.returncode == ExitCode.OK, rendered.stderr[-3000:]
    report = run_dir / "report.html"
    dom = _dump_dom(report.as_uri(), tmp_path / "profile-dom")
    figure = dom[dom.index('id="curve-figure"') :]
    for element in ("p50-curve", "p99-curve", "slo-line-0", "bar-queue-2", "bar-compute_infer-0"):
        assert f'id="{element}"' in figure, element
    pixels, screenshot = _screenshot_pixels(report, tmp_path)
    drawn = {name: _pixels_of(pixels, colour) for name, colour in CURVE_COLORS.items()}
    assert drawn["p50"] > 200 and drawn["p99"] > 200 and drawn["slo"] > 200, (drawn, screenshot)
    assert _pixels_of(pixels, PHASE_COLORS["compute_infer"]) > 500, screenshot


@pytest.mark.timeout(180)
def test_the_capacity_report_draws_curve_slo_line_knee_and_answer_in_chromium(tmp_path: Path) -> None:
    (report,) = write_capacity_reports(FIXTURES / "capacity-rate", ("html",), out_dir=tmp_path)
    dom = _dump_dom(report.as_uri(), tmp_path / "profile-dom")
    figure = dom[dom.index('id="curve-figure"') :]
    for element in ("p50-curve", "p99-curve", "slo-line-0", "knee", "answer", "answer-band"):
        assert f'id="{element}"' in figure, element
    assert "answer 180.7 req/s" in figure  # the legend names the answer's achieved rate

    pixels, screenshot = _screenshot_pixels(report, tmp_path)
    drawn = {name: _pixels_of(pixels, colour) for name, colour in CURVE_COLORS.items()}
    # lines (p50, p99, SLO, answer) run hundreds of pixels; the knee is one circle
    assert drawn["p50"] > 200 and drawn["p99"] > 200, (drawn, screenshot)
    assert drawn["slo"] > 200, (drawn, screenshot)
    assert drawn["answer"] > 150, (drawn, screenshot)
    assert drawn["knee"] > 40, (drawn, screenshot)
    assert _pixels_of(pixels, PHASE_COLORS["queue"]) > 500, screenshot  # the breakdown's queue bars


@pytest.mark.timeout(120)
def test_the_colour_count_sees_a_missing_slo_line(tmp_path: Path) -> None:
    """Control for the test above: a sweep without SLOs shows no pixel of the SLO line's colour."""
    (report,) = write_capacity_reports(FIXTURES / "sweep-concurrency", ("html",), out_dir=tmp_path)
    screenshot = tmp_path / "sweep-report.png"
    browser = _chromium(report.as_uri(), screenshot, tmp_path / "profile")
    assert browser.returncode == 0, browser.stderr[-2000:]
    with Image.open(screenshot) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.int32).reshape(-1, 3)
    assert _pixels_of(pixels, CURVE_COLORS["p99"]) > 200
    assert _pixels_of(pixels, CURVE_COLORS["slo"]) < 5
    assert _pixels_of(pixels, CURVE_COLORS["answer"]) < 5
