"""Capacity demo model: echoes INPUT as OUTPUT, holding its instance for ``latency_ms`` per request.

Unlike ``Sleep``, ``execute`` blocks: an instance serves one request at a time (no batching), so with
``count`` instances the model completes at most ``count / latency_ms`` requests per second and any
excess waits in Triton's scheduler queue.

To make that capacity exact (known in advance, whatever the machine's per-request overhead), the
model keeps a steady cadence in ``count`` *slots shared by all its instances*. A request claims the
free slot whose last completion lies within ``cadence_slack_ms`` (default 5) before its start (the
most recent such slot) and is answered ``latency_ms`` after that completion; the time spent between
two requests (a client's round trip, Triton's hand-over to the backend) is part of the slot instead
of being added to it. A request that finds no such slot takes a fresh one and is held the full
``latency_ms``. The slots are model-wide because Triton hands one user's consecutive requests to
different instances: with per-instance cadence a single sequential user would pay its round trip on
every request (50/s × ~0.94 at 20 ms); with shared slots it gets exactly 1 / ``latency_ms``.

The slots live in a small file in the model's own directory (``.cadence-slots``; removed with the
embedded server's work directory and, best effort, when the model is unloaded), read and written
under an ``fcntl`` lock by the instance processes. Times are ``CLOCK_MONOTONIC`` (``time.monotonic``
on Linux), which is system-wide, so they compare across processes. A slot holds the pid of the
stub process serving it, so a slot left busy by a killed process is free again.

``latency_ms`` and ``cadence_slack_ms`` come from the model config (request parameters of the same
names override them, for tests); the slack is capped at the latency, so a request is never answered
before it started. The wait is a timed sleep that wakes a little early, then a short yield-spin to
the deadline.
"""

import contextlib
import fcntl
import json
import os
import struct
import time

import triton_python_backend_utils as pb_utils

SPIN_S = 0.0005  # wake this early, then spin: a timed sleep alone oversleeps by ~0.1-0.2 ms here
SLOTS_FILE = ".cadence-slots"
SLOT = struct.Struct("<qd")  # owner pid (0 = free), last completion (CLOCK_MONOTONIC s; <0 = never)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class CadenceSlots:
    """``count`` cadence slots shared by every instance process of the model, in one locked file."""

    def __init__(self, path, count):
        self.path = path
        self.count = max(int(count), 1)
        self.pid = os.getpid()
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:  # the first instance to start lays out the slots: free, never used
            known = os.fstat(self.fd).st_size // SLOT.size
            for index in range(known, self.count):
                self._write(index, (0, -1.0))
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def _read(self):
        raw = os.pread(self.fd, SLOT.size * self.count, 0)
        slots = [SLOT.unpack_from(raw, i * SLOT.size) for i in range(len(raw) // SLOT.size)]
        slots += [(0, -1.0)] * (self.count - len(slots))
        return [list(slot) for slot in slots]

    def _write(self, index, slot):
        os.pwrite(self.fd, SLOT.pack(*slot), index * SLOT.size)

    def claim(self, latency_s, slack_s):
        """Claim a slot now; returns ``(slot index or None, due time)``."""
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            started = time.monotonic()
            slots = self._read()
            free = [i for i, (owner, _) in enumerate(slots) if owner == 0 or not _alive(owner)]
            if not free:  # more requests in execution than slots: should not happen, never wait for one
                return None, started + latency_s
            continuing = [i for i in free if 0.0 <= started - slots[i][1] <= slack_s]
            if continuing:
                index = max(continuing, key=lambda i: slots[i][1])
                due = slots[index][1] + latency_s
            else:  # a fresh slot: the one idle longest, so recently used slots stay for their users
                index = min(free, key=lambda i: slots[i][1])
                due = started + latency_s
            self._write(index, (self.pid, slots[index][1]))
            return index, due
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def release(self, index, done):
        """Free slot ``index`` with its completion time ``done``."""
        if index is None:
            return
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            self._write(index, (0, done))
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self, remove):
        os.close(self.fd)
        if remove:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
        self.latency_s = float(params.get("latency_ms", "20")) / 1000.0
        self.slack_s = float(params.get("cadence_slack_ms", "5")) / 1000.0
        count = sum(int(group.get("count", 1)) for group in config.get("instance_group", [])) or 1
        self.slots = CadenceSlots(os.path.join(args["model_repository"], SLOTS_FILE), count)

    def _hold_until(self, due):
        remaining = due - SPIN_S - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
        while time.monotonic() < due:
            time.sleep(0)

    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                data = pb_utils.get_input_tensor_by_name(request, "INPUT").as_numpy()
                params = json.loads(request.parameters() or "{}")
                latency_s = max(float(params.get("latency_ms", self.latency_s * 1000.0)) / 1000.0, 0.0)
                slack_s = max(float(params.get("cadence_slack_ms", self.slack_s * 1000.0)) / 1000.0, 0.0)
                index, due = self.slots.claim(latency_s, min(slack_s, latency_s))
                try:
                    self._hold_until(due)
                finally:
                    self.slots.release(index, due)
                responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT", data)]))
            except Exception as exc:
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(str(exc))))
        return responses

    def finalize(self):
        # Every instance is being unloaded: no request is in execution, so the file can go.
        self.slots.close(remove=True)
