"""streaming_bot demo model (decoupled).

For each prompt it streams ``prompt + " " + CONTINUATION`` word by word: response k holds the first
k words, so each response is longer than the one before; then a final flag with no data.
Request parameters (all optional): ``token_delay_ms`` (pause before each response; default from
the model config), ``tokens`` (number of generated words; the continuation repeats as needed),
``fail_after`` (send an error instead of response number fail_after + 1). A cancelled request stops
streaming at the next word.
"""

import json
import re
import threading
import time

import numpy as np
import triton_python_backend_utils as pb_utils

CONTINUATION = 'the question, "What is the best way to get rid of the problem?"\n'
WORD = re.compile(r"\S+\s*")


def _words(prompt, tokens):
    generated = WORD.findall(CONTINUATION)
    if tokens is not None:
        generated = [generated[i % len(generated)] for i in range(max(tokens, 0))]
    return WORD.findall(prompt.rstrip() + " ") + generated


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = config.get("parameters", {})
        self.default_delay_ms = float(params.get("token_delay_ms", {}).get("string_value", "0"))
        self.logger = pb_utils.Logger

    def execute(self, requests):
        for request in requests:
            prompts = pb_utils.get_input_tensor_by_name(request, "inputs").as_numpy()
            params = json.loads(request.parameters() or "{}")
            thread = threading.Thread(
                target=self._stream, args=(request.get_response_sender(), prompts, params), daemon=True
            )
            thread.start()

    def _stream(self, sender, prompts, params):
        flags = pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL
        try:
            delay_s = float(params.get("token_delay_ms", self.default_delay_ms)) / 1000.0
            tokens = int(params["tokens"]) if "tokens" in params else None
            fail_after = int(params["fail_after"]) if "fail_after" in params else None
            texts = [p.decode("utf-8", errors="replace") for p in prompts.reshape(-1)]
            per_prompt = [_words(text, tokens) for text in texts]
            count = max(len(words) for words in per_prompt)
            for k in range(1, count + 1):
                if sender.is_cancelled():
                    self.logger.log_info(f"streaming_bot: cancelled after {k - 1} of {count} responses")
                    return
                if fail_after is not None and k > fail_after:
                    error = pb_utils.TritonError(f"streaming_bot: failing after {fail_after} responses")
                    sender.send(pb_utils.InferenceResponse(error=error), flags=flags)
                    return
                if delay_s > 0:
                    time.sleep(delay_s)
                grown = ["".join(words[:k]).encode("utf-8") for words in per_prompt]
                out = np.array(grown, dtype=np.object_).reshape(prompts.shape)
                sender.send(pb_utils.InferenceResponse([pb_utils.Tensor("response", out)]))
            sender.send(flags=flags)
        except Exception as exc:  # report to the client instead of leaving the stream open
            sender.send(pb_utils.InferenceResponse(error=pb_utils.TritonError(str(exc))), flags=flags)
