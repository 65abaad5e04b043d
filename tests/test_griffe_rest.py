"""The docs site's griffe extension (scripts/griffe_rest.py): reST habits of docstrings become Markdown."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path
from types import ModuleType

import griffe
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "griffe_rest.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("griffe_rest", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rest = load_script()


def link(identifier: str, title: str) -> str:
    return f'<autoref identifier="{identifier}" optional><code>{title}</code></autoref>'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see :class:`ModelClient`.", f"see {link('full.ModelClient', 'ModelClient')}."),
        (":meth:`Plan.render` prints", f"{link('full.Plan.render', 'Plan.render')} prints"),
        (":func:`~loadtest.recording.rundir.load_run`", link("full.loadtest.recording.rundir.load_run", "load_run")),
        (":py:attr:`CompareOptions.max_blocks`", link("full.CompareOptions.max_blocks", "CompareOptions.max_blocks")),
        (":data:`FORMATS` and :exc:`Oops`", f"{link('full.FORMATS', 'FORMATS')} and {link('full.Oops', 'Oops')}"),
        ("no roles, ``code`` and a: colon", "no roles, ``code`` and a: colon"),
        (":unknown:`Name` stays", ":unknown:`Name` stays"),
    ],
)
def test_rewrite_roles(text: str, expected: str) -> None:
    assert rest.rewrite_roles(text, lambda target: f"full.{target}") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Usage::\n\n    code()", "Usage:\n\n    code()"),
        ("Summary.\n\n    Usage::\n\n        code()\n", "Summary.\n\n    Usage:\n\n        code()\n"),
        ("Grammar ::\n\n    slo := x", "Grammar\n\n    slo := x"),
        ("Tree.\n\n::\n\n    Root\n    └── Leaf", "Tree.\n\n\n    Root\n    └── Leaf"),
        ("Usage::\nnot a block", "Usage::\nnot a block"),
        ("Usage::\n\nnot indented", "Usage::\n\nnot indented"),
        ("a::b in the middle\n\n    code", "a::b in the middle\n\n    code"),
        ("ends with::", "ends with::"),
    ],
)
def test_rewrite_literal_markers(text: str, expected: str) -> None:
    assert rest.rewrite_literal_markers(text) == expected


@pytest.fixture
def package(tmp_path: Path) -> Path:
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "__init__.py").write_text(
        textwrap.dedent(
            '''
            """The package.

            Usage::

                Thing().go()

            Made of :class:`Thing`; see :meth:`Thing.go` and :func:`~other.place.helper`.
            """

            from pkg._impl import Thing

            __all__ = ["Thing"]
            '''
        )
    )
    (root / "_impl.py").write_text(
        textwrap.dedent(
            '''
            class Thing:
                """A thing."""

                def go(self) -> None:
                    """Go; then :meth:`stop`."""

                def stop(self) -> None:
                    """Stop."""
            '''
        )
    )
    return tmp_path


def test_resolve_target_uses_the_docstring_scope(package: Path) -> None:
    pkg = griffe.load("pkg", search_paths=[package])
    assert rest.resolve_target(pkg, "Thing") == "pkg._impl.Thing"
    assert rest.resolve_target(pkg, "Thing.go") == "pkg._impl.Thing.go"
    assert rest.resolve_target(pkg["_impl"]["Thing"]["go"], "stop") == "pkg._impl.Thing.stop"
    assert rest.resolve_target(pkg, "other.place.helper") == "other.place.helper"


def test_the_extension_rewrites_every_docstring_of_a_loaded_package(package: Path) -> None:
    extensions = griffe.load_extensions(rest.RestToMarkdown)
    pkg = griffe.load("pkg", search_paths=[package], extensions=extensions)
    assert pkg.docstring is not None
    module_doc = pkg.docstring.value
    assert "Usage:\n\n    Thing().go()" in module_doc
    assert link("pkg._impl.Thing", "Thing") in module_doc
    assert link("pkg._impl.Thing.go", "Thing.go") in module_doc
    assert link("other.place.helper", "helper") in module_doc
    go_doc = pkg["_impl"]["Thing"]["go"].docstring
    assert go_doc is not None
    assert go_doc.value == f"Go; then {link('pkg._impl.Thing.stop', 'stop')}."
