"""Capacity demo model: echoes INPUT as OUTPUT, holding its instance for ``latency_ms`` per request.

Unlike ``Sleep``, ``execute`` blocks: an instance serves one request at a time (no batching), so with
``count`` instances the model completes at most ``count / latency_ms`` requests per second and any
excess waits in Triton's scheduler queue.

To make that capacity exact (known in advance, whatever the machine's per-request overhead), a busy
instance keeps a steady cadence: a request that starts within ``cadence_slack_ms`` (default 5) of the
instance's previous completion is answered ``latency_ms`` after that completion, so the time spent
between two requests (Triton's hand-over to the backend, a client's round trip) is part of the slot
instead of being added to it. A request that finds the instance idle longer than that is held the
full ``latency_ms``. ``latency_ms`` and ``cadence_slack_ms`` come from the model config (request
parameters of the same names override them, for tests). The wait is a timed sleep that wakes a little
early, then a short yield-spin to the deadline.
"""

import json
import time

import triton_python_backend_utils as pb_utils

SPIN_S = 0.0005  # wake this early, then spin: a timed sleep alone oversleeps by ~0.1-0.2 ms here


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
        self.latency_s = float(params.get("latency_ms", "20")) / 1000.0
        self.slack_s = float(params.get("cadence_slack_ms", "5")) / 1000.0
        self.last_done = None  # perf_counter of this instance's previous completion

    def _due(self, started, latency_s, slack_s):
        last = self.last_done
        if last is not None and 0.0 <= started - last <= slack_s:
            return last + latency_s
        return started + latency_s

    def _hold_until(self, due):
        remaining = due - SPIN_S - time.perf_counter()
        if remaining > 0:
            time.sleep(remaining)
        while time.perf_counter() < due:
            time.sleep(0)

    def execute(self, requests):
        responses = []
        for request in requests:
            started = time.perf_counter()
            try:
                data = pb_utils.get_input_tensor_by_name(request, "INPUT").as_numpy()
                params = json.loads(request.parameters() or "{}")
                latency_s = float(params.get("latency_ms", self.latency_s * 1000.0)) / 1000.0
                slack_s = float(params.get("cadence_slack_ms", self.slack_s * 1000.0)) / 1000.0
                due = self._due(started, max(latency_s, 0.0), max(slack_s, 0.0))
                self._hold_until(due)
                self.last_done = due
                responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT", data)]))
            except Exception as exc:
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(str(exc))))
        return responses
