"""Warning categories of the reference API, kept so code that filters them still imports.

Owns the warning classes only. ``pytriton_client`` supports deadlines on every call, so it never
emits :class:`NotSupportedTimeoutWarning`; the class exists for ``warnings.filterwarnings`` users.
"""

from __future__ import annotations


class PyTritonWarning(UserWarning):
    """Base class of ``pytriton_client`` warnings."""


class NotSupportedTimeoutWarning(PyTritonWarning):
    """Kept for compatibility; never emitted (every call carries its deadline)."""


__all__ = ["NotSupportedTimeoutWarning", "PyTritonWarning"]
