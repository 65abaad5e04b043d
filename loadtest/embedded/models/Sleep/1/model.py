"""Sleep demo model: echoes INPUT as OUTPUT after a configurable latency.

The latency comes from request parameters, else from the model config parameters:
``latency_ms`` (the value for ``fixed``, the centre for ``uniform``, the median for ``lognormal``),
``latency_distribution`` (``fixed`` | ``uniform`` | ``lognormal``), ``latency_spread_ms`` (half-width
for ``uniform``), ``latency_sigma`` (shape for ``lognormal``); ``seed`` (config only) seeds the draws.
``execute`` only schedules the response; one timer thread sends each at its due time (a timed wait,
then a short spin for precision), so concurrent requests wait in parallel and the latency a client
sees is the configured one plus transport.
"""

import heapq
import itertools
import json
import math
import threading
import time

import numpy as np
import triton_python_backend_utils as pb_utils

KEYS = ("latency_ms", "latency_distribution", "latency_spread_ms", "latency_sigma")
SPIN_S = 0.0005  # wake this early, then yield-spin: a timed wait alone oversleeps by ~0.2 ms here


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
        self.defaults = {key: params[key] for key in KEYS if key in params}
        self.rng = np.random.default_rng(int(params.get("seed", "0")))
        self.lock = threading.Condition()
        self.pending = []
        self.counter = itertools.count()
        self.running = True
        self.timer = threading.Thread(target=self._run, daemon=True)
        self.timer.start()

    def _latency_s(self, params):
        merged = {**self.defaults, **{k: params[k] for k in KEYS if k in params}}
        centre_ms = float(merged.get("latency_ms", 10.0))
        kind = str(merged.get("latency_distribution", "fixed"))
        if kind == "uniform":
            spread = float(merged.get("latency_spread_ms", 0.0))
            value_ms = self.rng.uniform(centre_ms - spread, centre_ms + spread)
        elif kind == "lognormal":
            sigma = float(merged.get("latency_sigma", 0.5))
            value_ms = centre_ms * math.exp(self.rng.normal(0.0, sigma))
        elif kind == "fixed":
            value_ms = centre_ms
        else:
            raise ValueError(f"unknown latency_distribution {kind!r}; use fixed, uniform or lognormal")
        return max(value_ms, 0.0) / 1000.0

    def execute(self, requests):
        now = time.perf_counter()
        for request in requests:
            sender = request.get_response_sender()
            try:
                data = pb_utils.get_input_tensor_by_name(request, "INPUT").as_numpy()
                delay_s = self._latency_s(json.loads(request.parameters() or "{}"))
                response = pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT", data)])
            except Exception as exc:
                response, delay_s = pb_utils.InferenceResponse(error=pb_utils.TritonError(str(exc))), 0.0
            with self.lock:
                heapq.heappush(self.pending, (now + delay_s, next(self.counter), sender, response))
                self.lock.notify()

    def _run(self):
        final = pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL
        while True:
            with self.lock:
                while self.running and (not self.pending or self.pending[0][0] - SPIN_S > time.perf_counter()):
                    timeout = self.pending[0][0] - SPIN_S - time.perf_counter() if self.pending else None
                    self.lock.wait(timeout)
                if not self.running and not self.pending:
                    return
                due, _, sender, response = heapq.heappop(self.pending)
            while time.perf_counter() < due:
                time.sleep(0)  # stay awake without holding the GIL against execute()
            sender.send(response, flags=final)

    def finalize(self):
        with self.lock:
            self.running = False
            self.lock.notify()
        self.timer.join(timeout=5)
