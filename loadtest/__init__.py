"""tritonload's load-testing harness: scenarios, Locust users, HDR recording, run directories.

Importing this package tells Locust not to monkey-patch the standard library with gevent
(``LOCUST_SKIP_MONKEY_PATCH``), unless the process already decided otherwise: tritonload's users do
not need patching (tritonclient's HTTP client is gevent-native, blocking gRPC calls run in gevent's
native thread pool, the asyncio pattern runs a real event loop in a real thread), and ``grpc.aio``
cannot work in a patched process. A process that imported Locust before this package (``locust -f``)
keeps its choice; see ``loadtest.locust_plugin``.
"""

import os

os.environ.setdefault("LOCUST_SKIP_MONKEY_PATCH", "1")

__version__ = "0.1.0"
