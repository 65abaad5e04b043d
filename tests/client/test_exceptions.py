"""The exception hierarchy (pure): names, bases, kinds, message API, pickling, and the public names."""

from __future__ import annotations

import inspect
import pickle

import pytest

import pytriton_client
import pytriton_client.exceptions as exc_module
from pytriton_client.exceptions import (
    ERROR_KINDS,
    PyTritonClientError,
    PyTritonClientInvalidUrlError,
    PyTritonClientValueError,
)

ALL_ERRORS = [obj for obj in vars(exc_module).values() if inspect.isclass(obj) and issubclass(obj, PyTritonClientError)]

REFERENCE_BASES = {
    "PyTritonClientValueError": "PyTritonClientError",
    "PyTritonClientInvalidUrlError": "PyTritonClientValueError",
    "PyTritonClientTimeoutError": "PyTritonClientError",
    "PyTritonClientModelUnavailableError": "PyTritonClientError",
    "PyTritonClientClosedError": "PyTritonClientError",
    "PyTritonClientModelDoesntSupportBatchingError": "PyTritonClientError",
    "PyTritonClientInferenceServerError": "PyTritonClientError",
    "PyTritonClientQueueFullError": "PyTritonClientError",
}


@pytest.mark.parametrize(("name", "base"), sorted(REFERENCE_BASES.items()))
def test_reference_names_and_bases_are_kept(name: str, base: str) -> None:
    cls = getattr(exc_module, name)
    assert cls.__bases__ == (getattr(exc_module, base),)
    assert getattr(pytriton_client, name) is cls


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda c: c.__name__)
def test_message_api_and_pickle_round_trip(cls: type[PyTritonClientError]) -> None:
    error = cls("something broke")
    assert str(error) == error.message == "something broke"
    assert error.args == ("something broke",)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert copy.message == "something broke"
    assert copy.kind == cls.kind


def test_every_kind_is_documented_and_unique() -> None:
    kinds = [cls.kind for cls in ALL_ERRORS]
    assert sorted(kinds) == sorted(set(kinds))
    assert set(kinds) == set(ERROR_KINDS)
    assert PyTritonClientInvalidUrlError("x").kind == "invalid_url"
    assert isinstance(PyTritonClientInvalidUrlError("x"), PyTritonClientValueError)


def test_package_all_is_sorted_and_complete() -> None:
    public = {name for name in vars(pytriton_client) if not name.startswith("_")}
    modules = {name for name in public if inspect.ismodule(getattr(pytriton_client, name))}
    assert pytriton_client.__all__ == sorted(pytriton_client.__all__, key=lambda n: (not n.isupper(), n))
    assert set(pytriton_client.__all__) == public - modules
    for name in [
        "ModelClient",
        "FuturesModelClient",
        "DecoupledModelClient",
        "AsyncioModelClient",
        "AsyncioDecoupledModelClient",
    ]:
        assert name in pytriton_client.__all__
