"""Helper of ``tests/mutation/run.sh``: which modules to mutate, and the score of each after a run.

Owns reading ``[tool.mutmut]`` from ``pyproject.toml`` (the module list lives there, once), mapping a
module path to mutmut's mutant names, reading mutmut's results (``mutants/<path>.meta``) and the
list of equivalent mutants (``tests/mutation/equivalent.txt``), and printing the score per module.
Never runs mutmut or the tests itself; needs only the standard library.

Score of a module: killed / (total - equivalent), where killed counts every mutant a test detected
(failed, timed out or crashed); survived, no-test and unchecked mutants count against it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 has no tomllib
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
EQUIVALENT_FILE = ROOT / "tests" / "mutation" / "equivalent.txt"
MUTANTS_DIR = ROOT / "mutants"
DEFAULT_MIN_SCORE = 90.0

# mutmut's exit codes per mutant (mutmut/stats.py), grouped the way the score counts them.
KILLED_CODES = {1: "killed", 3: "killed", 37: "killed"}
DETECTED_CODES = {
    **{code: "timeout" for code in (36, 24, -24, 152, 255)},
    **{code: "crashed" for code in (-9, -11)},
}
SURVIVED_CODES = {0: "survived"}
NO_TEST_CODES = {33: "no tests", 5: "no tests"}


def modules() -> list[str]:
    """The module paths listed in ``[tool.mutmut] only_mutate``, in file order."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = config.get("tool", {}).get("mutmut", {}).get("only_mutate")
    if not listed:
        raise SystemExit("pyproject.toml lists no module under [tool.mutmut] only_mutate")
    return list(listed)


def changed_modules(base: str) -> list[str]:
    """The listed modules whose file differs between ``base`` and the working tree."""
    names = subprocess.run(
        ["git", "diff", "--name-only", base, "--"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    return [module for module in modules() if module in names]


def dotted(module: str) -> str:
    """``loadtest/slo/__init__.py`` -> ``loadtest.slo``; ``pytriton_client/_url.py`` -> ``pytriton_client._url``."""
    parts = Path(module).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def patterns(module: str) -> list[str]:
    """mutmut name patterns of every mutant of one module: its functions (``x_``) and methods (``xǁ``)."""
    name = dotted(module)
    return [f"{name}.x_*", f"{name}.xǁ*"]


@dataclass
class Equivalent:
    """One entry of ``equivalent.txt``: ``<mutant id> <function hash> <reason>``."""

    mutant: str
    function_hash: str
    reason: str
    line: int


def read_equivalents(path: Path = EQUIVALENT_FILE) -> tuple[dict[str, Equivalent], list[str]]:
    """The entries by mutant id, and the problems of malformed lines (``file:line: message``)."""
    entries: dict[str, Equivalent] = {}
    problems: list[str] = []
    if not path.exists():
        return entries, problems
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        fields = text.split(maxsplit=2)
        if len(fields) < 3 or "__mutmut_" not in fields[0]:
            problems.append(f"{path.name}:{number}: expected '<mutant id> <function hash> <reason>'")
            continue
        if fields[0] in entries:
            problems.append(f"{path.name}:{number}: {fields[0]} is listed twice")
        entries[fields[0]] = Equivalent(fields[0], fields[1], fields[2], number)
    return entries, problems


def _function_of(mutant: str, module: str) -> str:
    """``loadtest.slo.x__build__mutmut_3`` -> ``x__build`` (the key of mutmut's function hashes)."""
    return mutant.removeprefix(dotted(module) + ".").rsplit("__mutmut_", 1)[0]


@dataclass
class ModuleScore:
    """What mutmut found for one module, with the equivalent mutants taken out."""

    module: str
    total: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    equivalent: int = 0
    not_killed: list[tuple[str, str]] = field(default_factory=list)
    """(mutant id, status) of every non-equivalent mutant no test detected."""
    entry_problems: list[str] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)

    @property
    def detected(self) -> int:
        return self.statuses["killed"] + self.statuses["timeout"] + self.statuses["crashed"]

    @property
    def score(self) -> float | None:
        denominator = self.total - self.equivalent
        return None if denominator <= 0 else 100.0 * self.detected / denominator


def score_module(module: str, equivalents: dict[str, Equivalent], mutants_dir: Path = MUTANTS_DIR) -> ModuleScore:
    """Read ``mutants/<module>.meta`` and score it."""
    result = ModuleScore(module)
    meta_path = mutants_dir / f"{module}.meta"
    if not meta_path.exists():
        result.entry_problems.append(f"no mutmut results for {module}: run tests/mutation/run.sh {module}")
        return result
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    result.hashes = dict(meta.get("hash_by_function_name", {}))
    codes: dict[str, int | None] = meta.get("exit_code_by_key", {})
    prefix = dotted(module) + "."
    for mutant, code in codes.items():
        result.total += 1
        status = _status(code)
        entry = equivalents.get(mutant)
        if entry is not None:
            current = result.hashes.get(_function_of(mutant, module), "")
            if status in ("killed", "timeout", "crashed"):
                result.entry_problems.append(f"equivalent.txt:{entry.line}: {mutant} is killed now; remove the entry")
            elif not current.startswith(entry.function_hash):
                result.entry_problems.append(
                    f"equivalent.txt:{entry.line}: the function of {mutant} changed (hash {current[:12]}); "
                    "re-check the mutant and update the entry"
                )
            else:
                result.equivalent += 1
                continue
        result.statuses[status] += 1
        if status not in ("killed", "timeout", "crashed"):
            result.not_killed.append((mutant, status))
    for mutant, entry in equivalents.items():
        belongs_here = mutant.startswith(prefix) and mutant.removeprefix(prefix).startswith(("x_", "xǁ"))
        if belongs_here and mutant not in codes:
            result.entry_problems.append(f"equivalent.txt:{entry.line}: {mutant} does not exist (any more)")
    return result


def _status(code: int | None) -> str:
    if code is None:
        return "not checked"
    for table in (KILLED_CODES, DETECTED_CODES, SURVIVED_CODES, NO_TEST_CODES):
        if code in table:
            return table[code]
    return "suspicious"


def print_scores(selected: list[str], min_score: float) -> int:
    """Print one line per module, then what is left to do; returns the exit code (1 below ``min_score``)."""
    equivalents, problems = read_equivalents()
    scores = [score_module(module, equivalents) for module in selected]
    width = max(len(module) for module in selected)
    header = f"{'module':<{width}}  total  killed  timeout  survived  no-tests  other  equiv   score"
    print(header)
    print("-" * len(header))
    failed = bool(problems)
    for score in scores:
        other = score.statuses["crashed"] + score.statuses["suspicious"] + score.statuses["not checked"]
        value = "   n/a" if score.score is None else f"{score.score:5.1f}%"
        counts = score.statuses
        print(
            f"{score.module:<{width}}  {score.total:5d}  {counts['killed']:6d}  {counts['timeout']:7d}"
            f"  {counts['survived']:8d}  {counts['no tests']:8d}  {other:5d}  {score.equivalent:5d}  {value}"
        )
        if score.score is None or score.score < min_score or score.entry_problems:
            failed = True
    for score in scores:
        if score.not_killed:
            print(f"\n{score.module}: not killed (kill each with a test, or list it in {EQUIVALENT_FILE.name}):")
            for mutant, status in score.not_killed:
                function_hash = score.hashes.get(_function_of(mutant, score.module), "?")[:12]
                print(f"  {status:<11} {mutant} {function_hash} <reason>")
        for problem in score.entry_problems:
            print(f"  {problem}")
    for problem in problems:
        print(problem)
    print(
        f"\nscore = killed / (total - equivalent); timeouts and crashes count as killed; target >= {min_score:g}%."
        "\nSee a mutant: python -m mutmut show <mutant id>"
    )
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("modules", help="print the listed modules, one a line")
    changed = sub.add_parser("changed", help="print the listed modules changed since BASE")
    changed.add_argument("base")
    globs = sub.add_parser("patterns", help="print mutmut name patterns of MODULEs")
    globs.add_argument("module", nargs="+")
    score = sub.add_parser("score", help="print the score of MODULEs from the last run")
    score.add_argument("module", nargs="+")
    score.add_argument("--min-score", type=float, default=DEFAULT_MIN_SCORE)
    args = parser.parse_args(argv)
    if args.command == "modules":
        print("\n".join(modules()))
    elif args.command == "changed":
        print("\n".join(changed_modules(args.base)))
    else:
        unknown = [module for module in args.module if module not in modules()]
        if unknown:
            print(f"not in [tool.mutmut] only_mutate of pyproject.toml: {', '.join(unknown)}", file=sys.stderr)
            return 2
        if args.command == "score":
            return print_scores(args.module, args.min_score)
        print("\n".join(pattern for module in args.module for pattern in patterns(module)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
