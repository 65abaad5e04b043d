"""ImageNet demo model: the dominant colour channel picks the label.

Red -> 0 "tench", green -> 1 "goldfish", blue -> 2 "great white shark"; an image with no channel
clearly above the others (black, grey, white) -> 3 "cat". Outputs the label (`class`, BYTES) and its
index (`OUTPUT_1`, INT32), one per image.
"""

import numpy as np
import triton_python_backend_utils as pb_utils

LABELS = (b"tench", b"goldfish", b"great white shark", b"cat")
MARGIN = 16.0


def classify(image):
    means = image.reshape(-1, 3).mean(axis=0)
    order = np.argsort(means)
    if means[order[-1]] - means[order[-2]] < MARGIN:
        return 3
    return int(order[-1])


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            images = pb_utils.get_input_tensor_by_name(request, "image").as_numpy()
            index = np.array([classify(image) for image in images], dtype=np.int32)
            labels = np.array([LABELS[i] for i in index], dtype=np.object_)
            responses.append(
                pb_utils.InferenceResponse([pb_utils.Tensor("class", labels), pb_utils.Tensor("OUTPUT_1", index)])
            )
        return responses
