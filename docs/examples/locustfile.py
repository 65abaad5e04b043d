"""A plain Locust locustfile that runs a tritonload scenario's users.

    LOCUST_SKIP_MONKEY_PATCH=1 locust -f docs/examples/locustfile.py --headless -u 6 -r 6 -t 30s

Locust picks the user count, spawn rate and run time (and serves its web UI without --headless);
the scenario picks targets, payloads, patterns and recording. The run directory lands in reports/.
"""

import os

from loadtest.locust_plugin import scenario_users

globals().update(scenario_users(os.environ.get("TRITONLOAD_SCENARIO", "scenarios/sync.yaml")))
