"""tritonload's load-testing harness: scenarios, Locust users, HDR recording, run directories.

The Python face is :func:`run_scenario` (what ``tritonload run`` does) and :func:`load_run` (a
finished run directory), see ``loadtest.api``; :func:`sweep` and :func:`capacity` (what ``tritonload
sweep`` / ``capacity`` do), see ``loadtest.capacity.api``.

Importing this package tells Locust not to monkey-patch the standard library with gevent
(``LOCUST_SKIP_MONKEY_PATCH``), unless the process already decided otherwise: tritonload's users do
not need patching (tritonclient's HTTP client is gevent-native, blocking gRPC calls run in gevent's
native thread pool, the asyncio patterns run a real event loop in a real thread), and ``grpc.aio``
cannot work in a patched process. A process that imported Locust before this package (``locust -f``)
keeps its choice; see ``loadtest.locust_plugin``.
"""

import os
import sys

os.environ.setdefault("LOCUST_SKIP_MONKEY_PATCH", "1")

__version__ = "0.1.0"

_API = (
    "ModelMismatchError",
    "RunError",
    "RunResult",
    "ScenarioError",
    "ServerUnreachableError",
    "load_run",
    "run_scenario",
)
_CAPACITY_API = ("SweepOptionsError", "SweepResult", "capacity", "sweep")


def __getattr__(name: str) -> object:
    # The API pulls in Locust and gevent; ``tritonload validate`` and ``loadtest.scenario`` do not need them.
    if name in _API:
        from loadtest import api

        return getattr(api, name)
    if name in _CAPACITY_API:
        from loadtest.capacity import api as capacity_api

        # ``capacity`` is also the name of the subpackage, which is callable (it runs the search).
        return sys.modules["loadtest.capacity"] if name == "capacity" else getattr(capacity_api, name)
    raise AttributeError(f"module 'loadtest' has no attribute {name!r}")


__all__ = [
    "ModelMismatchError",
    "RunError",
    "RunResult",
    "ScenarioError",
    "ServerUnreachableError",
    "SweepOptionsError",
    "SweepResult",
    "__version__",
    "capacity",
    "load_run",
    "run_scenario",
    "sweep",
]
