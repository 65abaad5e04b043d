"""Asyncio fronts: ``AsyncioModelClient`` and ``AsyncioDecoupledModelClient``.

Owns the awaiting: running the readiness flow (``_flow``) with ``asyncio.sleep``, sending requests
through an asyncio transport, one gRPC stream per decoupled request, and telling the observer.
Everything that does no I/O lives in the core. Transports are imported on first construction.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import AsyncIterator
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


def make_async_transport(settings: ClientSettings) -> Any:
    """The asyncio transport for the URL's protocol (imports it on first use)."""
    if settings.url.protocol == "grpc":
        from pytriton_client._grpc import AsyncGrpcTransport

        return AsyncGrpcTransport(settings)
    from pytriton_client._http import AsyncHttpTransport

    return AsyncHttpTransport(settings)


async def run_flow(flow: Flow, transport: Any, settings: ClientSettings) -> TritonModelConfig | None:
    """Drive a readiness/config flow with awaited calls."""
    name, version = settings.model_name, settings.model_version
    try:
        step = next(flow)
        while True:
            if step.op == "sleep":
                await asyncio.sleep(step.timeout_s)
                outcome = Outcome()
            else:
                try:
                    if step.op == "server_ready":
                        value = await transport.server_ready(step.timeout_s)
                    elif step.op == "repository_index":
                        value = await transport.repository_index(step.timeout_s)
                    else:
                        value = await getattr(transport, step.op)(name, version, step.timeout_s)
                    outcome = Outcome(value=value)
                except PyTritonClientError as error:
                    outcome = Outcome(error=error)
            step = flow.send(outcome)
    except StopIteration as stop:
        return stop.value


class AsyncioModelClient:
    """Asyncio client for a model served by Triton, over HTTP or gRPC.

    Create it inside a running event loop; many coroutines may use one client concurrently
    (readiness is checked once, by the first call). Not for use from several event loops or threads.

    Usage::

        async with AsyncioModelClient("grpc://localhost", "Linear") as client:
            outputs = await client.infer_sample(np.array([1.0, 2.0], dtype=np.float32))

    Arguments are those of :class:`ModelClient`; ``lazy_init=False`` initialises in ``__aenter__``.

    Raises:
        RuntimeError: no event loop is running.
        PyTritonClientInvalidUrlError: the URL cannot be used.
    """

    _client_name = "AsyncioModelClient"
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
        self._lazy_init = lazy_init

    def _setup(self, settings: ClientSettings, config: TritonModelConfig | None, ensure_ready: bool) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                f"{type(self).__name__} must be created inside a running event loop (e.g. in an async function)."
            ) from None
        self._check_protocol(settings)
        self._settings = settings
        self._closed = False
        self._lazy_init = True
        self._config: TritonModelConfig | None = config
        self._planner: RequestPlanner | None = None
        if config is not None and not ensure_ready:
            self._use_config(config)
        self._init_lock = asyncio.Lock()
        self._ids = itertools.count()
        self._transport = make_async_transport(settings)

    def _check_protocol(self, settings: ClientSettings) -> None:
        """Hook for clients that support one protocol only."""

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("ready" if self._planner else "not initialised")
        settings = self._settings
        return f"{type(self).__name__}(url={settings.url.with_scheme!r}, model={settings.model_name!r}, {state})"

    @classmethod
    def from_existing_client(cls, existing_client: Any) -> Any:
        """A new client of this class with the settings and cached config of ``existing_client``
        (any ``pytriton_client`` client) and its own connection; call inside a running event loop.
        """
        from pytriton_client._sync import ModelClient

        if not isinstance(existing_client, AsyncioModelClient | ModelClient):
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

    async def _initialize(self) -> RequestPlanner:
        async with self._init_lock:
            if self._planner is not None:  # another coroutine finished it meanwhile
                return self._planner
            self._check_open()
            s = self._settings
            flow = init_flow(s.url.with_scheme, s.model_name, s.model_version, s.init_timeout_s, time.monotonic)
            config = await run_flow(flow, self._transport, s)
            assert config is not None
            return self._use_config(config)

    @property
    def model_config(self) -> Any:
        """Awaitable of the model configuration: ``config = await client.model_config``."""
        return self._get_model_config()

    async def _get_model_config(self) -> TritonModelConfig:
        if self._planner is None:
            await self._initialize()
        assert self._config is not None
        return self._config

    async def wait_for_model(self, timeout_s: float) -> None:
        """Wait until the server and the model are ready (``PyTritonClientTimeoutError`` after ``timeout_s``)."""
        self._check_open()
        s = self._settings
        flow = init_flow(
            s.url.with_scheme, s.model_name, s.model_version, timeout_s, time.monotonic, fetch_config=False
        )
        await run_flow(flow, self._transport, s)

    def _check_open(self) -> None:
        if self._closed:
            raise PyTritonClientClosedError(f"{self._client_name} is closed")

    # -- inference ----------------------------------------------------------------------------------
    async def infer_sample(
        self,
        *inputs: np.ndarray,
        parameters: dict[str, str | int | bool] | None = None,
        headers: dict[str, str | int | bool] | None = None,
        **named_inputs: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """Run one sample (batch axis added and removed when the model batches); see ``ModelClient``."""
        return await self._infer(inputs, named_inputs, parameters, headers, True)

    async def infer_batch(
        self,
        *inputs: np.ndarray,
        parameters: dict[str, str | int | bool] | None = None,
        headers: dict[str, str | int | bool] | None = None,
        **named_inputs: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """Run a batch (first axis = batch); see ``ModelClient.infer_batch``."""
        return await self._infer(inputs, named_inputs, parameters, headers, False)

    async def _prepare(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], parameters: Any, headers: Any, sample: bool
    ) -> tuple[RequestPlanner, list[PreparedInput], dict[str, Any] | None]:
        self._check_call(args, kwargs, parameters, headers)
        planner = self._planner or await self._initialize()
        return self._plan(planner, args, kwargs, headers, sample)

    def _check_call(self, args: tuple[Any, ...], kwargs: dict[str, Any], parameters: Any, headers: Any) -> None:
        if self._closed:
            raise PyTritonClientClosedError(f"{self._client_name} is closed")
        if (not args and not kwargs) or (args and kwargs):
            check_convention(args, kwargs)
        if parameters is not None:
            check_parameters(parameters, "Parameter")
        if headers is not None:
            check_parameters(headers, "Header")

    def _plan(
        self, planner: RequestPlanner, args: tuple[Any, ...], kwargs: dict[str, Any], headers: Any, sample: bool
    ) -> tuple[RequestPlanner, list[PreparedInput], dict[str, Any] | None]:
        if not sample and not planner.batching:
            raise PyTritonClientModelDoesntSupportBatchingError(
                f"Model {planner.model_name} doesn't support batching - use infer_sample method instead"
            )
        prepared = planner.prepare(args, kwargs, sample=sample)
        return planner, prepared, merge_headers(self._settings.auth_headers, headers)

    async def _infer(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], parameters: Any, headers: Any, sample: bool
    ) -> dict[str, np.ndarray]:
        settings = self._settings
        if settings.observer is not None:
            return await self._infer_observed(args, kwargs, parameters, headers, sample)
        planner = self._planner
        if planner is None:  # first call: initialise (awaits) before planning
            planner, prepared, merged = await self._prepare(args, kwargs, parameters, headers, sample)
        else:  # ready: plain calls, no extra coroutine
            self._check_call(args, kwargs, parameters, headers)
            planner, prepared, merged = self._plan(planner, args, kwargs, headers, sample)
        outputs = await self._transport.infer(
            settings.model_name, settings.model_version, prepared, str(next(self._ids)), parameters, merged
        )
        return debatch(outputs) if sample and planner.batching else outputs

    async def _infer_observed(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], parameters: Any, headers: Any, sample: bool
    ) -> dict[str, np.ndarray]:
        settings = self._settings
        observer = settings.observer
        assert observer is not None
        start_ns = time.perf_counter_ns()
        try:
            planner, prepared, merged = await self._prepare(args, kwargs, parameters, headers, sample)
        except PyTritonClientError as error:  # never sent: initialisation or validation failed
            observer(self._record(sample, start_ns, error, None, None))
            raise
        start_ns = time.perf_counter_ns()
        try:
            outputs = await self._transport.infer(
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
        bytes_received: int | None = None,
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
            bytes_received=outputs_bytes(outputs) if outputs is not None else bytes_received,
            response_ns=response_ns,
            cancelled=cancelled,
        )

    # -- lifecycle ----------------------------------------------------------------------------------
    async def close(self) -> None:
        """Close the connections; idempotent. Later calls raise :class:`PyTritonClientClosedError`."""
        if self._closed:
            return
        self._closed = True
        await self._transport.close()

    async def __aenter__(self) -> AsyncioModelClient:
        if not self._lazy_init:
            try:
                await self._initialize()
            except BaseException:
                await self.close()
                raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class AsyncioDecoupledModelClient(AsyncioModelClient):
    """Asyncio client for decoupled (streaming) models; gRPC only.

    ``infer_sample``/``infer_batch`` return an async iterator of output dicts (use ``async for``).
    Each call opens its own gRPC stream, so many streams may run concurrently on one client. Leaving
    the loop early (``break``, ``aclose()``) cancels the request on the server. Each response must
    arrive within ``inference_timeout_s`` of the previous one. ``parameters`` and ``model_version``
    are sent with the request; ``headers`` as the stream's metadata.

    Usage::

        client = AsyncioDecoupledModelClient("grpc://localhost", "streaming_bot")
        async for partial in client.infer_sample(np.array([b"AI answers to"])):
            print(partial["response"])
    """

    _client_name = "AsyncioDecoupledModelClient"
    _decoupled = True

    def _check_protocol(self, settings: ClientSettings) -> None:
        if settings.url.protocol != "grpc":
            raise PyTritonClientValueError(
                f"AsyncioDecoupledModelClient is only supported for grpc protocol; got {settings.url.with_scheme!r}. "
                "Use a grpc:// (or grpcs://) URL, e.g. 'grpc://localhost:8001'."
            )

    def infer_sample(  # type: ignore[override]
        self,
        *inputs: np.ndarray,
        parameters: dict[str, str | int | bool] | None = None,
        headers: dict[str, str | int | bool] | None = None,
        **named_inputs: np.ndarray,
    ) -> AsyncIterator[dict[str, np.ndarray]]:
        """Stream one sample; yields one output dict per response (batch axis removed)."""
        return self._stream(inputs, named_inputs, parameters, headers, True)

    def infer_batch(  # type: ignore[override]
        self,
        *inputs: np.ndarray,
        parameters: dict[str, str | int | bool] | None = None,
        headers: dict[str, str | int | bool] | None = None,
        **named_inputs: np.ndarray,
    ) -> AsyncIterator[dict[str, np.ndarray]]:
        """Stream a batch; yields one output dict per response."""
        return self._stream(inputs, named_inputs, parameters, headers, False)

    async def _stream(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], parameters: Any, headers: Any, sample: bool
    ) -> AsyncIterator[dict[str, np.ndarray]]:
        from pytriton_client._grpc import grpc_outputs

        settings = self._settings
        observer = settings.observer
        start_ns = time.perf_counter_ns()
        try:
            planner, prepared, merged = await self._prepare(args, kwargs, parameters, headers, sample)
        except PyTritonClientError as failed:  # never sent: initialisation or validation failed
            if observer is not None:
                observer(self._record(sample, start_ns, failed, None, None))
            raise
        debatch_outputs = sample and planner.batching
        request_id = str(next(self._ids))
        start_ns = time.perf_counter_ns()
        arrivals: list[int] = []
        received = 0
        error: BaseException | None = None
        finished = False
        stream = self._transport.open_stream(
            settings.model_name, settings.model_version, prepared, request_id, parameters, merged
        )
        try:
            while True:
                item = await self._transport.next_response(stream, settings.model_name)
                if item is None:
                    finished = True
                    return
                result, failure = item
                if failure is not None:
                    from pytriton_client._errors import translate

                    raise translate(
                        failure,
                        settings.url.with_scheme,
                        f"streaming inference on model {settings.model_name!r}",
                        settings.inference_timeout_s,
                    ) from failure
                outputs = grpc_outputs(result)
                if not outputs:
                    continue
                if observer is not None:
                    arrivals.append(time.perf_counter_ns())
                    received += outputs_bytes(outputs)
                yield debatch(outputs) if debatch_outputs else outputs
        except BaseException as exc:
            error = exc
            raise
        finally:
            if not finished:
                stream.cancel()
            if observer is not None:
                cancelled = not finished and (
                    error is None or isinstance(error, GeneratorExit | asyncio.CancelledError)
                )
                reported = None if isinstance(error, GeneratorExit) else error
                observer(
                    self._record(
                        sample, start_ns, reported, prepared, None, tuple(arrivals), cancelled, bytes_received=received
                    )
                )


__all__ = ["AsyncioDecoupledModelClient", "AsyncioModelClient"]
