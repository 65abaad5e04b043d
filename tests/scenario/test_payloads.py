"""Payload generation (loadtest.plan.payloads): seeded, pre-generated pools, dtypes, files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from loadtest.plan.payloads import PayloadPool, build_pool, build_pools, generate
from loadtest.scenario import InputSpec, ScenarioError, load_scenario
from tests.scenario.helpers import remote_payload_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _pool(tmp_path: Path, inputs: str, **kwargs: object) -> PayloadPool:
    return build_pools(remote_payload_scenario(tmp_path, inputs, **kwargs))["p"]  # type: ignore[arg-type]


def test_same_seed_gives_same_arrays_and_other_seeds_differ(tmp_path: Path) -> None:
    inputs = """
    x: {dtype: float32, shape: [3, 2], generator: normal, mean: 1, std: 2}
    y: {dtype: int64, shape: [5], generator: uniform, low: 0, high: 1000}
    """
    first = _pool(tmp_path, inputs, seed=11)
    second = _pool(tmp_path, inputs, seed=11)
    other = _pool(tmp_path, inputs, seed=12)
    for a, b, c in zip(first.items, second.items, other.items, strict=True):
        for name in ("x", "y"):
            np.testing.assert_array_equal(a[name], b[name])
            assert not np.array_equal(a[name], c[name])


def test_arrays_do_not_depend_on_input_order(tmp_path: Path) -> None:
    forward = _pool(
        tmp_path,
        "a: {dtype: float32, shape: [4], generator: uniform}\nb: {dtype: float32, shape: [4], generator: uniform}",
    )
    backward = _pool(
        tmp_path,
        "b: {dtype: float32, shape: [4], generator: uniform}\na: {dtype: float32, shape: [4], generator: uniform}",
    )
    for f, b in zip(forward.items, backward.items, strict=True):
        np.testing.assert_array_equal(f["a"], b["a"])
        np.testing.assert_array_equal(f["b"], b["b"])
        assert not np.array_equal(f["a"], f["b"])


def test_pool_items_are_distinct_and_handed_out_round_robin(tmp_path: Path) -> None:
    pool = _pool(tmp_path, "x: {dtype: float32, shape: [2], generator: normal}", pool_size=3)
    assert len(pool) == 3
    handed = [pool.next() for _ in range(7)]
    assert [id(item) for item in handed] == [id(pool.items[i % 3]) for i in range(7)]
    assert not np.array_equal(pool.items[0]["x"], pool.items[1]["x"])


def test_arrays_are_read_only(tmp_path: Path) -> None:
    pool = _pool(tmp_path, "x: {dtype: float32, shape: [2], generator: zeros}")
    with pytest.raises(ValueError, match="read-only"):
        pool.next()["x"][0] = 1.0


@pytest.mark.parametrize(
    ("name", "numpy_dtype"),
    [
        ("float32", np.float32),
        ("FP32", np.float32),
        ("TYPE_FP16", np.float16),
        ("fp64", np.float64),
        ("INT8", np.int8),
        ("uint16", np.uint16),
        ("UINT64", np.uint64),
        ("BOOL", np.bool_),
        ("BYTES", np.object_),
        ("bytes", np.object_),
    ],
)
def test_numpy_and_triton_dtype_names(tmp_path: Path, name: str, numpy_dtype: type) -> None:
    pool = _pool(tmp_path, f"x: {{dtype: {name}, shape: [2, 3], generator: zeros}}")
    array = pool.next()["x"]
    assert array.dtype == np.dtype(numpy_dtype)
    assert array.shape == (2, 3)


def test_uniform_bounds_and_integer_defaults(tmp_path: Path) -> None:
    pool = _pool(
        tmp_path,
        """
        f: {dtype: float32, shape: [1000], generator: uniform, low: -2, high: 3}
        u8: {dtype: uint8, shape: [1000], generator: uniform}
        i: {dtype: int32, shape: [1000], generator: uniform, low: 10, high: 12}
        """,
    )
    f = np.concatenate([item["f"] for item in pool.items])
    u8 = np.concatenate([item["u8"] for item in pool.items])
    i = np.concatenate([item["i"] for item in pool.items])
    assert f.min() >= -2 and f.max() < 3
    assert u8.min() == 0 and u8.max() == 255  # default: the whole uint8 range
    assert set(i.tolist()) == {10, 11}


def test_normal_statistics(tmp_path: Path) -> None:
    pool = _pool(tmp_path, "x: {dtype: float64, shape: [10000], generator: normal, mean: 5, std: 2}", pool_size=2)
    values = np.concatenate([item["x"] for item in pool.items])
    assert values.mean() == pytest.approx(5, abs=0.1)
    assert values.std() == pytest.approx(2, abs=0.1)


def test_sequence_continues_across_the_pool(tmp_path: Path) -> None:
    pool = _pool(tmp_path, "x: {dtype: int64, shape: [2, 2], generator: sequence, start: 10, step: 5}", pool_size=3)
    assert [item["x"].tolist() for item in pool.items] == [
        [[10, 15], [20, 25]],
        [[30, 35], [40, 45]],
        [[50, 55], [60, 65]],
    ]


def test_constant_and_zeros(tmp_path: Path) -> None:
    pool = _pool(
        tmp_path,
        """
        c: {dtype: float32, shape: [3], generator: constant, value: 0.5}
        t: {dtype: bytes, shape: [2], generator: constant, value: hello}
        b: {dtype: bool, shape: [1], generator: constant, value: true}
        z: {dtype: bytes, shape: [1], generator: zeros}
        """,
    )
    item = pool.next()
    assert item["c"].tolist() == [0.5, 0.5, 0.5]
    assert item["t"].tolist() == [b"hello", b"hello"]
    assert item["b"].tolist() == [True]
    assert item["z"].tolist() == [b""]


def test_prompts_cycle_in_order_as_utf8_bytes(tmp_path: Path) -> None:
    pool = _pool(tmp_path, 'x: {dtype: bytes, shape: [1], generator: prompts, prompts: ["a", "b", "ç"]}', pool_size=4)
    assert [item["x"].tolist() for item in pool.items] == [[b"a"], [b"b"], ["ç".encode()], [b"a"]]
    assert pool.items[0]["x"].dtype == np.object_


def test_infer_batch_payload_carries_the_batch_axis(tmp_path: Path) -> None:
    pool = _pool(tmp_path, "x: {dtype: float32, shape: [4, 2], generator: uniform}", method="infer_batch")
    assert pool.next()["x"].shape == (4, 2)
    assert pool.batch_size == 4


def test_npy_file_paths_are_relative_to_the_scenario_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    samples = np.arange(12, dtype=np.float32).reshape(3, 2, 2)
    np.save(data / "x.npy", samples)
    scenario = remote_payload_scenario(tmp_path, "x: {generator: file, path: data/x.npy}", pool_size=4)
    pool = build_pools(scenario)["p"]
    assert [item["x"].tolist() for item in pool.items] == [s.tolist() for s in (*samples, samples[0])]


def test_npz_key_defaults_to_the_input_name(tmp_path: Path) -> None:
    np.savez(tmp_path / "set.npz", tokens=np.array([[1, 2], [3, 4]], dtype=np.int64), other=np.zeros((2, 2)))
    np.savez(tmp_path / "text.npz", np.array([["hi"], ["yo"]]))
    pool = _pool(
        tmp_path,
        """
        tokens: {generator: file, path: set.npz, dtype: INT64, shape: [2]}
        chosen: {generator: file, path: set.npz, key: other}
        text: {generator: file, path: text.npz}
        """,
        pool_size=2,
    )
    assert [item["tokens"].tolist() for item in pool.items] == [[1, 2], [3, 4]]
    assert pool.items[0]["chosen"].dtype == np.float64
    assert [item["text"].tolist() for item in pool.items] == [[b"hi"], [b"yo"]]


def test_file_content_problems_point_at_the_scenario_line(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.zeros((3, 2), dtype=np.float32))
    np.savez(tmp_path / "two.npz", a=np.zeros(2), b=np.zeros(2))
    np.save(tmp_path / "objects.npy", np.array([b"a", None], dtype=object), allow_pickle=True)
    scenario = remote_payload_scenario(
        tmp_path,
        """
        wrong-dtype: {generator: file, path: x.npy, dtype: int32}
        wrong-shape: {generator: file, path: x.npy, shape: [3]}
        which: {generator: file, path: two.npz}
        missing-key: {generator: file, path: two.npz, key: c}
        pickled: {generator: file, path: objects.npy}
        """,
    )
    with pytest.raises(ScenarioError) as caught:
        build_pools(scenario)
    lines = [str(p).replace(str(tmp_path) + "/", "") for p in caught.value.problems]
    assert lines[:4] == [
        "scenario.yaml:9 payloads.p.inputs.wrong-dtype.dtype: x.npy holds float32, not int32; fix dtype or the file",
        "scenario.yaml:10 payloads.p.inputs.wrong-shape.shape: x.npy holds 3 samples of shape [2], not [3] "
        "(samples are stacked on the first axis)",
        "scenario.yaml:11 payloads.p.inputs.which.key: two.npz holds several arrays (a, b); choose one with key",
        "scenario.yaml:12 payloads.p.inputs.missing-key.key: two.npz has no array 'c'; it has: a, b",
    ]
    # numpy words the pickle refusal itself; we add what to do about it.
    assert lines[4].startswith("scenario.yaml:13 payloads.p.inputs.pickled.path: cannot read objects.npy: ")
    assert lines[4].endswith("(object arrays are refused: save text as fixed-width strings)")
    assert len(lines) == 5


def test_generate_is_usable_without_a_scenario() -> None:
    spec = InputSpec(generator="uniform", dtype="float32", shape=[2])
    first = generate("x", spec, 3, seed=1)
    assert len(first) == 3
    np.testing.assert_array_equal(first[2], generate("x", spec, 3, seed=1)[2])
    assert all(not a.flags.writeable for a in first)


def test_build_pool_seed_argument_is_the_default(tmp_path: Path) -> None:
    scenario = remote_payload_scenario(tmp_path, "x: {dtype: float32, shape: [2], generator: normal}", seed=5)
    payload = scenario.payloads["p"]
    pool = build_pool("p", payload, seed=999)
    np.testing.assert_array_equal(pool.items[0]["x"], build_pools(scenario)["p"].items[0]["x"])
    assert "PayloadPool('p', items=4" in repr(pool)
    assert pool.nbytes == 4 * 2 * 4


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_example_payloads_generate(path: Path) -> None:
    scenario = load_scenario(path)
    pools = build_pools(scenario)
    assert set(pools) == set(scenario.payloads)
    for name, pool in pools.items():
        assert len(pool) == scenario.payloads[name].pool_size
        assert set(pool.next()) == set(scenario.payloads[name].inputs)
