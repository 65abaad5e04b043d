"""Exit codes of the ``tritonload`` command, in one place (documented in docs/cli.md)."""

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of ``tritonload``."""

    OK = 0
    """Everything ran and every check passed."""
    RUNTIME_ERROR = 1
    """The run failed: server unreachable or died, access refused (token, TLS), disk full, an unexpected error."""
    USAGE = 2
    """Invalid scenario, invalid command-line usage or a missing optional dependency."""
    SLO_BREACHED = 3
    """The run completed but at least one SLO was breached."""
    REGRESSION = 4
    """``compare`` found a regression beyond tolerance."""
    NOT_COMPARABLE = 5
    """``compare`` was given runs that cannot be compared (or an unreadable run directory)."""
    INTERRUPTED = 130
    """Interrupted by Ctrl-C (SIGINT); what was measured is kept."""
