"""Turn pydantic validation errors into short messages that say what to change.

Owns the wording of type and range errors, unknown-key suggestions ("did you mean ...?") and
unknown-choice suggestions. Never decides validity itself (the model does) and never echoes a value
that came from an environment variable.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from loadtest._suggest import closest, hint
from loadtest.scenario._problems import Path

_MAX_ECHO = 60
_TYPE_MESSAGES = {
    "model_type": "should be a mapping (key: value)",
    "model_attributes_type": "should be a mapping (key: value)",
    "dict_type": "should be a mapping (key: value)",
    "list_type": "should be a list",
    "string_type": "should be a text",
    "int_type": "should be a whole number",
    "float_type": "should be a number",
    "bool_type": "should be true or false",
    "string_too_short": "should not be empty",
    "too_short": "should not be empty",
}
_PATTERN_MESSAGES = {
    "access_token_env": "should be an environment variable name (letters, digits and _, not starting with a digit)",
    "version": "should be a version number such as 1",
}


def translate(error: ErrorDetails, root: type[BaseModel], *, echo: bool = True) -> tuple[Path, str]:
    """The path and message of one pydantic error; ``echo=False`` keeps the offending value out."""
    loc: Path = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        key = str(loc[-1])
        return loc, f"unknown key {key!r}{hint(key, _field_names(root, loc[:-1]), noun='known keys')}"
    if kind == "missing":
        return loc, "required; add it"
    if kind == "literal_error":
        return loc, _literal_message(root, loc, value, echo)
    if kind == "value_error":
        return loc, str(error["msg"]).removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        field = next((p for p in reversed(loc) if isinstance(p, str)), "")
        message = _PATTERN_MESSAGES.get(field, "should use only letters, digits, '-', '_' and '.'")
        return loc, _with_value(message, value, echo)
    message = _TYPE_MESSAGES.get(kind) or str(error["msg"]).replace("Input should", "should")
    return loc, _with_value(message, value, echo)


def suggested_path(error: ErrorDetails, root: type[BaseModel]) -> Path | None:
    """For an unknown key, the path of the known key it most likely misspells (else None)."""
    if error["type"] != "extra_forbidden":
        return None
    loc: Path = tuple(error["loc"])
    match = closest(str(loc[-1]), _field_names(root, loc[:-1]))
    return None if match is None else (*loc[:-1], match)


def _with_value(message: str, value: Any, echo: bool) -> str:
    if not echo:
        return f"{message} (value from an environment variable)"
    shown = repr(value)
    if len(shown) > _MAX_ECHO:
        shown = shown[: _MAX_ECHO - 3] + "..."
    return f"{message}, got {shown}"


def _literal_message(root: type[BaseModel], loc: Path, value: Any, echo: bool) -> str:
    choices = [str(c) for c in _literal_choices(_annotation_at(root, loc))]
    if loc == ("version",):
        return f"unsupported version {value!r}; this tritonload reads version 1" if echo else "unsupported version"
    if not echo or not isinstance(value, str):
        shown = "" if not echo else f"{value!r} "
        return f"{shown}is not one of: {', '.join(choices)}".strip()
    suggestion = hint(value, choices, noun="use one of")
    if "did you mean" in suggestion:
        suggestion = f"{suggestion} (one of: {', '.join(choices)})"
    return f"{value!r} is not allowed{suggestion}"


def _field_names(root: type[BaseModel], loc: Path) -> list[str]:
    model = _unwrap(_annotation_at(root, loc))
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _annotation_at(root: type[BaseModel], loc: Path) -> Any:
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        elif get_origin(current) is list:
            current = get_args(current)[0]
        else:
            return None
    return current


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is typing.Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _literal_choices(annotation: Any) -> tuple[Any, ...]:
    annotation = _unwrap(annotation)
    return get_args(annotation) if get_origin(annotation) is Literal else ()
