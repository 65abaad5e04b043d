"""Capacity planning: sweeps measured to stability, and the highest load that meets the SLOs.

Pure parts (table-tested without a server): ``stability`` (perf_analyzer's rule), ``search``
(bracketing, bisection, confirmation, the knee, instances needed), ``options`` (settings and their
checks), ``steps`` (a step from the run's intervals), ``server_delta`` (a step's server statistics) and
``text`` (the text report). The live part: ``driver`` (the step controller inside one run session) and
``run`` (a whole sweep or search, its files and exit code). The Python API is ``loadtest.sweep`` and
``loadtest.capacity`` (``loadtest.capacity.api``).
"""
