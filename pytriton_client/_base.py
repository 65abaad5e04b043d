"""The pure base of every model client front: settings, state, checks, request plans and records.

Owns what ``ModelClient``, ``DecoupledModelClient``, ``AsyncioModelClient`` and
``AsyncioDecoupledModelClient`` share, written once: the constructor and its checks, the client's
state (configuration, request planner, request ids, closed flag), ``from_existing_client``, the
order of checks before a request and turning inputs into an ``InferRequest``, the readiness flow
each wait runs, and the observer's records (:class:`Observation`). The fronts add only sending and
waiting: blocking in ``_sync``/``_decoupled``, awaiting in ``_asyncio``.

Never does I/O, never sleeps or awaits, never imports a transport module.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from typing import Any, ClassVar, TypeVar

from pytriton_client._core import ClientSettings, check_parameters, make_settings, merge_headers
from pytriton_client._errors import translate
from pytriton_client._flow import Flow, check_client_kind, init_flow
from pytriton_client._inputs import RequestPlanner, check_convention, outputs_bytes, payload_bytes
from pytriton_client._transport import InferRequest, Outputs
from pytriton_client.exceptions import (
    PyTritonClientClosedError,
    PyTritonClientError,
    PyTritonClientModelDoesntSupportBatchingError,
    PyTritonClientValueError,
)
from pytriton_client.model_config import TritonModelConfig
from pytriton_client.observer import RequestObserver, RequestRecord

_Client = TypeVar("_Client", bound="ClientBase")


class ClientBase:
    """What every model client front shares; see the fronts for the public documentation."""

    _client_name: ClassVar[str] = "ModelClient"
    _decoupled: ClassVar[bool] = False
    """Serves decoupled (streaming) models, and only those."""
    _grpc_only: ClassVar[bool] = False

    _settings: ClientSettings
    _closed: bool
    _lazy_init: bool
    _config: TritonModelConfig | None
    _planner: RequestPlanner | None
    _ids: Iterator[int]

    def __init__(
        self,
        url: str,
        model_name: str,
        model_version: str | None = None,
        *,
        lazy_init: bool = True,
        init_timeout_s: float | None = None,
        inference_timeout_s: float | None = None,
        model_config: TritonModelConfig | None = None,
        ensure_model_is_ready: bool = True,
        access_token: str | None = None,
        tls_ca_file: str | os.PathLike[str] | None = None,
        tls_cert_file: str | os.PathLike[str] | None = None,
        tls_key_file: str | os.PathLike[str] | None = None,
        tls_verify: bool = True,
        observer: RequestObserver | None = None,
    ) -> None:
        settings = make_settings(
            url,
            model_name,
            model_version,
            init_timeout_s=init_timeout_s,
            inference_timeout_s=inference_timeout_s,
            access_token=access_token,
            tls_ca_file=tls_ca_file,
            tls_cert_file=tls_cert_file,
            tls_key_file=tls_key_file,
            tls_verify=tls_verify,
            observer=observer,
        )
        self._setup(settings, model_config, ensure_model_is_ready)
        self._lazy_init = lazy_init
        self._constructed()

    def _setup(self, settings: ClientSettings, config: TritonModelConfig | None, ensure_ready: bool) -> None:
        """Take ``settings`` (checked) and a known ``config``; fronts extend this to open their transport."""
        if self._grpc_only and settings.url.protocol != "grpc":
            raise PyTritonClientValueError(
                f"{self._client_name} is only supported for grpc protocol; got {settings.url.with_scheme!r}. "
                "Use a grpc:// (or grpcs://) URL, e.g. 'grpc://localhost:8001'."
            )
        self._settings = settings
        self._closed = False
        self._lazy_init = True
        self._config = config
        self._planner = None
        if config is not None and not ensure_ready:
            self._use_config(config)
        self._ids = itertools.count()

    def _constructed(self) -> None:
        """Runs at the end of the public constructor (sync fronts initialise here when not lazy)."""

    @classmethod
    def _from_settings(cls: type[_Client], settings: ClientSettings, config: TritonModelConfig | None) -> _Client:
        """A client of this class with checked ``settings``; a known ``config`` skips every readiness call."""
        client = cls.__new__(cls)
        client._setup(settings, config, ensure_ready=config is None)
        return client

    @classmethod
    def from_existing_client(cls: type[_Client], existing_client: ClientBase) -> _Client:
        """A new client of this class with the settings (URL scheme, token, timeouts, TLS, observer) and
        cached config of ``existing_client`` (any ``pytriton_client`` model client), and its own
        connection. No readiness or config calls are made when the source has a config. Asyncio
        classes: call inside a running event loop.
        """
        if not isinstance(existing_client, ClientBase):
            raise PyTritonClientValueError(
                f"from_existing_client needs a pytriton_client client, got {type(existing_client).__name__}."
            )
        known = existing_client._config if existing_client._planner is not None else None
        return cls._from_settings(existing_client._settings, known)

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("ready" if self._planner else "not initialised")
        settings = self._settings
        return f"{type(self).__name__}(url={settings.url.with_scheme!r}, model={settings.model_name!r}, {state})"

    # -- state ---------------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise PyTritonClientClosedError(f"{self._client_name} is closed")

    def _mark_closed(self) -> bool:
        """Mark the client closed; ``False`` when it already was (``close()`` is idempotent)."""
        if self._closed:
            return False
        self._closed = True
        return True

    def _use_config(self, config: TritonModelConfig) -> RequestPlanner:
        check_client_kind(config, decoupled_client=self._decoupled, client_name=self._client_name)
        self._config = config
        self._planner = RequestPlanner(config)
        return self._planner

    def _cached_config(self) -> TritonModelConfig:
        assert self._config is not None, "initialised clients have a config"
        return self._config

    # -- readiness -----------------------------------------------------------------------------------
    def _flow(self, timeout_s: float, *, wait_model: bool = True, fetch_config: bool = True) -> Flow:
        """The readiness flow of this client's model within ``timeout_s`` (``_flow`` documents the steps)."""
        self._check_open()
        s = self._settings
        return init_flow(
            s.url.with_scheme,
            s.model_name,
            s.model_version,
            timeout_s,
            time.monotonic,
            wait_model=wait_model,
            fetch_config=fetch_config,
        )

    def _load_checked(self, config: str | None, files: dict[str, bytes] | None) -> None:
        self._check_open()
        if files is not None and config is None:
            raise PyTritonClientValueError("load_model: files need a config (model config JSON text).")

    # -- requests ------------------------------------------------------------------------------------
    def _check_call(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], parameters: Any, headers: Any
    ) -> RequestPlanner | None:
        """Checks that need no configuration; returns the planner when the client is initialised."""
        if self._closed:
            raise PyTritonClientClosedError(f"{self._client_name} is closed")
        if (not args and not kwargs) or (args and kwargs):
            check_convention(args, kwargs)
        if parameters is not None:
            check_parameters(parameters, "Parameter")
        if headers is not None:
            check_parameters(headers, "Header")
        return self._planner

    def _plan(
        self,
        planner: RequestPlanner,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        parameters: dict[str, str | int | bool] | None,
        headers: dict[str, Any] | None,
        sample: bool,
    ) -> InferRequest:
        """Inputs checked against the configuration, as the request to send (takes the next request id)."""
        if not sample and not planner.batching:
            raise PyTritonClientModelDoesntSupportBatchingError(
                f"Model {planner.model_name} doesn't support batching - use infer_sample method instead"
            )
        inputs = planner.prepare(args, kwargs, sample=sample)
        settings = self._settings
        return InferRequest(
            settings.model_name,
            settings.model_version,
            inputs,
            str(next(self._ids)),
            parameters,
            merge_headers(settings.auth_headers, headers),
        )

    def _observe(self, sample: bool) -> Observation:
        """The observation of one call (a do-nothing one without observer); starts its clock."""
        observer = self._settings.observer
        if observer is None:
            return UNOBSERVED
        return Observation(observer, self._settings, "infer_sample" if sample else "infer_batch")

    def _stream_error(self, error: BaseException) -> PyTritonClientError:
        """A stream's raw error as the client error to raise."""
        settings = self._settings
        action = f"streaming inference on model {settings.model_name!r}"
        return translate(error, settings.url.with_scheme, action, settings.inference_timeout_s)


class Observation:
    """Times one request (or stream) and tells the observer about it; the front ends each call with
    exactly one of :meth:`done`, :meth:`failed` or :meth:`finished`.

    Created when the call begins; :meth:`sent` restarts the clock just before sending. A call that
    fails before anything is sent is reported only for client errors (never for interrupts).
    """

    __slots__ = ("_method", "_observer", "_settings", "arrivals", "bytes_sent", "received", "start_ns")

    def __init__(self, observer: RequestObserver, settings: ClientSettings, method: str) -> None:
        self._observer = observer
        self._settings = settings
        self._method = method
        self.bytes_sent: int | None = None
        self.received: int | None = None
        self.arrivals: list[int] = []
        self.start_ns = time.perf_counter_ns()

    def sent(self, request: InferRequest, *, stream: bool = False) -> None:
        """The request is about to be sent (streams count received bytes from here)."""
        self.bytes_sent = payload_bytes(request.inputs)
        if stream:
            self.received = 0
        self.start_ns = time.perf_counter_ns()

    def response(self, outputs: Outputs) -> None:
        """A streamed response with data arrived."""
        self.arrivals.append(time.perf_counter_ns())
        self.received = (self.received or 0) + outputs_bytes(outputs)

    def done(self, outputs: Outputs) -> Outputs:
        """The request succeeded with ``outputs``; returns them."""
        end_ns = time.perf_counter_ns()
        self.received = outputs_bytes(outputs)
        self._report(None, end_ns)
        return outputs

    def failed(self, error: BaseException) -> None:
        """The call raised ``error`` (before or after sending)."""
        if self.bytes_sent is not None or isinstance(error, PyTritonClientError):
            self._report(error, time.perf_counter_ns())

    def finished(self, error: BaseException | None = None, *, cancelled: bool = False) -> None:
        """A stream ended: completed, failed with ``error``, or ``cancelled`` by the caller."""
        self._report(error, time.perf_counter_ns(), cancelled)

    def _report(self, error: BaseException | None, end_ns: int, cancelled: bool = False) -> None:
        settings = self._settings
        self._observer(
            RequestRecord(
                method=self._method,
                model_name=settings.model_name,
                model_version=settings.model_version,
                protocol=settings.url.protocol,
                start_ns=self.start_ns,
                end_ns=end_ns,
                error=error,
                bytes_sent=self.bytes_sent,
                bytes_received=self.received,
                response_ns=tuple(self.arrivals),
                cancelled=cancelled,
            )
        )


class _Unobserved(Observation):
    """The observation of a client without observer: does nothing, costs a method call."""

    __slots__ = ()

    def __init__(self) -> None:
        pass

    def sent(self, request: InferRequest, *, stream: bool = False) -> None:
        pass

    def response(self, outputs: Outputs) -> None:
        pass

    def done(self, outputs: Outputs) -> Outputs:
        return outputs

    def failed(self, error: BaseException) -> None:
        pass

    def finished(self, error: BaseException | None = None, *, cancelled: bool = False) -> None:
        pass


UNOBSERVED: Observation = _Unobserved()

__all__ = ["UNOBSERVED", "ClientBase", "Observation"]
