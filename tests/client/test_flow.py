"""The readiness/config flow (pure): driven by scripted outcomes and a fake clock, no server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pytriton_client._flow import Outcome, Step, init_flow
from pytriton_client.exceptions import (
    PyTritonClientAuthorizationError,
    PyTritonClientConnectionError,
    PyTritonClientError,
    PyTritonClientModelUnavailableError,
    PyTritonClientTimeoutError,
)
from pytriton_client.model_config import TritonModelConfig

URL = "http://h:8000"
CONFIG = {"name": "M", "max_batch_size": 4, "input": [{"name": "x", "data_type": "TYPE_FP32", "dims": [1]}]}
INDEX = [{"name": "M", "version": "1", "state": "READY"}, {"name": "Other", "version": "1", "state": "READY"}]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def drive(
    answer: Callable[[Step], Outcome], timeout_s: float = 10.0, model: str = "M", version: str | None = None, **kw: Any
) -> tuple[TritonModelConfig | None, list[str]]:
    """Run the flow; sleeping advances the fake clock. Returns the result and the ops performed."""
    clock = FakeClock()
    flow = init_flow(URL, model, version, timeout_s, clock, **kw)
    ops: list[str] = []
    try:
        step = next(flow)
        while True:
            ops.append(step.op)
            assert step.timeout_s > 0
            if step.op == "sleep":
                clock.now += step.timeout_s
                outcome = Outcome()
            else:
                outcome = answer(step)
            step = flow.send(outcome)
    except StopIteration as stop:
        return stop.value, ops


def healthy(step: Step) -> Outcome:
    return {
        "server_ready": Outcome(True),
        "model_ready": Outcome(True),
        "model_config": Outcome(CONFIG),
    }[step.op]


def test_ready_server_and_model_take_three_calls() -> None:
    config, ops = drive(healthy)
    assert ops == ["server_ready", "model_ready", "model_config"]
    assert config is not None and config.model_name == "M" and config.max_batch_size == 4


def test_server_that_never_answers_connection_ends_in_a_connection_error_at_the_deadline() -> None:
    refused = PyTritonClientConnectionError("Could not reach http://h:8000: refused")
    with pytest.raises(PyTritonClientConnectionError, match=r"not reachable within 3 s.*refused") as caught:
        drive(lambda step: Outcome(error=refused), timeout_s=3)
    assert caught.value.__cause__ is refused


def test_server_not_ready_ends_in_a_timeout_and_polls_with_backoff() -> None:
    with pytest.raises(PyTritonClientTimeoutError, match="Waiting for server to be ready timed out after 5 s"):
        drive(lambda step: Outcome(False), timeout_s=5)


def test_backoff_grows_to_one_second() -> None:
    clock = FakeClock()
    flow = init_flow(URL, "M", None, 30, clock)
    sleeps = []
    step = next(flow)
    for _ in range(20):
        if step.op == "sleep":
            sleeps.append(step.timeout_s)
            clock.now += step.timeout_s
            step = flow.send(Outcome())
        else:
            step = flow.send(Outcome(False))
    assert sleeps[:5] == [0.05, 0.1, 0.2, 0.4, 0.8]
    assert max(sleeps) == 1.0


def test_unknown_model_is_reported_at_once_with_a_suggestion() -> None:
    def answer(step: Step) -> Outcome:
        if step.op == "server_ready":
            return Outcome(True)
        if step.op == "model_ready":
            return Outcome(False)
        if step.op == "model_metadata":
            return Outcome(error=PyTritonClientModelUnavailableError("unknown model"))
        return Outcome(INDEX)

    with pytest.raises(PyTritonClientModelUnavailableError, match=r"'Othr' is not served.*Did you mean 'Other'"):
        drive(answer, model="Othr")


def test_model_known_by_metadata_but_not_in_index_is_waited_for() -> None:
    """A model loaded with an inline config does not appear in the index; metadata vouches for it."""
    calls = {"ready": 0}

    def answer(step: Step) -> Outcome:
        if step.op == "model_ready":
            calls["ready"] += 1
            return Outcome(calls["ready"] > 3)
        if step.op == "model_metadata":
            return Outcome({"name": "Inline"})
        return healthy(step) if step.op != "model_config" else Outcome({**CONFIG, "name": "Inline"})

    config, ops = drive(answer, model="Inline")
    assert config is not None and config.model_name == "Inline"
    assert ops.count("model_metadata") == 1 and "repository_index" not in ops


def test_index_that_cannot_be_read_falls_back_to_waiting() -> None:
    def answer(step: Step) -> Outcome:
        if step.op == "server_ready":
            return Outcome(True)
        if step.op == "model_ready":
            return Outcome(False)
        if step.op == "model_metadata":
            return Outcome(error=PyTritonClientModelUnavailableError("unknown"))
        return Outcome(error=PyTritonClientError("index not available"))

    with pytest.raises(PyTritonClientTimeoutError, match="Waiting for model Ghost/<latest> to be ready timed out"):
        drive(answer, model="Ghost", timeout_s=2)


def test_unauthorized_is_raised_at_once() -> None:
    denied = PyTritonClientAuthorizationError("refused: pass a valid access_token")
    with pytest.raises(PyTritonClientAuthorizationError):
        drive(lambda step: Outcome(error=denied), timeout_s=300)


def test_wait_for_server_only_and_model_without_config() -> None:
    assert drive(healthy, wait_model=False, fetch_config=False) == (None, ["server_ready"])
    assert drive(healthy, fetch_config=False) == (None, ["server_ready", "model_ready"])
