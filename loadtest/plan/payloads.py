"""Request payloads: seeded generators, pre-generated into a pool handed out round-robin.

Owns turning a scenario's ``payloads`` into arrays: the generators (zeros, constant, uniform,
normal, sequence, prompts, file), their seeding and the pool. All generation happens in
:func:`build_pools`, before the run; the hot path is :meth:`PayloadPool.next`, which only returns a
ready dict. Never sends requests and never reads the environment. Arrays are read-only: they are
shared by every request that uses them.

Seeding: each input draws from ``numpy.random.default_rng(SeedSequence([seed, crc32(input name)]))``,
so the same seed gives the same arrays whatever the order of inputs or payloads.

Usage::

    pools = build_pools(scenario)                 # raises ScenarioError listing every problem
    inputs = pools["linear-sample"].next()        # {"INPUT_1": array([...], dtype=float32)}
"""

from __future__ import annotations

import itertools
import math
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

from loadtest._dtypes import canonical_dtype, is_integer, numpy_dtype
from loadtest.scenario import MAX_POOL_BYTES, InputSpec, Payload, Problem, Scenario, ScenarioError

Inputs = dict[str, np.ndarray]


class PayloadError(ValueError):
    """An input cannot be generated (e.g. a file's array does not match); ``key`` is the offending field."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class PayloadPool:
    """``len(pool)`` pre-generated input dicts, handed out in turn by :meth:`next` (thread-safe).

    Each dict maps a model input name to a read-only numpy array; ``bytes`` inputs are ``object``
    arrays of ``bytes``.
    """

    def __init__(self, name: str, items: list[Inputs]) -> None:
        if not items:
            raise ValueError("a payload pool needs at least one item")
        self.name = name
        self.items: tuple[Inputs, ...] = tuple(items)
        self._cycle: Iterator[Inputs] = itertools.cycle(self.items)

    def next(self) -> Inputs:
        """The next input dict, round-robin (a C-level iterator step: atomic under the GIL)."""
        return next(self._cycle)

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        shapes = {name: (list(array.shape), canonical_dtype(array.dtype.name)) for name, array in self.items[0].items()}
        return f"PayloadPool({self.name!r}, items={len(self)}, inputs={shapes})"

    @property
    def nbytes(self) -> int:
        """Bytes held by the pool's distinct arrays (bytes tensors count their payload bytes)."""
        seen: dict[int, int] = {}
        for item in self.items:
            for array in item.values():
                seen.setdefault(id(array), _array_bytes(array))
        return sum(seen.values())

    @property
    def batch_size(self) -> int | None:
        """The first dimension shared by every input (the batch size of ``infer_batch``), else None."""
        firsts = {array.shape[0] if array.ndim else None for array in self.items[0].values()}
        return firsts.pop() if len(firsts) == 1 else None


def build_pools(scenario: Scenario) -> dict[str, PayloadPool]:
    """Generate every payload of ``scenario`` (name -> pool).

    Raises:
        ScenarioError: every input that cannot be generated, with its path and file line.
    """
    pools: dict[str, PayloadPool] = {}
    problems: list[Problem] = []
    for name, payload in scenario.payloads.items():
        try:
            pools[name] = build_pool(name, payload, seed=scenario.seed, base_dir=scenario.base_dir)
        except PayloadPoolError as exc:
            problems += [scenario.problem(("payloads", name, "inputs", *path), msg) for path, msg in exc.errors]
    if problems:
        raise ScenarioError(problems)
    return pools


class PayloadPoolError(ValueError):
    """Inputs of one payload that cannot be generated: ``errors`` holds ``(path in inputs, message)``."""

    def __init__(self, errors: list[tuple[tuple[str, ...], str]]) -> None:
        super().__init__("; ".join(f"{'.'.join(path)}: {message}" for path, message in errors))
        self.errors = errors


def build_pool(name: str, payload: Payload, *, seed: int = 0, base_dir: Path | None = None) -> PayloadPool:
    """Generate one payload's pool: ``payload.pool_size`` items (``payload.seed`` overrides ``seed``).

    Raises:
        PayloadPoolError: every input that cannot be generated, each with its path below ``inputs``.
    """
    seed = payload.seed if payload.seed is not None else seed
    columns: dict[str, list[np.ndarray]] = {}
    errors: list[tuple[tuple[str, ...], str]] = []
    for input_name, spec in payload.inputs.items():
        try:
            columns[input_name] = generate(input_name, spec, payload.pool_size, seed=seed, base_dir=base_dir)
        except PayloadError as exc:
            errors.append(((input_name, exc.key) if exc.key else (input_name,), str(exc)))
    if errors:
        raise PayloadPoolError(errors)
    items = [{input_name: column[k] for input_name, column in columns.items()} for k in range(payload.pool_size)]
    return PayloadPool(name, items)


def generate(
    input_name: str, spec: InputSpec, count: int, *, seed: int = 0, base_dir: Path | None = None
) -> list[np.ndarray]:
    """``count`` arrays for one input, deterministic for ``(seed, input_name, spec)``.

    Raises:
        PayloadError: the spec cannot be generated (checked specs fail only on file contents).
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(input_name.encode("utf-8"))]))
    if spec.generator == "file":
        arrays = _from_file(input_name, spec, count, base_dir or Path.cwd())
    else:
        if spec.dtype is None or spec.shape is None:
            raise PayloadError(f"generator {spec.generator!r} needs dtype and shape")
        arrays = _generated(spec, spec.dtype, tuple(spec.shape), count, rng)
    for array in arrays:
        array.setflags(write=False)
    return arrays


def _generated(
    spec: InputSpec, dtype: str, shape: tuple[int, ...], count: int, rng: np.random.Generator
) -> list[np.ndarray]:
    np_dtype = numpy_dtype(dtype)
    size = math.prod(shape)
    generator = spec.generator
    block: np.ndarray
    if generator in ("zeros", "constant"):
        if generator == "zeros":
            value: object = b"" if dtype == "bytes" else 0
        else:
            value = spec.value.encode("utf-8") if isinstance(spec.value, str) else spec.value
        shared = np.full(shape, value, dtype=np_dtype)
        return [shared] * count
    if generator == "prompts":
        prompts = [p.encode("utf-8") for p in spec.prompts or [""]]
        flat = np.empty(size * count, dtype=object)
        flat[:] = [prompts[i % len(prompts)] for i in range(size * count)]
        return list(flat.reshape((count, *shape)))
    if generator == "uniform":
        low = 0.0 if spec.low is None else spec.low
        high = spec.high if spec.high is not None else _default_high(dtype)
        if is_integer(dtype):
            block = rng.integers(int(low), int(high), size=(count, *shape), dtype=cast(Any, np_dtype), endpoint=False)
        else:
            block = rng.uniform(low, high, size=(count, *shape)).astype(np_dtype)
    elif generator == "normal":
        mean = spec.mean or 0.0
        std = 1.0 if spec.std is None else spec.std
        block = rng.normal(mean, std, size=(count, *shape)).astype(np_dtype)
    elif generator == "sequence":
        start = 0.0 if spec.start is None else spec.start
        step = 1.0 if spec.step is None else spec.step
        values = start + step * np.arange(size * count, dtype=np.float64)
        block = (np.round(values) if is_integer(dtype) else values).astype(np_dtype).reshape((count, *shape))
    else:
        raise PayloadError(f"unknown generator {generator!r}", "generator")
    return list(block)


def _default_high(dtype: str) -> float:
    if is_integer(dtype):
        return float(min(int(np.iinfo(dtype).max), 2**31 - 1) + 1)
    return 1.0


def _from_file(input_name: str, spec: InputSpec, count: int, base_dir: Path) -> list[np.ndarray]:
    if spec.path is None:
        raise PayloadError("generator 'file' needs a path", "path")
    path = Path(spec.path).expanduser()
    path = path if path.is_absolute() else base_dir / path
    samples = _load_array(path, spec.key, input_name)
    if samples.dtype.kind in "SU":
        samples = _as_bytes_objects(samples)
    if samples.ndim < 1 or samples.shape[0] < 1:
        raise PayloadError(f"{path.name}: expected samples stacked on the first axis, got shape {list(samples.shape)}")
    dtype = _file_dtype(samples, path)
    if spec.dtype is not None and spec.dtype != dtype:
        raise PayloadError(f"{path.name} holds {dtype}, not {spec.dtype}; fix dtype or the file", "dtype")
    sample_shape = list(samples.shape[1:])
    if spec.shape is not None and list(spec.shape) != sample_shape:
        raise PayloadError(
            f"{path.name} holds {samples.shape[0]} samples of shape {sample_shape}, not {list(spec.shape)} "
            "(samples are stacked on the first axis)",
            "shape",
        )
    return [samples[k % samples.shape[0]] for k in range(count)]


def _load_array(path: Path, key: str | None, input_name: str) -> np.ndarray:
    try:
        _check_array_file(path)
        loaded = np.load(path, allow_pickle=False)
    except PayloadError:
        raise
    except FileNotFoundError:
        raise PayloadError(f"file not found: {path}", "path") from None
    except zipfile.BadZipFile as exc:
        raise PayloadError(f"cannot read {path.name}: not a valid .npz archive ({exc})", "path") from None
    except (OSError, ValueError) as exc:
        hint = " (object arrays are refused: save text as fixed-width strings)" if "pickle" in str(exc) else ""
        raise PayloadError(f"cannot read {path.name}: {exc}{hint}", "path") from None
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded as archive:
        return _pick(archive, key, input_name, path)


def _check_array_file(path: Path) -> None:
    """Read only the headers of a .npy (or of each array in a .npz) and refuse what must not be loaded.

    numpy allocates an array's full size before reading its data, so a small file whose header
    claims billions of elements would take gigabytes: the size is checked against the data the file
    really holds and against the pool limit first.

    Raises:
        PayloadError: an array too large, or a header that promises more data than the file holds.
        OSError, ValueError, zipfile.BadZipFile: the file is not readable as .npy / .npz.
    """
    if path.suffix == ".npz":
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                with archive.open(info) as stream:
                    _check_npy_header(stream, info.file_size, f"{path.name}[{info.filename.removesuffix('.npy')}]")
    else:
        with path.open("rb") as stream:
            _check_npy_header(stream, path.stat().st_size, path.name)


def _check_npy_header(stream: IO[bytes], size_bytes: int, name: str) -> None:
    version = np.lib.format.read_magic(stream)
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    reader = readers.get(version)
    if reader is None:
        raise PayloadError(f"{name}: .npy format version {version[0]}.{version[1]} is not supported (1.0, 2.0)", "path")
    shape, _, dtype = reader(stream)
    data_bytes = math.prod(shape) * dtype.itemsize
    if data_bytes > MAX_POOL_BYTES:
        raise PayloadError(f"{name}: the array would take more than 1024 MiB (shape {list(shape)})", "path")
    available_bytes = size_bytes - stream.tell()
    if not dtype.hasobject and data_bytes > available_bytes:
        raise PayloadError(
            f"{name} is truncated: its header promises {data_bytes} bytes of data, the file holds {available_bytes}",
            "path",
        )


def _pick(archive: Mapping[str, np.ndarray], key: str | None, input_name: str, path: Path) -> np.ndarray:
    names = list(archive.keys())
    chosen = key if key is not None else (input_name if input_name in names else None)
    if chosen is None and len(names) == 1:
        chosen = names[0]
    if chosen is None:
        raise PayloadError(f"{path.name} holds several arrays ({', '.join(names)}); choose one with key", "key")
    if chosen not in names:
        raise PayloadError(f"{path.name} has no array {chosen!r}; it has: {', '.join(names)}", "key")
    try:
        return np.asarray(archive[chosen])
    except ValueError as exc:
        raise PayloadError(f"cannot read {chosen!r} from {path.name}: {exc}", "key") from None


def _file_dtype(samples: np.ndarray, path: Path) -> str:
    if samples.dtype == object:
        return "bytes"
    try:
        return canonical_dtype(samples.dtype.name)
    except ValueError:
        raise PayloadError(f"{path.name} holds {samples.dtype}, which Triton cannot take") from None


def _as_bytes_objects(array: np.ndarray) -> np.ndarray:
    out = np.empty(array.shape, dtype=object)
    flat = array.reshape(-1)
    out.reshape(-1)[:] = [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in flat.tolist()]
    return out


def _array_bytes(array: np.ndarray) -> int:
    if array.dtype == object:
        return sum(len(v) for v in array.reshape(-1).tolist() if isinstance(v, bytes))
    return int(array.nbytes)
