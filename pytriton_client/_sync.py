"""Synchronous front: ``ModelClient`` (``DecoupledModelClient`` builds on it in ``_decoupled``).

Owns only the blocking part: running the readiness flow with ``time.sleep``, calling a sync
transport and waiting for it. Settings, checks, request plans and observer records come from the
pure base (``_base``). Never imports a transport at module import: ``_transport`` picks and imports
``_http``/``_grpc`` when the first client of that protocol is created.
"""

from __future__ import annotations

import time
from typing import Any

from pytriton_client import _transport
from pytriton_client._base import ClientBase
from pytriton_client._core import Array, ClientSettings, ClosingContext, Params, debatch
from pytriton_client._flow import Flow, FlowRun, Outcome
from pytriton_client._inputs import RequestPlanner, outputs_bytes
from pytriton_client._transport import Outputs, SyncTransport
from pytriton_client._wire import EncodedRequest, encoded
from pytriton_client.exceptions import PyTritonClientClosedError, PyTritonClientError, PyTritonClientValueError
from pytriton_client.model_config import TritonModelConfig
from pytriton_client.observer import RequestObserver, RequestRecord


def run_flow(flow: Flow, transport: SyncTransport, settings: ClientSettings) -> TritonModelConfig | None:
    """Drive a readiness/config flow with blocking calls."""
    run = FlowRun(flow, transport, settings, time.sleep)
    while run.call is not None:
        try:
            outcome = Outcome(value=run.call())
        except PyTritonClientError as error:
            outcome = Outcome(error=error)
        run.send(outcome)
    return run.config


def record_exchange(
    observer: RequestObserver,
    settings: ClientSettings,
    request: EncodedRequest,
    start_ns: int,
    end_ns: int,
    error: BaseException | None,
    received: int | None,
) -> None:
    """Tell the observer about one encoded request's exchange."""
    observer(
        RequestRecord(
            request.method,
            settings.model_name,
            settings.model_version,
            settings.url.protocol,
            start_ns,
            end_ns,
            error,
            request.bytes_sent,
            received,
        )
    )


class ModelClient(ClosingContext, ClientBase):
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
    _transport: SyncTransport

    def _setup(self, settings: ClientSettings, config: TritonModelConfig | None, ensure_ready: bool) -> None:
        super()._setup(settings, config, ensure_ready)
        self._transport = self._connect(settings)

    def _connect(self, settings: ClientSettings) -> SyncTransport:
        return _transport.make_sync_transport(settings)

    def _constructed(self) -> None:
        if not self._lazy_init and self._planner is None:
            self._initialize()

    # -- readiness and configuration ---------------------------------------------------------------
    def _initialize(self) -> RequestPlanner:
        config = run_flow(self._flow(self._settings.init_timeout_s), self._transport, self._settings)
        assert config is not None, "a flow that fetches the config returns it"
        return self._use_config(config)

    @property
    def model_config(self) -> TritonModelConfig:
        """The model configuration (fetched once, after waiting for the model, then cached)."""
        if self._planner is None:
            self._initialize()
        return self._cached_config()

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
        run_flow(self._flow(timeout_s, fetch_config=False), self._transport, self._settings)

    def wait_for_server(self, timeout_s: float) -> None:
        """Wait until the server is live and ready (``PyTritonClientTimeoutError`` after ``timeout_s``)."""
        run_flow(self._flow(timeout_s, wait_model=False, fetch_config=False), self._transport, self._settings)

    def load_model(self, config: str | None = None, files: dict[str, bytes] | None = None) -> None:
        """Ask the server to load (or reload) this model; ``config`` is model config JSON text and
        ``files`` maps ``"file:<path>"`` to file contents (needs ``config``). Does not wait for readiness.
        """
        self._load_checked(config, files)
        self._transport.load_model(self._settings.model_name, config, files, self._settings.inference_timeout_s)

    def unload_model(self) -> None:
        """Ask the server to unload this model."""
        self._check_open()
        self._transport.unload_model(self._settings.model_name, self._settings.inference_timeout_s)

    # -- inference ----------------------------------------------------------------------------------
    def infer_sample(
        self, *inputs: Array, parameters: Params | None = None, headers: Params | None = None, **named_inputs: Array
    ) -> dict[str, Array]:
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
        self, *inputs: Array, parameters: Params | None = None, headers: Params | None = None, **named_inputs: Array
    ) -> dict[str, Array]:
        """Run a batch: arrays are sent as given (first axis = batch); same arguments as :meth:`infer_sample`.

        Raises:
            PyTritonClientModelDoesntSupportBatchingError: the model has ``max_batch_size == 0``.
        """
        return self._infer(inputs, named_inputs, parameters, headers, False)

    def _infer(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], parameters: Any, headers: Any, sample: bool
    ) -> Outputs:
        seen = self._observe(sample)
        try:
            planner = self._check_call(args, kwargs, parameters, headers) or self._initialize()
            request = self._plan(planner, args, kwargs, parameters, headers, sample)
            seen.sent(request)
            outputs = self._transport.infer(request)
        except BaseException as error:
            seen.failed(error)
            raise
        return seen.done(debatch(outputs) if sample and planner.batching else outputs)

    # -- the fast path: requests encoded once, sent many times ---------------------------------------
    @property
    def can_encode(self) -> bool:
        """Whether this client's transport sends encoded requests (:meth:`infer_encoded`)."""
        return callable(getattr(self._transport, "send_encoded", None))

    def encode_sample(
        self, *inputs: Array, parameters: Params | None = None, headers: Params | None = None, **named_inputs: Array
    ) -> EncodedRequest:
        """Check and encode one sample's request into its wire form, to send with :meth:`infer_encoded`.

        Same arguments and checks as :meth:`infer_sample`; nothing is sent. Encode once, send many times:
        an encoded request carries no request id.

        Raises:
            PyTritonClientValueError: inputs do not match the model, or this client cannot encode.
        """
        return self._encode(inputs, named_inputs, parameters, headers, True)

    def encode_batch(
        self, *inputs: Array, parameters: Params | None = None, headers: Params | None = None, **named_inputs: Array
    ) -> EncodedRequest:
        """Like :meth:`encode_sample` for a batch (first axis = batch), as :meth:`infer_batch` sends it."""
        return self._encode(inputs, named_inputs, parameters, headers, False)

    def _encode(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], parameters: Any, headers: Any, sample: bool
    ) -> EncodedRequest:
        if not self.can_encode:
            raise PyTritonClientValueError(f"{type(self._transport).__name__} cannot send encoded requests.")
        planner = self._check_call(args, kwargs, parameters, headers) or self._initialize()
        request = self._plan(planner, args, kwargs, parameters, headers, sample)
        request.request_id = ""
        message = self._transport.encode(request)  # type: ignore[attr-defined]
        method = "infer_sample" if sample else "infer_batch"
        return encoded(request, self._settings.url.protocol, message, method, debatch=sample and planner.batching)

    def infer_encoded(
        self, request: EncodedRequest, *, decode: bool = False, measure: bool = True
    ) -> dict[str, Array] | None:
        """Send a request made by :meth:`encode_sample` / :meth:`encode_batch` (of a client with the same URL
        and model) and wait for its answer.

        The observer's record times the exchange alone: from just before the bytes are written to just
        after the answer's last byte is read (nothing is built before, nothing decoded inside). The answer
        is checked for errors (the same exceptions as :meth:`infer_sample`) and measured; its outputs are
        decoded only with ``decode=True`` (then returned, else ``None``). With ``measure=False`` an answer that
        is not decoded is not parsed either: the record's ``bytes_received`` is ``None`` (a load generator
        that does not report sizes saves the parse).
        """
        settings = self._settings
        if self._closed:
            raise PyTritonClientClosedError(f"{self._client_name} is closed")
        protocol = settings.url.protocol
        if request.protocol != protocol or request.model_name != settings.model_name:
            raise PyTritonClientValueError(
                f"This request was encoded for model {request.model_name!r} over {request.protocol}; "
                f"this client sends to {settings.model_name!r} over {protocol}."
            )
        transport: Any = self._transport
        observer = settings.observer
        start_ns = time.perf_counter_ns()  # replaced by the transport's, taken at the wire, when it answers
        try:
            if protocol == "grpc":
                answer, start_ns, end_ns = transport.send_encoded(request.message, request.model_name, request.metadata)
            else:
                answer, start_ns, end_ns = transport.send_encoded(request.message, request.model_name)
        except PyTritonClientError as error:
            if observer is not None:
                record_exchange(observer, settings, request, start_ns, time.perf_counter_ns(), error, None)
            raise
        outputs = transport.decode_answer(answer) if decode else None
        if observer is not None:
            if outputs is not None:
                received: int | None = outputs_bytes(outputs)
            else:
                received = transport.answer_size(answer) if measure else None
            record_exchange(observer, settings, request, start_ns, end_ns, None, received)
        if outputs is not None and request.debatch:
            return debatch(outputs)
        return outputs

    # -- lifecycle ----------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection; idempotent. Later calls raise :class:`PyTritonClientClosedError`."""
        if self._mark_closed():
            self._transport.close()


__all__ = ["ModelClient", "run_flow"]
