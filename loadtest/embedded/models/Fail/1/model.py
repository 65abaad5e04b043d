"""Fail demo model: echoes INPUT, failing a fraction ``failure_rate`` of requests.

The fraction is exact and deterministic (an accumulator, not a coin): with 0.25 every fourth request
fails. A request parameter ``failure_rate`` overrides the config value for that request.
"""

import json

import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = config.get("parameters", {})
        self.failure_rate = float(params.get("failure_rate", {}).get("string_value", "0.5"))
        self.accumulator = 0.0

    def execute(self, requests):
        responses = []
        for request in requests:
            params = json.loads(request.parameters() or "{}")
            rate = min(max(float(params.get("failure_rate", self.failure_rate)), 0.0), 1.0)
            self.accumulator += rate
            if self.accumulator >= 1.0 - 1e-9:
                self.accumulator -= 1.0
                error = pb_utils.TritonError("Fail model: injected failure")
                responses.append(pb_utils.InferenceResponse(error=error))
                continue
            data = pb_utils.get_input_tensor_by_name(request, "INPUT").as_numpy()
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT", data)]))
        return responses
