"""Asyncio fronts: ``AsyncioModelClient`` and ``AsyncioDecoupledModelClient``.

Owns only the awaiting part: running the readiness flow with ``asyncio.sleep`` (once per client,
under a lock), awaiting an asyncio transport, and one gRPC streaming call per decoupled request.
Settings, checks, request plans and observer records come from the pure base (``_base``).
Transports are imported on first construction, which needs a running event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from types import TracebackType
from typing import Any, cast

from pytriton_client import _transport
from pytriton_client._base import ClientBase
from pytriton_client._core import Array, ClientSettings, Params, debatch
from pytriton_client._flow import Flow, FlowRun, Outcome
from pytriton_client._inputs import RequestPlanner
from pytriton_client._transport import AsyncStreamTransport, AsyncTransport, Outputs
from pytriton_client.exceptions import PyTritonClientError
from pytriton_client.model_config import TritonModelConfig


async def run_flow(flow: Flow, transport: AsyncTransport, settings: ClientSettings) -> TritonModelConfig | None:
    """Drive a readiness/config flow with awaited calls."""
    run = FlowRun(flow, transport, settings, asyncio.sleep)
    while run.call is not None:
        try:
            outcome = Outcome(value=await run.call())
        except PyTritonClientError as error:
            outcome = Outcome(error=error)
        run.send(outcome)
    return run.config


class AsyncioModelClient(ClientBase):
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
    _transport: AsyncTransport

    def _setup(self, settings: ClientSettings, config: TritonModelConfig | None, ensure_ready: bool) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                f"{type(self).__name__} must be created inside a running event loop (e.g. in an async function)."
            ) from None
        super()._setup(settings, config, ensure_ready)
        self._init_lock = asyncio.Lock()
        self._transport = self._connect(settings)

    def _connect(self, settings: ClientSettings) -> AsyncTransport:
        return _transport.make_async_transport(settings)

    # -- readiness and configuration ---------------------------------------------------------------
    async def _initialize(self) -> RequestPlanner:
        async with self._init_lock:
            if self._planner is not None:  # another coroutine finished it meanwhile
                return self._planner
            config = await run_flow(self._flow(self._settings.init_timeout_s), self._transport, self._settings)
            assert config is not None, "a flow that fetches the config returns it"
            return self._use_config(config)

    @property
    def model_config(self) -> Coroutine[Any, Any, TritonModelConfig]:
        """Awaitable of the model configuration: ``config = await client.model_config``."""
        return self._get_model_config()

    async def _get_model_config(self) -> TritonModelConfig:
        if self._planner is None:
            await self._initialize()
        return self._cached_config()

    async def wait_for_model(self, timeout_s: float) -> None:
        """Wait until the server and the model are ready (``PyTritonClientTimeoutError`` after ``timeout_s``).

        Raises:
            PyTritonClientModelUnavailableError: the server does not serve this model.
            PyTritonClientClosedError: the client is closed.
        """
        await run_flow(self._flow(timeout_s, fetch_config=False), self._transport, self._settings)

    async def wait_for_server(self, timeout_s: float) -> None:
        """Wait until the server is live and ready (``PyTritonClientTimeoutError`` after ``timeout_s``)."""
        await run_flow(self._flow(timeout_s, wait_model=False, fetch_config=False), self._transport, self._settings)

    async def load_model(self, config: str | None = None, files: dict[str, bytes] | None = None) -> None:
        """Ask the server to load (or reload) this model; as :meth:`ModelClient.load_model`."""
        self._load_checked(config, files)
        await self._transport.load_model(self._settings.model_name, config, files, self._settings.inference_timeout_s)

    async def unload_model(self) -> None:
        """Ask the server to unload this model."""
        self._check_open()
        await self._transport.unload_model(self._settings.model_name, self._settings.inference_timeout_s)

    # -- inference ----------------------------------------------------------------------------------
    async def infer_sample(
        self, *inputs: Array, parameters: Params | None = None, headers: Params | None = None, **named_inputs: Array
    ) -> dict[str, Array]:
        """Run one sample (batch axis added and removed when the model batches); see ``ModelClient``."""
        return await self._infer(inputs, named_inputs, parameters, headers, True)

    async def infer_batch(
        self, *inputs: Array, parameters: Params | None = None, headers: Params | None = None, **named_inputs: Array
    ) -> dict[str, Array]:
        """Run a batch (first axis = batch); see ``ModelClient.infer_batch``."""
        return await self._infer(inputs, named_inputs, parameters, headers, False)

    async def _infer(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], parameters: Any, headers: Any, sample: bool
    ) -> Outputs:
        seen = self._observe(sample)
        try:
            planner = self._check_call(args, kwargs, parameters, headers) or await self._initialize()
            request = self._plan(planner, args, kwargs, parameters, headers, sample)
            seen.sent(request)
            outputs = await self._transport.infer(request)
        except BaseException as error:
            seen.failed(error)
            raise
        return seen.done(debatch(outputs) if sample and planner.batching else outputs)

    # -- lifecycle ----------------------------------------------------------------------------------
    async def close(self) -> None:
        """Close the connections; idempotent. Later calls raise :class:`PyTritonClientClosedError`."""
        if self._mark_closed():
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
    _grpc_only = True
    _transport: AsyncStreamTransport

    def _connect(self, settings: ClientSettings) -> AsyncStreamTransport:
        return cast(AsyncStreamTransport, _transport.make_async_transport(settings))  # gRPC only: checked

    def infer_sample(  # type: ignore[override]
        self, *inputs: Array, parameters: Params | None = None, headers: Params | None = None, **named_inputs: Array
    ) -> AsyncIterator[dict[str, Array]]:
        """Stream one sample; yields one output dict per response (batch axis removed)."""
        return self._stream(inputs, named_inputs, parameters, headers, True)

    def infer_batch(  # type: ignore[override]
        self, *inputs: Array, parameters: Params | None = None, headers: Params | None = None, **named_inputs: Array
    ) -> AsyncIterator[dict[str, Array]]:
        """Stream a batch; yields one output dict per response."""
        return self._stream(inputs, named_inputs, parameters, headers, False)

    async def _stream(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], parameters: Any, headers: Any, sample: bool
    ) -> AsyncIterator[Outputs]:
        seen = self._observe(sample)
        try:
            planner = self._check_call(args, kwargs, parameters, headers) or await self._initialize()
            request = self._plan(planner, args, kwargs, parameters, headers, sample)
        except BaseException as failed:
            seen.failed(failed)
            raise
        debatched = sample and planner.batching
        seen.sent(request, stream=True)
        error: BaseException | None = None
        finished = False
        stream = self._transport.open_stream(request)
        try:
            while True:
                event = await self._transport.next_event(stream, request.model_name)
                if event is None:
                    finished = True
                    return
                if event.error is not None:
                    raise self._stream_error(event.error) from event.error
                if not event.outputs:
                    continue
                seen.response(event.outputs)
                yield debatch(event.outputs) if debatched else event.outputs
        except BaseException as exc:
            error = exc
            raise
        finally:
            if not finished:
                stream.cancel()
            stopped = isinstance(error, GeneratorExit | asyncio.CancelledError)
            seen.finished(
                None if isinstance(error, GeneratorExit) else error,
                cancelled=not finished and (error is None or stopped),
            )


__all__ = ["AsyncioDecoupledModelClient", "AsyncioModelClient", "run_flow"]
