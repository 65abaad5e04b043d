"""``${VAR}`` and ``${VAR:-default}`` in scenario strings, taken from an environment mapping.

Owns the interpolation grammar. Pure: the environment is passed in, never read from ``os.environ``
here, and values are never logged.

Grammar: ``${NAME}`` is the variable's value (an error when unset); ``${NAME:-default}`` uses
``default`` when the variable is unset or empty; ``$${`` is a literal ``${``. ``NAME`` is letters,
digits and ``_``, not starting with a digit; a default cannot contain ``}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_TOKEN = re.compile(r"\$\$\{|\$\{(?P<body>[^}]*)\}|\$\{")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class Interpolation:
    """The result of interpolating one string: the text, and what went wrong (if anything)."""

    text: str
    errors: list[str] = field(default_factory=list)
    used: list[str] = field(default_factory=list)
    """Names of the variables whose values (not defaults) went into ``text``."""


def interpolate(text: str, env: Mapping[str, str]) -> Interpolation:
    """Replace every ``${...}`` in ``text`` from ``env``; unknown variables are reported, not raised."""
    result = Interpolation(text="")
    out: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        out.append(text[position : match.start()])
        position = match.end()
        token = match.group(0)
        if token == "$${":
            out.append("${")
            continue
        body = match.group("body")
        if body is None:
            result.errors.append("unterminated '${' (write '$${' for a literal '${')")
            out.append(token)
            continue
        name, sep, default = body.partition(":-")
        if not _NAME.match(name):
            result.errors.append(f"'${{{body}}}' is not a variable reference; use ${{NAME}} or ${{NAME:-default}}")
            out.append(token)
            continue
        value = env.get(name)
        if sep and not value:
            out.append(default)
        elif value is None:
            result.errors.append(f"environment variable {name} is not set (give a default with ${{{name}:-value}})")
            out.append(token)
        else:
            result.used.append(name)
            out.append(value)
    out.append(text[position:])
    result.text = "".join(out)
    return result
