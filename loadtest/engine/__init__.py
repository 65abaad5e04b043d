"""The run engine: one run's lifecycle on Locust, users per traffic pattern, server polling.

Owns turning a resolved scenario into traffic and a run directory. Never parses YAML (that is
``loadtest.scenario``) and never renders reports (that is ``loadtest.report``).
"""
