"""Readiness and configuration flow, written once as a plain generator (sans-IO).

Owns the order of the calls a client makes before its first inference: server live and ready,
model ready (asking the server whether it knows the model at all when it is not), then the model
configuration, all under one overall deadline. The flow yields :class:`Step` objects and receives
:class:`Outcome` objects; :class:`FlowRun` turns steps into transport calls, and tiny sync and
asyncio loops in the fronts make them. Never does I/O and never sleeps itself.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytriton_client.exceptions import (
    PyTritonClientConnectionError,
    PyTritonClientError,
    PyTritonClientInferenceServerError,
    PyTritonClientModelUnavailableError,
    PyTritonClientTimeoutError,
)
from pytriton_client.model_config import TritonModelConfig, parse_model_config

if TYPE_CHECKING:
    from pytriton_client._core import ClientSettings
    from pytriton_client._transport import AsyncTransport, SyncTransport

FIRST_POLL_S = 0.05
MAX_POLL_S = 1.0
MIN_CALL_S = 0.05
"""Shortest deadline given to one call; a flow with less time left gives up instead of calling."""
# Errors that waiting cannot cure: raise at once instead of polling until the deadline.
_FATAL_KINDS = frozenset({"unauthorized", "invalid_input", "invalid_url", "closed"})


@dataclass(frozen=True, slots=True)
class Step:
    """One thing the driver must do: a call (``op``) bounded by ``timeout_s``, or ``"sleep"``."""

    op: str
    """``server_ready``, ``model_ready``, ``model_metadata``, ``repository_index``, ``model_config``, ``sleep``."""
    timeout_s: float


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a call gave back: a value, or the (already translated) client error."""

    value: Any = None
    error: PyTritonClientError | None = None


Flow = Generator[Step, Outcome, TritonModelConfig | None]


def _version_text(version: str | None) -> str:
    return version if version else "<latest>"


def _listed(index: Any, name: str, version: str | None) -> tuple[bool, list[str], list[str]]:
    """Whether ``index`` (repository index entries) lists the model/version; all names; its versions."""
    entries = index.get("models", []) if isinstance(index, dict) else (index or [])
    names = sorted({str(e.get("name", "")) for e in entries if e.get("name")})
    versions = sorted({str(e.get("version", "")) for e in entries if e.get("name") == name and e.get("version")})
    if name not in names:
        return False, names, versions
    return (not version or not versions or version in versions), names, versions


def unknown_model_error(
    url: str, name: str, version: str | None, index: Any
) -> PyTritonClientModelUnavailableError | None:
    """The error for a model the repository index does not list, or ``None`` when it is listed."""
    found, names, versions = _listed(index, name, version)
    if found:
        return None
    if name in names:
        return PyTritonClientModelUnavailableError(
            f"Model {name!r} has no version {version!r} on {url}; its versions: {', '.join(versions)}."
        )
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    served = ", ".join(names) if names else "(none)"
    return PyTritonClientModelUnavailableError(
        f"Model {name!r} is not served by {url}.{hint} Models it serves: {served}."
    )


def check_client_kind(config: TritonModelConfig, *, decoupled_client: bool, client_name: str) -> None:
    """Refuse a decoupled model in a coupled client and the reverse, naming the right client."""
    if config.decoupled and not decoupled_client:
        better = "AsyncioDecoupledModelClient" if client_name.startswith("Asyncio") else "DecoupledModelClient"
        raise PyTritonClientInferenceServerError(
            f"Model config is decoupled. Use {better} (with a grpc:// URL) instead of {client_name} "
            f"for model {config.model_name!r}."
        )
    if decoupled_client and not config.decoupled:
        better = "AsyncioModelClient" if client_name.startswith("Asyncio") else "ModelClient"
        raise PyTritonClientInferenceServerError(
            f"Model config is coupled. Use {better} instead of {client_name} for model {config.model_name!r}."
        )


def init_flow(
    url: str,
    model_name: str,
    model_version: str | None,
    timeout_s: float,
    clock: Callable[[], float],
    *,
    wait_model: bool = True,
    fetch_config: bool = True,
) -> Flow:
    """Wait for server (and model) readiness, then fetch the config; all within ``timeout_s``.

    Returns the parsed config when ``fetch_config``, else ``None``. Raises
    :class:`PyTritonClientTimeoutError` on expiry (:class:`PyTritonClientConnectionError` when the
    server was never reachable) and :class:`PyTritonClientModelUnavailableError` at once when the
    server says it does not know the model.
    """
    deadline = clock() + timeout_s
    poll_s = FIRST_POLL_S
    last_error: PyTritonClientError | None = None

    def remaining() -> float:
        return max(deadline - clock(), 0.0)

    def server_error() -> PyTritonClientError:
        if last_error is not None and last_error.kind == "connection":
            return PyTritonClientConnectionError(f"Server not reachable within {timeout_s:g} s. {last_error}")
        detail = f" Last error: {last_error}" if last_error is not None else ""
        return PyTritonClientTimeoutError(
            f"Waiting for server to be ready timed out after {timeout_s:g} s ({url}).{detail}"
        )

    while True:
        out = yield Step("server_ready", max(remaining(), MIN_CALL_S))
        if out.error is None and out.value:
            break
        if out.error is not None:
            if out.error.kind in _FATAL_KINDS:
                raise out.error
            if last_error is None or last_error.kind != "connection" or out.error.kind == "connection":
                last_error = out.error
        if remaining() <= MIN_CALL_S:
            raise server_error() from last_error
        yield Step("sleep", min(poll_s, remaining()))
        poll_s = min(poll_s * 2, MAX_POLL_S)

    if wait_model:
        probed = False
        poll_s = FIRST_POLL_S
        last_error = None
        while True:
            out = yield Step("model_ready", max(remaining(), MIN_CALL_S))
            if out.error is None and out.value:
                break
            if out.error is not None:
                if out.error.kind in _FATAL_KINDS:
                    raise out.error
                last_error = out.error
            elif not probed:
                probed = True
                meta = yield Step("model_metadata", max(remaining(), MIN_CALL_S))
                if meta.error is not None and meta.error.kind == "model_unavailable":
                    index = yield Step("repository_index", max(remaining(), MIN_CALL_S))
                    if index.error is None:
                        unknown = unknown_model_error(url, model_name, model_version, index.value)
                        if unknown is not None:
                            raise unknown
            if remaining() <= MIN_CALL_S:
                detail = f" Last error: {last_error}" if last_error is not None else ""
                raise PyTritonClientTimeoutError(
                    f"Waiting for model {model_name}/{_version_text(model_version)} to be ready timed out "
                    f"after {timeout_s:g} s ({url}).{detail}"
                ) from last_error
            yield Step("sleep", min(poll_s, remaining()))
            poll_s = min(poll_s * 2, MAX_POLL_S)

    if not fetch_config:
        return None
    out = yield Step("model_config", max(remaining(), MIN_CALL_S))
    if out.error is not None:
        raise out.error
    return parse_model_config(out.value, model_version)


class FlowRun:
    """Feeds a readiness flow's steps to a transport: fronts only make (or await) :attr:`call` and
    :meth:`send` its outcome until it is ``None``; then :attr:`config` holds the result.

    ``sleep`` is ``time.sleep`` or ``asyncio.sleep``; a transport's methods are plain or coroutines alike.
    """

    def __init__(
        self,
        flow: Flow,
        transport: SyncTransport | AsyncTransport,
        settings: ClientSettings,
        sleep: Callable[[float], Any],
    ) -> None:
        self._flow = flow
        self._transport = transport
        self._name = settings.model_name
        self._version = settings.model_version
        self._sleep = sleep
        self.config: TritonModelConfig | None = None
        self.call: Callable[[], Any] | None = None
        self.send(None)

    def send(self, outcome: Outcome | None) -> None:
        """Report what the last call gave (``None`` before the first) and get the next :attr:`call`."""
        try:
            step = next(self._flow) if outcome is None else self._flow.send(outcome)
        except StopIteration as stop:
            self.config, self.call = stop.value, None
            return
        timeout_s = step.timeout_s
        if step.op == "sleep":
            self.call = functools.partial(self._sleep, timeout_s)
        elif step.op in ("server_ready", "repository_index"):
            self.call = functools.partial(getattr(self._transport, step.op), timeout_s)
        else:
            self.call = functools.partial(getattr(self._transport, step.op), self._name, self._version, timeout_s)


__all__ = ["Flow", "FlowRun", "Outcome", "Step", "check_client_kind", "init_flow", "unknown_model_error"]
