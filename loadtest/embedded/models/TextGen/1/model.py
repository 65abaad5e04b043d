"""TextGen demo model: returns each prompt followed by up to max_new_tokens of its ids reversed."""

import json

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = config.get("parameters", {})
        self.max_new_tokens = int(params.get("max_new_tokens", {}).get("string_value", "16"))

    def execute(self, requests):
        responses = []
        for request in requests:
            ids = pb_utils.get_input_tensor_by_name(request, "input_ids").as_numpy()
            generated = ids[:, ::-1][:, : self.max_new_tokens]
            out = np.concatenate([ids, generated], axis=1).astype(np.int64)
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT_1", out)]))
        return responses
