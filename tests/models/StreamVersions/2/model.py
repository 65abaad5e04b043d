"""StreamVersions test model (decoupled): `count` responses, each with the model version and request parameters."""

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        self.version = str(args["model_version"]).encode("utf-8")

    def execute(self, requests):
        for request in requests:
            sender = request.get_response_sender()
            count = int(pb_utils.get_input_tensor_by_name(request, "count").as_numpy().reshape(-1)[0])
            params = (request.parameters() or "{}").encode("utf-8")
            for _ in range(count):
                outputs = [
                    pb_utils.Tensor("version", np.array([self.version], dtype=np.object_)),
                    pb_utils.Tensor("parameters", np.array([params], dtype=np.object_)),
                ]
                sender.send(pb_utils.InferenceResponse(outputs))
            sender.send(flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
