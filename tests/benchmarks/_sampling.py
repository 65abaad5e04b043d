"""Client CPU per request, measured from outside the load generator, the same way for every tool.

Owns: running a load-generator command as a child process while sampling, a few times a second,
the CPU time of its process tree (user + system, from `/proc/<pid>/stat`) next to the server's count
of successful inferences; then choosing the steady part of the run from those samples and dividing
CPU by requests over it. The tool's own start-up (imports, connecting), warm-up ramp and tear-down
(writing reports) fall outside the steady span because no inferences complete then or because the
span is trimmed at both ends.

Never trusts a tool's own CPU or request figures (that is what makes two tools comparable), never
kills anything but the child it started, and needs no privileges. Linux only (`/proc`).
`steady_span` is pure and unit-tested in `tests/engine/test_perf_analyzer_parse.py`.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
RESCAN_EVERY = 5  # samples between searches for new child processes (a full /proc scan costs ~8 ms)


@dataclass(frozen=True)
class Sample:
    """One observation: wall time, the child tree's CPU seconds, the server's success count."""

    t_s: float
    cpu_s: float
    server_count: int


@dataclass(frozen=True)
class Span:
    """The steady part of a run, between two samples."""

    start: Sample
    end: Sample

    @property
    def duration_s(self) -> float:
        return self.end.t_s - self.start.t_s

    @property
    def requests(self) -> int:
        return self.end.server_count - self.start.server_count

    @property
    def cpu_s(self) -> float:
        return self.end.cpu_s - self.start.cpu_s

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_s * 1e6 / self.requests

    @property
    def throughput_rps(self) -> float:
        return self.requests / self.duration_s


class SpanError(ValueError):
    """The samples hold no usable steady span (no traffic, or too little of it)."""


def steady_span(samples: Sequence[Sample], trim_start_s: float, trim_end_s: float, min_s: float) -> Span:
    """The samples that bound the run's traffic after trimming its first and last seconds.

    Traffic starts at the last sample before the server count first rises and ends at the last
    sample at which it rose; the span starts at the first sample at least `trim_start_s` after the
    traffic started and ends at the last sample at least `trim_end_s` before it ended.

    Raises:
        SpanError: no traffic, or the trimmed span is shorter than `min_s`.
    """
    rises = [i for i in range(1, len(samples)) if samples[i].server_count > samples[i - 1].server_count]
    if not rises:
        raise SpanError("the server counted no successful inference while the tool ran")
    began_s = samples[rises[0] - 1].t_s
    ended_s = samples[rises[-1]].t_s
    inside = [s for s in samples if began_s + trim_start_s <= s.t_s <= ended_s - trim_end_s]
    if len(inside) < 2 or inside[-1].t_s - inside[0].t_s < min_s:
        raise SpanError(
            f"traffic lasted {ended_s - began_s:.1f} s; after trimming {trim_start_s:g} s at the start and "
            f"{trim_end_s:g} s at the end less than {min_s:g} s is left (measure longer)"
        )
    return Span(inside[0], inside[-1])


def _stat_fields(pid: str) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # Fields after the command name (which may hold spaces), starting at field 3 (state).
    return stat[stat.rindex(")") + 2 :].split()


def descendants(pid: int) -> set[int]:
    """`pid` and every live process below it, found by scanning every process's parent id (this
    kernel may not expose `/proc/<pid>/task/<tid>/children`)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(entry.name)) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, pending = set(), [pid]
    while pending:
        current = pending.pop()
        found.add(current)
        pending.extend(children.get(current, ()))
    return found


def tree_cpu_s(pids: set[int]) -> float:
    """User + system CPU seconds of `pids` (plus their reaped children); gone processes count 0."""
    total_ticks = 0
    for pid in pids:
        if (fields := _stat_fields(str(pid))) is not None:
            total_ticks += sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return total_ticks / CLOCK_TICKS_PER_S


@dataclass(frozen=True)
class SampledRun:
    """A finished child process: its exit code, output, samples and whole-lifetime CPU."""

    returncode: int
    stdout: str
    stderr: str
    samples: list[Sample]
    total_cpu_s: float
    server_count_delta: int


def run_sampled(
    command: Sequence[str],
    server_count: Callable[[], int],
    *,
    interval_s: float,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    log_dir: Path,
) -> SampledRun:
    """Run `command`, sampling CPU and the server count every `interval_s` until it exits.

    stdout and stderr go to files in `log_dir` (a pipe could fill up and stall the tool). On
    `timeout_s` the child (and only the child) is killed and `TimeoutError` raised.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_dir / "stdout.txt", log_dir / "stderr.txt"
    count_before = server_count()
    with out_path.open("w") as out, err_path.open("w") as err:
        process = subprocess.Popen(list(command), stdout=out, stderr=err, env=dict(env) if env else None, cwd=cwd)
        began = time.perf_counter()
        samples = [Sample(0.0, 0.0, count_before)]
        tree = {process.pid}
        while True:
            # wait4 (not Popen.poll) so the kernel hands back the child's whole-lifetime rusage.
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            now = time.perf_counter() - began
            if now > timeout_s:
                process.kill()
                os.wait4(process.pid, 0)
                process.returncode = -9
                raise TimeoutError(f"{command[0]} ran longer than {timeout_s:.0f} s and was killed")
            if len(samples) % RESCAN_EVERY == 0:
                tree = descendants(process.pid)
            samples.append(Sample(now, tree_cpu_s(tree), server_count()))
            time.sleep(interval_s)
    process.returncode = os.waitstatus_to_exitcode(status)
    count_after = server_count()
    samples.append(Sample(time.perf_counter() - began, usage.ru_utime + usage.ru_stime, count_after))
    return SampledRun(
        returncode=process.returncode,
        stdout=out_path.read_text(),
        stderr=err_path.read_text(),
        samples=samples,
        total_cpu_s=usage.ru_utime + usage.ru_stime,
        server_count_delta=count_after - count_before,
    )
