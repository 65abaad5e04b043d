"""Echo test model: returns `text` unchanged, the request parameters as JSON and the request id.

Headers forwarded by the server (``--http-header-forward-pattern``/``--grpc-header-forward-pattern``)
appear among the parameters.
"""

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            text = pb_utils.get_input_tensor_by_name(request, "text").as_numpy()
            batch = text.shape[0]
            params = np.array([[(request.parameters() or "{}").encode("utf-8")]] * batch, dtype=np.object_)
            request_id = np.array([[request.request_id().encode("utf-8")]] * batch, dtype=np.object_)
            responses.append(
                pb_utils.InferenceResponse(
                    [
                        pb_utils.Tensor("text", text),
                        pb_utils.Tensor("parameters", params),
                        pb_utils.Tensor("request_id", request_id),
                    ]
                )
            )
        return responses
