"""Import Locust without gevent's monkey-patching of the standard library.

tritonload's users never rely on patched sockets or threads: tritonclient's HTTP client is
gevent-native, blocking gRPC calls run in gevent's native thread pool, and the asyncio pattern runs
a real event loop in a real thread. Patching would break the last one (``grpc.aio`` cannot run in a
patched process). Import this module before anything imports ``locust``.
"""

import os

os.environ.setdefault("LOCUST_SKIP_MONKEY_PATCH", "1")

import locust  # noqa: F401 - the import above must come first
