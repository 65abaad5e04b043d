"""A corpus of hostile scenario files: each ``hostile/NN-*.yaml`` is refused with the problems in its
``.expected`` file, quickly, without a traceback and without writing a file anywhere.

The cases cover what an attacker or a broken editor could hand the tool: YAML bombs (nested aliases,
merge keys), recursive aliases, nesting 5,000 levels deep, too many values, several documents, wrong
encodings (UTF-16/32, latin-1 bytes, NUL, binary), tags that would construct objects
(``!!python/object``), numbers Python refuses to convert, path tricks in names and files, and payloads
whose shapes or ``.npy`` headers would allocate gigabytes (``hostile/data/`` holds those files).

Expectations are written like those of ``invalid/`` (paths relative to the corpus folder, empty
environment). Time is bounded as CPU time, which a busy shared machine does not inflate the way it
inflates wall-clock time; the bounds are generous (each file takes milliseconds, the largest ~0.3 s).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from loadtest._yaml_limits import MAX_FILE_BYTES
from loadtest.cli import main
from loadtest.exit_codes import ExitCode
from loadtest.plan.payloads import build_pools
from loadtest.scenario import ScenarioError, load_scenario
from loadtest.scenario._source import precheck_file

ROOT = Path(__file__).resolve().parents[2]
HOSTILE_DIR = Path(__file__).resolve().parent / "hostile"
CASES = sorted(HOSTILE_DIR.glob("*.yaml"))
IN_PROCESS_CPU_BOUND_S = 2.0
SUBPROCESS_CPU_BOUND_S = 1.0
"""The whole process: interpreter start, the command line's imports and the refusal (~0.2 s of CPU
measured: the light first stage refuses the file before the scenario model is imported)."""
SUBPROCESS_PEAK_RSS_BOUND_KIB = 100_000
"""~18 MB measured; the unguarded alias bomb took more than 640 MB within 10 s."""
INVALID_DIR = Path(__file__).resolve().parent / "invalid"
ACCEPTANCE = ("01-deep-flow-sequence", "06-self-alias", "10-alias-bomb")
"""The three files of issue 13's acceptance line: deep nesting, a self-referencing alias, an alias bomb."""


def _problem_lines(path: Path) -> list[str]:
    """Validate as ``tritonload validate`` does (load, then generate the payloads)."""
    with pytest.raises(ScenarioError) as caught:
        build_pools(load_scenario(path, env={}))
    folder = str(HOSTILE_DIR)
    return [str(problem).replace(folder + "/", "").replace(folder, "<dir>") for problem in caught.value.problems]


def test_corpus_has_at_least_forty_cases_each_with_expectations() -> None:
    assert len(CASES) >= 40
    missing = [case.name for case in CASES if not case.with_suffix(".expected").is_file()]
    assert missing == []


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_hostile_file_is_refused_with_the_expected_problems_in_time(case: Path) -> None:
    expected = case.with_suffix(".expected").read_text(encoding="utf-8").splitlines()
    started_s = time.process_time()
    lines = _problem_lines(case)
    cpu_s = time.process_time() - started_s
    assert lines == expected
    assert cpu_s < IN_PROCESS_CPU_BOUND_S


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_cli_refuses_hostile_file_with_exit_2_and_writes_nothing(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    out = sandbox / "out"
    escaped = sandbox / "out" / ".." / ".." / "escaped"
    runner = CliRunner()
    monkeypatch.chdir(sandbox)
    results = [
        runner.invoke(main, ["validate", str(case)]),
        runner.invoke(main, ["plan", str(case)]),
        runner.invoke(main, ["run", str(case), "--out", str(out)]),
        runner.invoke(main, ["run", str(case), "--out", str(escaped)]),
        runner.invoke(main, ["run", str(case), "--reports-dir", "../elsewhere"]),
    ]
    expected_count = len(case.with_suffix(".expected").read_text(encoding="utf-8").splitlines())
    for result in results:
        assert result.exit_code == ExitCode.USAGE, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output
        assert result.stdout == ""
        problem_lines = result.stderr.splitlines()
        assert len(problem_lines) == expected_count + 1
        assert problem_lines[-1].endswith("found")
        assert all(line.startswith(str(case)) for line in problem_lines[:-1])
        assert len(result.stderr) < 400 * len(problem_lines)  # a problem never echoes a huge value
    assert [path for path in tmp_path.rglob("*") if not path.is_dir()] == []
    assert not out.exists()
    assert not (tmp_path / "escaped").exists()
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("case", [*CASES, *sorted(INVALID_DIR.glob("*.yaml"))], ids=lambda case: case.stem)
def test_the_light_first_stage_refuses_exactly_what_loading_refuses_at_once(case: Path) -> None:
    """``precheck_file`` (no pydantic, no numpy) either lets a file through to the full load, or
    refuses it with the very problems the full load reports."""
    with pytest.raises(ScenarioError) as loaded:
        build_pools(load_scenario(case, env={}))
    try:
        precheck_file(case, env={})
    except ScenarioError as early:
        assert early.problems == loaded.value.problems
    else:
        assert loaded.value.problems  # refused later, by validation


def test_the_first_stage_imports_neither_the_scenario_model_nor_numpy() -> None:
    code = (
        "import json, sys\n"
        "from loadtest.scenario._problems import ScenarioError\n"
        "from loadtest.scenario._source import precheck_file\n"
        "try:\n"
        f"    precheck_file({str(HOSTILE_DIR / '10-alias-bomb.yaml')!r})\n"
        "except ScenarioError:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT)
    loaded = json.loads(result.stdout)
    heavy = [m for m in loaded if m.split(".")[0] in ("pydantic", "numpy") or m == "loadtest.scenario._model"]
    assert heavy == []


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    case = tmp_path / "oversize.yaml"
    case.write_text("version: 1\n" + "#" * MAX_FILE_BYTES + "\n", encoding="utf-8")
    started_s = time.process_time()
    with pytest.raises(ScenarioError) as caught:
        load_scenario(case, env={})
    assert time.process_time() - started_s < IN_PROCESS_CPU_BOUND_S
    assert [str(p) for p in caught.value.problems] == [
        f"{case}: the file is larger than 1024 KiB; a scenario is a few KiB of YAML"
    ]


def test_a_device_or_a_directory_is_refused_as_a_scenario_file(tmp_path: Path) -> None:
    for path, message in (
        (Path("/dev/zero"), "not a regular file (a device)"),
        (tmp_path, "cannot read the scenario file: Is a directory"),
    ):
        with pytest.raises(ScenarioError) as caught:
            load_scenario(path, env={})
        assert [str(p) for p in caught.value.problems] == [f"{path}: {message}"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("&a [*a]", "the value is refused: this alias refers to a value that contains it (a recursive alias)"),
        ("[" * 5000, "the value is refused: nested more than 64 levels deep"),
        ("1" + "0" * 5000, "the value is refused: a number with thousands of digits; write a smaller value"),
        (
            "!!python/object/apply:os.system [true]",
            "the value is refused: the tag !!python/object/apply:os.system is not allowed; a scenario holds plain data",
        ),
    ],
    ids=["self-alias", "deep", "huge-integer", "python-tag"],
)
def test_hostile_set_values_are_refused_like_file_values(value: str, message: str) -> None:
    result = CliRunner().invoke(
        main, ["validate", str(ROOT / "scenarios" / "quickstart.yaml"), "--set", f"seed={value}"]
    )
    assert result.exit_code == ExitCode.USAGE
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].endswith(f"): {message}")
    assert len(lines[0]) < 300  # the --set text is shortened where the problem names it


@pytest.mark.parametrize("name", ACCEPTANCE)
def test_validate_refuses_the_acceptance_files_quickly_in_bounded_memory(name: str) -> None:
    """As a new process, as a user runs it: exit 2, one problem line, little CPU time and memory."""
    case = HOSTILE_DIR / f"{name}.yaml"
    # The child reports its own CPU time and peak RSS. Not ru_maxrss: Linux keeps it across fork
    # and exec, so it would be pytest's own size; VmHWM starts afresh with the new program.
    script = (
        "import re, resource, sys\n"
        "from loadtest.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "finally:\n"
        "    usage = resource.getrusage(resource.RUSAGE_SELF)\n"
        "    status = open('/proc/self/status', encoding='ascii').read()\n"
        "    peak_kib = re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1)\n"
        "    print('usage', usage.ru_utime + usage.ru_stime, peak_kib, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "validate", str(case)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    lines = result.stderr.splitlines()
    expected = (HOSTILE_DIR / f"{name}.expected").read_text(encoding="utf-8").strip()
    assert result.returncode == ExitCode.USAGE, result.stderr
    assert result.stdout == ""
    assert lines[:-1] == [f"{HOSTILE_DIR}/{expected}", "1 problem found"]
    label, cpu_s, peak_rss_kib = lines[-1].split()
    assert label == "usage"
    assert float(cpu_s) < SUBPROCESS_CPU_BOUND_S
    assert int(peak_rss_kib) < SUBPROCESS_PEAK_RSS_BOUND_KIB
