"""The regression gate's run orchestration: repeated runs, interleaved A/B chunks, A/A calibration.

Modules:

- :mod:`loadtest.gate.runs`: the one place the gate starts a run (:func:`~loadtest.gate.runs.run_one`)
  and the repeat loop that leaves a run set (``tritonload run --repeat N``);
- :mod:`loadtest.gate.targets`: the ``ab`` TARGET grammar (``scenario``, ``embedded[:Model.key=value]``,
  URLs) and the scenario overrides that point a side at its server;
- :mod:`loadtest.gate.ab`: ``tritonload ab``, interleaved chunks of baseline and candidate, paired verdicts;
- :mod:`loadtest.gate.calibration`: ``tritonload calibrate``, an interleaved A/A that measures the noise
  floor and suggests tolerances (``calibration.json``).

The statistics live in :mod:`loadtest.report.compare`; the run engine in :mod:`loadtest.engine`. This
package never measures anything itself.
"""
