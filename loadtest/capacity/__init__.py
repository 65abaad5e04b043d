"""Capacity planning: sweeps measured to stability, the highest level that meets the SLOs, and where the time goes.

``attribution`` reads each step's server-side record (Triton statistics delta, Prometheus metrics)
and names the resource that saturated first.
"""
