"""The TARGET of one ``ab`` side: which server its chunks measure, as scenario overrides.

Owns the grammar (documented in docs/ci.md)::

    scenario                        the scenario's own targets; embedded ones share one server per side
    embedded                        every target on an embedded server this side starts once
    embedded:Sleep.latency_ms=24    ... with these model config parameters (MODEL.KEY=VALUE, comma-separated)
    http://host:8000[,grpc://host:8001]
                                    every target on this server: each takes the URL of its protocol

and the ``--set`` overrides that point a scenario's targets at a side's server. Pure: never starts a
server (``loadtest.gate.ab`` does) and never reads files.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from loadtest.scenario import Scenario

SCHEME_PROTOCOL: Mapping[str, str] = {"http": "http", "https": "http", "grpc": "grpc", "grpcs": "grpc"}


class TargetError(ValueError):
    """A TARGET that cannot be parsed or does not fit the scenario; the message says what to write."""


@dataclass(frozen=True)
class TargetChoice:
    """One parsed TARGET."""

    kind: Literal["scenario", "embedded", "urls"]
    text: str
    model_parameters: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """``embedded:...``: config parameters per model, on top of the scenario's ``embedded.model_parameters``."""
    urls: Mapping[str, str] = field(default_factory=dict)
    """``urls``: protocol (``http`` or ``grpc``) -> URL."""


def parse_target(text: str) -> TargetChoice:
    """Parse a TARGET (see the module docstring).

    Raises:
        TargetError: the message shows the expected form.
    """
    value = text.strip()
    if value in ("", "scenario"):
        return TargetChoice("scenario", "scenario")
    if value == "embedded" or value.startswith("embedded:"):
        parameters: dict[str, dict[str, str]] = {}
        for item in filter(None, (part.strip() for part in value.removeprefix("embedded").lstrip(":").split(","))):
            key, sep, setting = item.partition("=")
            model, dot, name = key.partition(".")
            if not sep or not dot or not model or not name:
                raise TargetError(
                    f"{text!r}: expected embedded:MODEL.KEY=VALUE[,...], e.g. embedded:Sleep.latency_ms=24"
                )
            parameters.setdefault(model, {})[name] = setting
        return TargetChoice("embedded", value, parameters)
    urls: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        scheme = urllib.parse.urlsplit(item).scheme
        protocol = SCHEME_PROTOCOL.get(scheme) if "://" in item else None
        if protocol is None:
            raise TargetError(
                f"{text!r}: {item!r} is not a server URL; write scenario, embedded[:MODEL.KEY=VALUE,...] or "
                "URLs such as http://host:8000,grpc://host:8001"
            )
        if protocol in urls:
            raise TargetError(f"{text!r}: two {protocol} URLs; give one per protocol")
        urls[protocol] = item
    if not urls:
        raise TargetError(f"{text!r}: no URL given")
    return TargetChoice("urls", value, {}, urls)


def target_protocol(scenario: Scenario, name: str) -> str:
    """``http`` or ``grpc``: the protocol a scenario target speaks."""
    target = scenario.targets[name]
    if target.embedded or target.url is None:
        return str(target.protocol or "http")
    return SCHEME_PROTOCOL.get(target.scheme or "", "http")


def needs_server(choice: TargetChoice, scenario: Scenario) -> bool:
    """Whether this side starts an embedded server of its own."""
    if choice.kind == "embedded":
        return True
    return choice.kind == "scenario" and any(t.embedded for t in scenario.targets.values())


def server_parameters(choice: TargetChoice, scenario: Scenario) -> dict[str, dict[str, object]]:
    """Model config parameters of this side's embedded server: the scenario's, then the TARGET's."""
    settings = scenario.embedded
    merged: dict[str, dict[str, object]] = {
        k: dict(v) for k, v in (settings.model_parameters if settings else {}).items()
    }
    for model, values in choice.model_parameters.items():
        merged.setdefault(model, {}).update(values)
    return merged


def _quoted(name: str) -> str:
    return f"targets[{json.dumps(name)}]"


def target_overrides(scenario: Scenario, choice: TargetChoice, server_urls: Mapping[str, str] | None) -> list[str]:
    """``--set`` overrides that point the scenario's targets at this side's server.

    ``server_urls`` maps ``http``/``grpc`` to the URLs of the server this side started (None when it
    started none).

    Raises:
        TargetError: a target speaks a protocol the TARGET gives no URL for.
    """
    if choice.kind == "urls":
        urls: Mapping[str, str] = choice.urls
        names = list(scenario.targets)
    elif server_urls is not None:
        urls = server_urls
        names = [n for n, t in scenario.targets.items() if choice.kind == "embedded" or t.embedded]
    else:
        return []
    overrides = []
    for name in names:
        protocol = target_protocol(scenario, name)
        url = urls.get(protocol)
        if url is None:
            raise TargetError(f"target {name!r} speaks {protocol}: add a {protocol}:// URL to {choice.text!r}")
        overrides += [f"{_quoted(name)}.embedded=false", f"{_quoted(name)}.url={url}"]
        if scenario.targets[name].embedded:
            overrides.append(f"{_quoted(name)}.protocol=null")
    return overrides
