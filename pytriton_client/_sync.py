"""Synchronous front: ``ModelClient`` (``DecoupledModelClient`` builds on it in ``_decoupled``).

Owns the blocking calls: running the readiness flow (``_flow``) with ``time.sleep``, sending requests
through a sync transport, and telling the observer. Everything that does no I/O lives in the core
(``_core``, ``_inputs``, ``_flow``). Never imports a transport at module import: ``_http``/``_grpc``
are imported when the first client of that protocol is created.
"""

from __future__ import annotations

import itertools
import os
import time
from types import TracebackType
from typing import Any

import numpy as np

from pytriton_client._core import ClientSettings, check_parameters, debatch, make_settings, merge_headers
from pytriton_client._flow import Flow, Outcome, check_client_kind, init_flow
from pytriton_client._inputs import PreparedInput, RequestPlanner, check_convention, outputs_bytes, payload_bytes
from pytriton_client.exceptions import (
    PyTritonClientClosedError,
    PyTritonClientError,
    PyTritonClientModelDoesntSupportBatchingError,
    PyTritonClientValueError,
)
from pytriton_client.model_config import TritonModelConfig
from pytriton_client.observer import RequestObserver, RequestRecord


def make_sync_transport(settings: ClientSettings) -> Any:
    """The sync transport for the URL's protocol (imports it on first use)."""
    if settings.url.protocol == "grpc":
        from pytriton_client._grpc import SyncGrpcTransport

        return SyncGrpcTransport(settings)
    from pytriton_client._http import SyncHttpTransport

    return SyncHttpTransport(settings)


def run_flow(flow: Flow, transport: Any, settings: ClientSettings) -> TritonModelConfig | None:
    """Drive a readiness/config flow with blocking calls."""
    name, version = settings.model_name, settings.model_version
    try:
        step = next(flow)
        while True:
            if step.op == "sleep":
                time.sleep(step.timeout_s)
                outcome = Outcome()
            else:
                try:
                    if step.op == "server_ready":
                        value = transport.server_ready(step.timeout_s)
                    elif step.op == "repository_index":
                        value = transport.repository_index(step.timeout_s)
                    else:
                        value = getattr(transport, step.op)(name, version, step.timeout_s)
                    outcome = Outcome(value=value)
                except PyTritonClientError as error:
                    outcome = Outcome(error=error)
            step = flow.send(outcome)
    except StopIteration as stop:
        return stop.value


class ModelClient:
    """Synchronous client for a model served by Triton, over HTTP or gRPC.

    Usage::

        with ModelClient("grpc://localhost", "Linear") as client:
            outputs = client.infer_batch(np.zeros((4, 2), dtype=np.float32))

    Not thread-safe: use one client per thread (or per greenlet under gevent). Creating one is cheap
    with ``from_existing_client`` or a supplied ``model_config``.

    Args:
        url: ``http://``, ``https://``, ``grpc://`` or ``grpcs://`` address; no scheme means HTTP whatever
            the port. Default ports: 8000 (http), 443 (https), 8001 (grpc, grpcs). A path, query or user
            info is ignored.
        model_name: model name on the server.
        model_version: version as a string; ``None`` for the latest.
        lazy_init: when ``False``, wait for the model and fetch its config in the constructor.
        init_timeout_s: overall deadline for waiting for server/model readiness and the config (300 s).
        inference_timeout_s: deadline of each inference and of each readiness call (60 s).
        model_config: a known config; skips fetching it (see ``ensure_model_is_ready``).
        ensure_model_is_ready: with ``model_config``, still wait for readiness (and refresh the config).
        access_token: token sent on every call (health, metadata, config, repository, inference, streams) in
            the ``triton-access-token`` HTTP header or the ``triton-grpc-protocol-triton-access-token`` gRPC
            metadata key. Never shown in ``repr`` or messages.
        tls_ca_file: PEM CA bundle for ``https``/``grpcs`` (system trust store when ``None``).
        tls_cert_file: PEM client certificate for mutual TLS (with ``tls_key_file``).
        tls_key_file: PEM private key of ``tls_cert_file``.
        tls_verify: ``False`` disables certificate verification (HTTPS only).
        observer: called with a :class:`RequestRecord` after every inference request.

    Raises:
        PyTritonClientInvalidUrlError: the URL cannot be used.
        PyTritonClientValueError: another argument is invalid.
    """

    _client_name = "ModelClient"
    _decoupled = False

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
        if not lazy_init and self._planner is None:
            self._initialize()

    def _setup(self, settings: ClientSettings, config: TritonModelConfig | None, ensure_ready: bool) -> None:
        self._check_protocol(settings)
        self._settings = settings
        self._closed = False
        self._config: TritonModelConfig | None = config
        self._planner: RequestPlanner | None = None
        if config is not None and not ensure_ready:
            self._use_config(config)
        self._ids = itertools.count()
        self._transport = make_sync_transport(settings)

    def _check_protocol(self, settings: ClientSettings) -> None:
        """Hook for clients that support one protocol only."""

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("ready" if self._planner else "not initialised")
        settings = self._settings
        return f"{type(self).__name__}(url={settings.url.with_scheme!r}, model={settings.model_name!r}, {state})"

    @classmethod
    def from_existing_client(cls, existing_client: ModelClient) -> Any:
        """A new client of this class with the settings (URL scheme, token, timeouts, observer) and cached
        config of ``existing_client``, and its own connection. No readiness or config calls are made when
        the source has a config.
        """
        if not isinstance(existing_client, ModelClient | _asyncio_base()):
            raise PyTritonClientValueError(
                f"from_existing_client needs a pytriton_client client, got {type(existing_client).__name__}."
            )
        client = cls.__new__(cls)
        config = existing_client._config if existing_client._planner is not None else None
        client._setup(existing_client._settings, config, ensure_ready=config is None)
        return client

    # -- readiness and configuration ---------------------------------------------------------------
    def _use_config(self, config: TritonModelConfig) -> RequestPlanner:
        check_client_kind(config, decoupled_client=self._decoupled, client_name=self._client_name)
        self._config = config
        self._planner = RequestPlanner(config)
        return self._planner

    def _initialize(self) -> RequestPlanner:
        if self._closed:
            raise PyTritonClientClosedError(f"{self._client_name} is closed")
        settings = self._settings
        flow = init_flow(
            settings.url.with_scheme,
            settings.model_name,
            settings.model_version,
            settings.init_timeout_s,
            time.monotonic,
        )
        config = run_flow(flow, self._transport, settings)
        assert config is not None
        return self._use_config(config)

    @property
    def model_config(self) -> TritonModelConfig:
        """The model configuration (fetched once, after waiting for the model, then cached)."""
        if self._planner is None:
            self._initialize()
        assert self._config is not None
        return self._config

    @property
    def is_batching_supported(self) -> bool:
        """Whether the model batches (``max_batch_size > 0``)."""
        return self.model_config.max_batch_size > 0

    def wait_for_model(self, timeout_s: float) -> None:
        """Wait until the server and the model are ready.

        Raises:
            PyTritonClientTimeoutError: not ready within ``timeout_s``.
            PyTritonClientModelUnavailableError: the server does not serve this model.
            PyTritonClientClosedError: the client is closed.
        """
        self._check_open()
        s = self._settings
        run_flow(
            init_flow(s.url.with_scheme, s.model_name, s.model_version, timeout_s, time.monotonic, fetch_config=False),
            self._transport,
            s,
        )

    def wait_for_server(self, timeout_s: float) -> None:
        """Wait until the server is live and ready (``PyTritonClientTimeoutError`` after ``timeout_s``)."""
        self._check_open()
        s = self._settings
        flow = init_flow(
            s.url.with_scheme,
            s.model_name,
            s.model_version,
            timeout_s,
            time.monotonic,
            wait_model=False,
            fetch_config=False,
        )
        run_flow(flow, self._transport, s)

    def load_model(self, config: str | None = None, files: dict[str, bytes] | None = None) -> None:
        """Ask the server to load (or reload) this model; ``config`` is model config JSON text and
        ``files`` maps ``"file:<path>"`` to file contents (needs ``config``). Does not wait for readiness.
        """
        self._check_open()
        if files is not None and config is None:
            raise PyTritonClientValueError("load_model: files need a config (model config JSON text).")
        self._transport.load_model(self._settings.model_name, config, files, self._settings.inference_timeout_s)

    def unload_model(self) -> None:
        """Ask the server to unload this model."""
        self._check_open()
        self._transport.unload_model(self._settings.model_name, self._settings.inference_timeout_s)

    def _check_open(self) -> None:
        if self._closed:
            raise PyTritonClientClosedError(f"{self._client_name} is closed")

    # -- inference ----------------------------------------------------------------------------------
    def infer_sample(
        self,
        *inputs: np.ndarray,
        parameters: dict[str, str | int | bool] | None = None,
        headers: dict[str, str | int | bool] | None = None,
        **named_inputs: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """Run one sample: adds the batch axis to inputs and removes it from outputs when the model batches.

        Inputs go all positionally (in config order) or all by name. ``parameters`` become request
        parameters, ``headers`` HTTP headers / gRPC metadata (values ``str``, ``int`` or ``bool``); per-call
        headers override the access-token header. Request ids are ``"0"``, ``"1"``, ... per client.

        Raises:
            PyTritonClientValueError: inputs do not match the model (names, dtypes, ranks).
            PyTritonClientTimeoutError: no answer within ``inference_timeout_s``.
            PyTritonClientConnectionError: the server cannot be reached.
            PyTritonClientInferenceServerError: the server or the model failed.
        """
        return self._infer(inputs, named_inputs, parameters, headers, True)

    def infer_batch(
        self,
        *inputs: np.ndarray,
        parameters: dict[str, str | int | bool] | None = None,
        headers: dict[str, str | int | bool] | None = None,
        **named_inputs: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """Run a batch: arrays are sent as given (first axis = batch); same arguments as :meth:`infer_sample`.

        Raises:
            PyTritonClientModelDoesntSupportBatchingError: the model has ``max_batch_size == 0``.
        """
        return self._infer(inputs, named_inputs, parameters, headers, False)

    def _prepare(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], parameters: Any, headers: Any, sample: bool
    ) -> tuple[RequestPlanner, list[PreparedInput], dict[str, Any] | None]:
        if self._closed:
            raise PyTritonClientClosedError(f"{self._client_name} is closed")
        if (not args and not kwargs) or (args and kwargs):
            check_convention(args, kwargs)
        if parameters is not None:
            check_parameters(parameters, "Parameter")
        if headers is not None:
            check_parameters(headers, "Header")
        planner = self._planner or self._initialize()
        if not sample and not planner.batching:
            raise PyTritonClientModelDoesntSupportBatchingError(
                f"Model {planner.model_name} doesn't support batching - use infer_sample method instead"
            )
        prepared = planner.prepare(args, kwargs, sample=sample)
        return planner, prepared, merge_headers(self._settings.auth_headers, headers)

    def _infer(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], parameters: Any, headers: Any, sample: bool
    ) -> dict[str, np.ndarray]:
        settings = self._settings
        if settings.observer is not None:
            return self._infer_observed(args, kwargs, parameters, headers, sample)
        planner, prepared, merged = self._prepare(args, kwargs, parameters, headers, sample)
        outputs = self._transport.infer(
            settings.model_name, settings.model_version, prepared, str(next(self._ids)), parameters, merged
        )
        return debatch(outputs) if sample and planner.batching else outputs

    def _infer_observed(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], parameters: Any, headers: Any, sample: bool
    ) -> dict[str, np.ndarray]:
        settings = self._settings
        observer = settings.observer
        assert observer is not None
        start_ns = time.perf_counter_ns()
        try:
            planner, prepared, merged = self._prepare(args, kwargs, parameters, headers, sample)
        except PyTritonClientError as error:  # never sent: initialisation or validation failed
            observer(self._record(sample, start_ns, error, None, None))
            raise
        start_ns = time.perf_counter_ns()
        try:
            outputs = self._transport.infer(
                settings.model_name, settings.model_version, prepared, str(next(self._ids)), parameters, merged
            )
        except BaseException as error:
            observer(self._record(sample, start_ns, error, prepared, None))
            raise
        if sample and planner.batching:
            outputs = debatch(outputs)
        observer(self._record(sample, start_ns, None, prepared, outputs))
        return outputs

    def _record(
        self,
        sample: bool,
        start_ns: int,
        error: BaseException | None,
        prepared: list[PreparedInput] | None,
        outputs: dict[str, Any] | None,
        response_ns: tuple[int, ...] = (),
        cancelled: bool = False,
    ) -> RequestRecord:
        settings = self._settings
        return RequestRecord(
            method="infer_sample" if sample else "infer_batch",
            model_name=settings.model_name,
            model_version=settings.model_version,
            protocol=settings.url.protocol,
            start_ns=start_ns,
            end_ns=time.perf_counter_ns(),
            error=error,
            bytes_sent=payload_bytes(prepared) if prepared is not None else None,
            bytes_received=outputs_bytes(outputs) if outputs is not None else None,
            response_ns=response_ns,
            cancelled=cancelled,
        )

    # -- lifecycle ----------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection; idempotent. Later calls raise :class:`PyTritonClientClosedError`."""
        if self._closed:
            return
        self._closed = True
        self._transport.close()

    def __enter__(self) -> ModelClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _asyncio_base() -> type:
    from pytriton_client._asyncio import AsyncioModelClient

    return AsyncioModelClient


__all__ = ["ModelClient"]
