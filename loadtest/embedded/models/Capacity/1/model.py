"""Capacity demo model: echoes INPUT as OUTPUT, holding its instance for ``latency_ms`` per request.

Unlike ``Sleep``, ``execute`` blocks: an instance serves one request at a time (no batching), so with
``count`` instances the model's capacity is exactly ``count / latency_ms`` and any excess waits in
Triton's scheduler queue. ``latency_ms`` comes from the model config (a request parameter of the same
name overrides it, for tests). The wait is a timed sleep that wakes a little early, then a short
yield-spin to the deadline, so the service time is not stretched by the sleep's overshoot.
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

    def _hold(self, latency_s, started):
        due = started + latency_s
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
                latency_s = float(params["latency_ms"]) / 1000.0 if "latency_ms" in params else self.latency_s
                self._hold(max(latency_s, 0.0), started)
                responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT", data)]))
            except Exception as exc:
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(str(exc))))
        return responses
