"""Griffe extension for the docs site: the reST habits of our docstrings, rendered as Markdown.

Our docstrings are Google style with two reST habits that mkdocstrings (Markdown) would print as
text; this extension rewrites them in memory before rendering:

- Sphinx roles (:class:`ModelClient`, :meth:`Plan.render`, :func:`~loadtest.recording.rundir.load_run`)
  become optional autorefs links: a link when the target is documented on the site, plain code text
  otherwise (never a build warning). A name is resolved in the scope of the docstring's object (its
  members, imports and parents), as Python would; a name that does not resolve there is taken as a
  full dotted path.
- A paragraph ending in ``::`` before an indented block (``Usage::``) ends in ``:`` as in reST; the
  indented block is already a Markdown code block. A ``::`` alone on its line is dropped.

Owns only these text rewrites for the site. Never changes source files and is never imported by the
packages; ``mkdocs.yml`` loads it (mkdocstrings ``extensions:``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|exc|meth|func|attr|data|obj|mod):`(?P<tilde>~?)(?P<target>[\w.]+)`")
"""A Sphinx role with a plain dotted target; ``~`` shows only the last component."""


def resolve_target(obj: griffe.Object, target: str) -> str:
    """Full path of ``target`` as written in a docstring of ``obj`` (``"Plan.render"`` in loadtest.plan)."""
    first, dot, rest = target.partition(".")
    try:
        resolved = obj.resolve(first)
    except (griffe.NameResolutionError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return target
    return f"{resolved}{dot}{rest}"


def rewrite_roles(text: str, resolve: Callable[[str], str]) -> str:
    """``text`` with every Sphinx role replaced by an optional autorefs link titled as Sphinx shows it.

    ``resolve`` maps the role's target to a full path (see :func:`resolve_target`).
    """

    def replace(match: re.Match[str]) -> str:
        target = match["target"]
        title = target.rsplit(".", 1)[-1] if match["tilde"] else target
        identifier = html.escape(resolve(target), quote=True)
        return f'<autoref identifier="{identifier}" optional><code>{html.escape(title)}</code></autoref>'

    return ROLE.sub(replace, text)


def rewrite_literal_markers(text: str) -> str:
    """``text`` with reST ``::`` literal-block markers turned into what reST shows (see the module docstring)."""
    lines = text.split("\n")
    out: list[str] = []
    for index, line in enumerate(lines):
        stripped = line.rstrip()
        following = lines[index + 1 : index + 3]
        before_block = (
            len(following) == 2
            and not following[0].strip()
            and len(following[1]) - len(following[1].lstrip()) > len(line) - len(line.lstrip())
        )
        if not stripped.endswith("::") or not before_block:
            out.append(line)
        elif stripped.strip() == "::":
            continue
        elif stripped.endswith(" ::"):
            out.append(stripped[:-3])
        else:
            out.append(stripped[:-1])
    return "\n".join(out)


class RestToMarkdown(griffe.Extension):
    """Rewrite the docstrings of every object of a loaded package (see the module docstring)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Called by griffe once ``pkg`` and its submodules are loaded."""
        self._rewrite(pkg)

    def _rewrite(self, obj: griffe.Object) -> None:
        if obj.docstring is not None:
            text = rewrite_literal_markers(obj.docstring.value)
            obj.docstring.value = rewrite_roles(text, lambda target: resolve_target(obj, target))
        for member in obj.members.values():
            if not member.is_alias:
                self._rewrite(member)  # type: ignore[arg-type]
