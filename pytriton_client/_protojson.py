"""gRPC answers as the JSON documents Triton's HTTP API gives for the same question.

Owns converting a protobuf message (server metadata, model metadata, repository index, model config,
statistics) to plain dicts and lists in the HTTP form: proto field names, every field without
presence printed with its default (``0``, ``""``, ``[]``, ``{}``), unset sub-messages left out,
enums by name and 64-bit integers as ``int`` (protobuf's own JSON printer makes those strings and
drops defaults, so HTTP and gRPC answers would not compare). Pure: reads the message's descriptor,
imports nothing, never talks to a server.
"""

from __future__ import annotations

import base64
from typing import Any

# google.protobuf.descriptor.FieldDescriptor type numbers
_TYPE_MESSAGE = 11
_TYPE_ENUM = 14
_TYPE_BYTES = 12
_TYPE_FLOATS = frozenset({1, 2})  # double, float
_TYPE_BOOL = 8


def _repeated(field: Any) -> bool:
    flag = getattr(field, "is_repeated", None)
    if flag is None:  # protobuf before 6.x
        return bool(field.label == field.LABEL_REPEATED)
    return bool(flag() if callable(flag) else flag)


def _has_presence(field: Any) -> bool:
    flag = getattr(field, "has_presence", None)
    if flag is not None:
        return bool(flag)
    return not _repeated(field) and (field.type == _TYPE_MESSAGE or field.containing_oneof is not None)


def _is_map(field: Any) -> bool:
    return field.type == _TYPE_MESSAGE and bool(field.message_type.GetOptions().map_entry)


def _scalar(field: Any, value: Any) -> Any:
    kind = field.type
    if kind == _TYPE_MESSAGE:
        return message_to_dict(value)
    if kind == _TYPE_ENUM:
        known = field.enum_type.values_by_number.get(value)
        return known.name if known is not None else int(value)
    if kind == _TYPE_BYTES:
        return base64.b64encode(value).decode("ascii")
    if kind in _TYPE_FLOATS:
        return float(value)
    if kind == _TYPE_BOOL:
        return bool(value)
    if isinstance(value, int):
        return int(value)
    return value


def message_to_dict(message: Any) -> dict[str, Any]:
    """The HTTP-API form of a protobuf ``message``.

    Usage::

        config = message_to_dict(grpc_client.get_model_config("Linear").config)
    """
    document: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        name = field.name
        if _has_presence(field) and not message.HasField(name):
            continue
        value = getattr(message, name)
        if _is_map(field):
            value_field = field.message_type.fields_by_name["value"]
            document[name] = {str(key): _scalar(value_field, item) for key, item in value.items()}
        elif _repeated(field):
            document[name] = [_scalar(field, item) for item in value]
        else:
            document[name] = _scalar(field, value)
    return document


__all__ = ["message_to_dict"]
