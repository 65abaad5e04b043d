"""tritonload's load-testing harness: scenarios, Locust users, HDR recording, run directories."""

__version__ = "0.1.0"
