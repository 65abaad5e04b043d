"""The path notation shared by --set and error messages (format_path / parse_path)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadtest.scenario import OverrideError, format_path, parse_override, parse_path


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("load.users", ("load", "users")),
        ("traffic[0].weight", ("traffic", 0, "weight")),
        ("traffic[12]", ("traffic", 12)),
        ("targets.linear-http.model", ("targets", "linear-http", "model")),
        ('payloads["a.b"].seed', ("payloads", "a.b", "seed")),
        ('targets["say \\"hi\\""].url', ("targets", 'say "hi"', "url")),
        ("recording.percentiles[1]", ("recording", "percentiles", 1)),
    ],
)
def test_paths_parse_and_format_back(text: str, path: tuple[str | int, ...]) -> None:
    assert parse_path(text) == path
    assert format_path(path) == text


@pytest.mark.parametrize("text", ["", "[0]", ".users", "load.", "load[x]", "load]"])
def test_malformed_paths_are_refused(text: str) -> None:
    with pytest.raises(OverrideError):
        parse_path(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("load.users=4", 4),
        ("duration_s=2.5", 2.5),
        ("embedded.models=[Linear, Sleep]", ["Linear", "Sleep"]),
        ("traffic[0].parameters={tokens: 8}", {"tokens": 8}),
        ("description=a=b", "a=b"),
        ("load.pacing_s=", None),
        ("load.pacing_s=null", None),
        ("name='007'", "007"),
        ("targets.t.embedded=true", True),
    ],
)
def test_override_values_are_read_as_yaml(text: str, value: object) -> None:
    assert parse_override(text).value == value


key = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=8)


@given(
    first=key,
    rest=st.lists(st.one_of(key, st.integers(min_value=0, max_value=999)), max_size=5),
)
def test_format_then_parse_is_the_identity(first: str, rest: list[str | int]) -> None:
    path = (first, *rest)
    assert parse_path(format_path(path)) == path
