"""PyTriton-compatible clients for NVIDIA Triton Inference Server (work in progress)."""
