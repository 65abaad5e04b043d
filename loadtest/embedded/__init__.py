"""The embedded Triton Inference Server: a real server with demo models, no GPU or Docker needed.

Needs the ``embedded`` extra (``nvidia-pytriton``, whose wheel ships the ``tritonserver`` binary).
"""

from loadtest.embedded._dist import EmbeddedUnavailableError
from loadtest.embedded.server import DEMO_MODELS, EmbeddedServerError, EmbeddedTriton, free_port

__all__ = ["DEMO_MODELS", "EmbeddedServerError", "EmbeddedTriton", "EmbeddedUnavailableError", "free_port"]
