"""The scenario's field types: names, ranges, dtypes, SLOs and parameters, with their validators and JSON schema.

Owns the spelling of every value a scenario field may hold (constants such as the known patterns,
generators and URL schemes; annotated types such as ``Name``, ``Dtype`` and ``SloField``) and turns
a wrong value into a ``ValueError`` whose text becomes a problem line. The models built from these
types are in ``_model``. Never reads files or the environment.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
)

from loadtest._dtypes import TRITON_NAMES, canonical_dtype
from loadtest.engine.patterns import NAMES
from loadtest.slo import Slo, SloError, parse_slo

SCHEMA_VERSION = 1
PATTERNS = NAMES
METHODS = ("infer_sample", "infer_batch")
GENERATORS = ("zeros", "constant", "uniform", "normal", "sequence", "prompts", "file")
URL_SCHEMES = {"http": "http", "https": "http", "grpc": "grpc", "grpcs": "grpc"}
"""URL scheme -> protocol it implies."""
TLS_SCHEMES = ("https", "grpcs")
REDACTED = "<redacted>"
_SENSITIVE_HEADER = re.compile(r"auth|token|secret|key|passw|cookie|credential|session", re.IGNORECASE)

if TYPE_CHECKING:
    Pattern = str
else:
    Pattern = Literal[NAMES]  # one spelling: the pattern registry
Method = Literal["infer_sample", "infer_batch"]
Generator = Literal["zeros", "constant", "uniform", "normal", "sequence", "prompts", "file"]
LoadKind = Literal["closed", "open", "stages", "sweep"]
Protocol = Literal["http", "grpc"]

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+$", min_length=1, max_length=100)]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Percentile = Annotated[float, Field(gt=0, le=100)]


def _number_to_text(value: object) -> object:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _slo(value: object) -> Slo:
    try:
        return parse_slo(value)
    except SloError as exc:
        raise ValueError(str(exc)) from None


def _request_parameter(value: object) -> str | int | bool:
    if isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        raise ValueError(f"request parameters are text, integers or booleans; write {value} as '{value}'")
    raise ValueError(f"request parameters are text, integers or booleans, not a {type(value).__name__}")


def _config_parameter(value: object) -> str | int | float | bool:
    if isinstance(value, (str, bool, int, float)):
        return value
    raise ValueError(f"model parameters are single values (text or numbers), not a {type(value).__name__}")


def _scalar(value: object) -> str | int | float | bool:
    if isinstance(value, (str, bool, int, float)):
        return value
    raise ValueError(f"expected a number, a boolean or a text, not a {type(value).__name__}")


def _dtype(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"a dtype is a name such as float32 or FP32, not a {type(value).__name__}")
    return canonical_dtype(value)


def _processes(value: object) -> int | str:
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise ValueError(f"expected a positive whole number or 'auto', got {value!r}")


Processes = Annotated[
    int | str,
    PlainValidator(_processes),
    WithJsonSchema({"oneOf": [{"type": "integer", "minimum": 1}, {"const": "auto"}]}),
]
SloField = Annotated[
    Slo,
    PlainValidator(_slo),
    PlainSerializer(lambda slo: slo.text, return_type=str),
    WithJsonSchema(
        {
            "oneOf": [
                {
                    "type": "string",
                    "description": "[statistic] metric comparator threshold, e.g. 'p99 latency < 50ms', "
                    "or 'generator_saturated == false'",
                },
                {
                    "type": "object",
                    "properties": {
                        "metric": {
                            "enum": [
                                "latency",
                                "response_time",
                                "ttfr",
                                "gap",
                                "error_rate",
                                "throughput",
                                "generator_saturated",
                            ]
                        },
                        "stat": {"type": "string", "description": "pNN, mean, max or min (time metrics only)"},
                        "statistic": {"type": "string", "description": "same as stat"},
                        "op": {"enum": ["<", "<=", ">", ">=", "==", "!="]},
                        "comparator": {"enum": ["<", "<=", ">", ">=", "==", "!="], "description": "same as op"},
                        "threshold": {
                            "type": ["string", "number", "boolean"],
                            "description": "with a unit: 50ms, 0.1%, 200/s; true or false for generator_saturated",
                        },
                    },
                    "required": ["metric", "threshold"],
                    "additionalProperties": False,
                },
            ]
        }
    ),
]
RequestParameter = Annotated[
    str | int | bool, PlainValidator(_request_parameter), WithJsonSchema({"type": ["string", "integer", "boolean"]})
]
ConfigParameter = Annotated[
    str | int | float | bool,
    PlainValidator(_config_parameter),
    WithJsonSchema({"type": ["string", "number", "boolean"]}),
]
Scalar = Annotated[
    str | int | float | bool, PlainValidator(_scalar), WithJsonSchema({"type": ["string", "number", "boolean"]})
]
Dtype = Annotated[
    str,
    PlainValidator(_dtype),
    WithJsonSchema(
        {"type": "string", "description": "numpy or Triton name", "examples": [*TRITON_NAMES, *TRITON_NAMES.values()]}
    ),
]
Version = Annotated[str, BeforeValidator(_number_to_text), StringConstraints(pattern=r"^[0-9]+$")]
