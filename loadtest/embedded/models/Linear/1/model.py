"""Linear demo model: OUTPUT_1 = INPUT_1 @ WEIGHTS + BIAS, batched, FP32."""

import numpy as np
import triton_python_backend_utils as pb_utils

WEIGHTS = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], dtype=np.float32)
BIAS = np.array([0.1, 0.2, 0.3], dtype=np.float32)


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "INPUT_1").as_numpy()
            y = (x @ WEIGHTS + BIAS).astype(np.float32)
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT_1", y)]))
        return responses
