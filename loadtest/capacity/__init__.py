"""Capacity planning: sweeps measured to stability, and the highest load that meets the SLOs.

Pure parts (table-tested without a server): ``stability`` (perf_analyzer's rule), ``search``
(bracketing, bisection, confirmation, the knee, instances needed), ``options`` (settings and their
checks), ``steps`` (a step from the run's intervals) and ``server_delta`` (a step's server statistics).
The reports (``report.txt``, the console, Markdown, HTML) are ``loadtest.report.capacity``'s, the same
that ``tritonload report`` renders. The live part: ``driver`` (the step controller inside one run session) and
``run`` (a whole sweep or search, its files and exit code). The Python API is ``loadtest.sweep`` and
``loadtest.capacity`` (``loadtest.capacity.api``).
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallablePackage(types.ModuleType):
    """``loadtest.capacity`` is both this package and the API function of the same name: once the package
    is imported, Python binds ``loadtest.capacity`` to it, so calling the package runs the search."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from loadtest.capacity.api import capacity

        return capacity(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
