"""Small pure pieces: dtype names, "did you mean" hints, ${VAR} interpolation, demo model configs."""

from __future__ import annotations

import pytest

from loadtest._dtypes import TRITON_NAMES, canonical_dtype, numpy_dtype
from loadtest._suggest import closest, hint
from loadtest.embedded import DEMO_MODELS
from loadtest.scenario._demo_models import DemoInput, demo_model, shape_matches
from loadtest.scenario._interpolate import interpolate


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("float32", "float32"),
        ("FP32", "float32"),
        ("type_fp32", "float32"),
        ("BYTES", "bytes"),
        ("STRING", "bytes"),
        ("object", "bytes"),
        ("Int64", "int64"),
        (" bool ", "bool"),
    ],
)
def test_canonical_dtype(name: str, canonical: str) -> None:
    assert canonical_dtype(name) == canonical


def test_every_dtype_has_a_numpy_dtype_and_a_triton_name() -> None:
    for name, triton in TRITON_NAMES.items():
        assert canonical_dtype(triton) == name
        assert numpy_dtype(name).kind in "biufO"
    with pytest.raises(ValueError, match="unknown dtype 'bf16'"):
        canonical_dtype("bf16")


def test_hints() -> None:
    assert closest("wieght", ["weight", "users"]) == "weight"
    assert closest("zzz", ["weight"]) is None
    assert hint("Slep", ["Linear", "Sleep"]) == "; did you mean 'Sleep'?"
    assert hint("xyz", ["a", "b"], noun="use one of") == "; use one of: a, b"
    assert hint("x", []) == ""


@pytest.mark.parametrize(
    ("text", "env", "result", "errors", "used"),
    [
        ("plain", {}, "plain", [], []),
        ("${A}", {"A": "1"}, "1", [], ["A"]),
        ("x-${A}-${B:-two}", {"A": "1"}, "x-1-two", [], ["A"]),
        ("${A:-d}", {"A": ""}, "d", [], []),
        ("${A:-}", {}, "", [], []),
        ("$${A} costs $5", {"A": "1"}, "${A} costs $5", [], []),
        ("${MISSING}", {}, "${MISSING}", ["environment variable MISSING is not set"], []),
        ("${1X}", {}, "${1X}", ["is not a variable reference"], []),
        ("oops ${", {}, "oops ${", ["unterminated '${'"], []),
    ],
)
def test_interpolate(text: str, env: dict[str, str], result: str, errors: list[str], used: list[str]) -> None:
    out = interpolate(text, env)
    assert out.text == result
    assert len(out.errors) == len(errors)
    assert all(expected in got for expected, got in zip(errors, out.errors, strict=True))
    assert out.used == used


def test_every_demo_model_config_is_read() -> None:
    for name in DEMO_MODELS:
        model = demo_model(name)
        assert model is not None and model.inputs, name
    linear = demo_model("Linear")
    assert linear is not None
    assert (linear.max_batch_size, linear.decoupled, linear.inputs) == (
        128,
        False,
        (DemoInput("INPUT_1", "float32", (2,)),),
    )
    bot = demo_model("streaming_bot")
    assert bot is not None and bot.decoupled and bot.inputs == (DemoInput("inputs", "bytes", (1,)),)
    sleep = demo_model("Sleep")
    assert sleep is not None and "latency_ms" in sleep.parameters
    image = demo_model("ImageNet")
    assert image is not None and image.inputs[0].dims == (224, 224, 3)
    assert demo_model("resnet50") is None


@pytest.mark.parametrize(
    ("dims", "shape", "ok"),
    [((2,), (2,), True), ((-1,), (7,), True), ((2,), (3,), False), ((2,), (1, 2), False), ((-1, 3), (5, 3), True)],
)
def test_shape_matches(dims: tuple[int, ...], shape: tuple[int, ...], ok: bool) -> None:
    assert shape_matches(dims, shape) is ok
