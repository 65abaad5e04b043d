"""Rules that span fields and sections of a scenario, checked on whatever parts are valid.

Owns the cross-reference rules (target and payload names, duplicate traffic names), the load-kind
rules (which fields apply to closed, open and stage loads; weights vs fixed users), the pattern
rules (decoupled needs gRPC, ``in_flight`` only for futures/asyncio), SLO metric rules, and checks
against the embedded demo models; payload input rules are in ``_payload_rules``. Each rule yields
``(path, message)``; the loader adds file and line. Never raises on bad input, never reads payload
file contents (``loadtest.plan.payloads`` does), never reads the environment.

The checks run on a partial view (``Parts``): items that failed type validation are left out (or
kept without their invalid keys, where those keys change no rule), so one typo does not hide the
other problems, and rules that need a complete picture (user counts) wait until it is complete.
"""

from __future__ import annotations

from collections.abc import Iterator

from loadtest._suggest import hint
from loadtest.embedded.server import DEMO_MODELS
from loadtest.engine.patterns import REGISTRY, pattern_of
from loadtest.scenario._demo_models import demo_model, shape_matches
from loadtest.scenario._model import TLS_SCHEMES, URL_SCHEMES, Embedded, Load, Payload, Target, Traffic
from loadtest.scenario._parts import Finding, Parts, missing_file_problem, resolve_file
from loadtest.scenario._payload_rules import check_payloads
from loadtest.scenario._problems import Path
from loadtest.slo import FLAG_METRICS, Slo


def _listed(names: list[str], last: str) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {last} {names[-1]}"


_CONCURRENT = _listed([p.name for p in REGISTRY.values() if p.concurrent], "and")
_STREAMING = _listed([p.name for p in REGISTRY.values() if p.streams], "or")

DEFAULT_MAX_IN_FLIGHT = 64
OPEN_ONLY = ("rate", "arrival", "max_in_flight")
CLOSED_ONLY = ("users", "spawn_rate", "pacing_s")
SWEEP_ONLY = (
    "variable",
    "levels",
    "window_s",
    "windows",
    "stability_pct",
    "max_windows",
    "step_warmup_s",
    "early_stop",
)


def check(parts: Parts) -> list[Finding]:
    """Every cross-field problem of ``parts``."""
    return [
        *_check_embedded(parts),
        *_check_targets(parts),
        *check_payloads(parts),
        *_check_traffic(parts),
        *_check_load(parts),
        *_check_slos(parts),
    ]


def served_models(embedded: Embedded | None) -> tuple[str, ...]:
    """The demo models the embedded server serves for this scenario."""
    if embedded is None or embedded.models is None:
        return DEMO_MODELS
    return tuple(dict.fromkeys(m for m in embedded.models if m in DEMO_MODELS))


def is_open_loop(load: Load) -> bool:
    """True when requests follow an arrival rate (kind open, or stages given as rates)."""
    if load.kind == "sweep":
        return load.variable == "rate"
    return load.kind == "open" or (load.kind == "stages" and any(s.rate is not None for s in load.stages or ()))


# -- embedded ---------------------------------------------------------------------------------
def _check_embedded(parts: Parts) -> Iterator[Finding]:
    embedded = parts.embedded
    if embedded is None:
        return
    seen: set[str] = set()
    for index, model in enumerate(embedded.models or ()):
        if model not in DEMO_MODELS:
            yield ("embedded", "models", index), f"unknown demo model {model!r}{hint(model, DEMO_MODELS)}"
        elif model in seen:
            yield ("embedded", "models", index), f"{model} is listed twice"
        seen.add(model)
    served = served_models(embedded)
    for model, parameters in embedded.model_parameters.items():
        path: Path = ("embedded", "model_parameters", model)
        if model not in served:
            yield path, f"{model} is not served: add it to embedded.models (now: {', '.join(served)})"
            continue
        config = demo_model(model)
        known = config.parameters if config else ()
        for key in parameters:
            if key not in known:
                tail = hint(key, known) if known else f"; {model} takes no parameters"
                yield (*path, key), f"unknown parameter {key!r} of {model}{tail}"


# -- targets ----------------------------------------------------------------------------------
def _check_targets(parts: Parts) -> Iterator[Finding]:
    served = served_models(parts.embedded)
    for name, target in parts.targets.items():
        path: Path = ("targets", name)
        given = target.model_fields_set
        if target.embedded and target.url is not None:
            yield (*path, "url"), "a target is either embedded: true or has a url, not both"
        elif not target.embedded and target.url is None:
            yield path, "needs a url (e.g. grpc://host:8001) or embedded: true"
        if target.embedded:
            yield from _check_embedded_target(path, target, served)
        if target.url is not None and target.protocol is not None and "protocol" in given:
            implied = URL_SCHEMES.get(target.scheme or "")
            if implied is not None and implied != target.protocol:
                yield (
                    (*path, "protocol"),
                    (
                        f"{target.protocol!r} contradicts the url scheme {target.scheme!r} (which means {implied}); "
                        "remove protocol"
                    ),
                )
        if target.tls is not None:
            if target.embedded or target.scheme not in TLS_SCHEMES:
                yield (*path, "tls"), "TLS options need an https:// or grpcs:// url"
            tls = target.tls
            if (tls.cert_file is None) != (tls.key_file is None):
                missing = "key_file" if tls.key_file is None else "cert_file"
                yield (*path, "tls", missing), "cert_file and key_file go together (mutual TLS); give both"
            for key in ("ca_file", "cert_file", "key_file"):
                value = getattr(tls, key)
                problem = None if value is None else missing_file_problem(resolve_file(parts.base_dir, value))
                if problem is not None:
                    yield (*path, "tls", key), problem
        if target.access_token_env is not None and target.embedded:
            yield (*path, "access_token_env"), "the embedded server takes no access token; remove it"


def _check_embedded_target(path: Path, target: Target, served: tuple[str, ...]) -> Iterator[Finding]:
    if target.protocol is None:
        yield (*path, "protocol"), "required with embedded: true (http or grpc)"
    if target.model not in DEMO_MODELS:
        known = hint(target.model, DEMO_MODELS)
        yield (*path, "model"), f"{target.model!r} is not a demo model of the embedded server{known}"
    elif target.model not in served:
        yield (*path, "model"), f"{target.model} is not served: add it to embedded.models (now: {', '.join(served)})"
    if target.version is not None and target.version != "1":
        yield (*path, "version"), "demo models have only version 1"


# -- traffic ----------------------------------------------------------------------------------
def _check_traffic(parts: Parts) -> Iterator[Finding]:
    if parts.traffic_count == 0:
        yield ("traffic",), "no traffic entries; add at least one"
    refs = {i: {"name": t.name, "target": t.target, "payload": t.payload} for i, t in parts.traffic.items()}
    yield from _check_references({**refs, **parts.traffic_refs}, parts)
    open_loop = parts.open_loop
    for (index, slo_index), slo in sorted(parts.traffic_slos.items()):
        entry = parts.traffic.get(index)
        if entry is not None:
            problem = _slo_problem(slo, decoupled=pattern_of(entry.pattern).streams, parts=parts, entry=True)
            if problem:
                yield ("traffic", index, "slos", slo_index), problem
    for index, traffic in sorted(parts.traffic.items()):
        path: Path = ("traffic", index)
        target = parts.targets.get(traffic.target)
        if traffic.in_flight is not None:
            if not pattern_of(traffic.pattern).concurrent:
                yield (*path, "in_flight"), f"only for patterns {_CONCURRENT}, not {traffic.pattern}"
            elif open_loop:
                yield (*path, "in_flight"), "only for closed-loop load; open loop caps requests with load.max_in_flight"
        if traffic.users is not None and traffic.weight is not None:
            yield (*path, "users"), "give weight or users, not both"
        elif traffic.users is not None and open_loop:
            yield (*path, "users"), "fixed users are for closed loop; in open loop use weight (a share of the rate)"
        seen_headers: dict[str, str] = {}
        for header in traffic.headers:
            if not header or not all(c.isalnum() or c in "-_." for c in header):
                yield (*path, "headers", header), "header names are letters, digits, '-', '_' and '.'"
            elif header.lower() in seen_headers:
                first = seen_headers[header.lower()]
                yield (*path, "headers", header), f"same header as {first!r} (names are not case-sensitive)"
            seen_headers.setdefault(header.lower(), header)
        if target is not None:
            yield from _check_pattern(path, traffic, target)
        payload = parts.payloads.get(traffic.payload)
        if payload is not None:
            yield from _check_batch(path, traffic, payload)
            if target is not None and target.embedded:
                yield from _check_against_model(path, traffic, target, payload)


def _check_references(refs: dict[int, dict[str, str]], parts: Parts) -> Iterator[Finding]:
    first_index: dict[str, int] = {}
    for index, ref in sorted(refs.items()):
        path: Path = ("traffic", index)
        name = ref.get("name")
        if name is not None and name in first_index:
            yield (*path, "name"), f"duplicate name {name!r} (also traffic[{first_index[name]}])"
        elif name is not None:
            first_index[name] = index
        target, payload = ref.get("target"), ref.get("payload")
        if target is not None and target not in parts.target_names:
            yield (*path, "target"), f"unknown target {target!r}{_known(target, parts.target_names)}"
        if payload is not None and payload not in parts.payload_names:
            yield (*path, "payload"), f"unknown payload {payload!r}{_known(payload, parts.payload_names)}"


def _check_pattern(path: Path, traffic: Traffic, target: Target) -> Iterator[Finding]:
    protocol = target.protocol or URL_SCHEMES.get(target.scheme or "")
    pattern = pattern_of(traffic.pattern)
    if pattern.grpc_only and protocol == "http":
        yield (*path, "pattern"), f"{pattern.name} needs a gRPC target; target {traffic.target!r} uses http"
    model = demo_model(target.model) if target.embedded else None
    if model is not None and model.decoupled and not pattern.streams:
        yield (*path, "pattern"), f"{model.name} is a decoupled (streaming) model; use pattern {_STREAMING}"
    elif model is not None and not model.decoupled and pattern.streams:
        yield (*path, "pattern"), f"{pattern.name} needs a decoupled (streaming) model; {model.name} is not one"


def _check_batch(path: Path, traffic: Traffic, payload: Payload) -> Iterator[Finding]:
    if traffic.method != "infer_batch":
        return
    leading = {name: spec.shape[0] for name, spec in payload.inputs.items() if spec.shape}
    if len(set(leading.values())) > 1:
        sizes = ", ".join(f"{name}: {size}" for name, size in leading.items())
        yield (
            (*path, "method"),
            (
                f"infer_batch needs every input of payload {traffic.payload!r} to have the same first dimension "
                f"(the batch size); got {sizes}"
            ),
        )


def _check_against_model(path: Path, traffic: Traffic, target: Target, payload: Payload) -> Iterator[Finding]:
    model = demo_model(target.model)
    if model is None:
        return
    where = (*path, "payload")
    expected = {spec.name: spec for spec in model.inputs}
    missing = [name for name in expected if name not in payload.inputs]
    if missing:
        yield where, f"payload {traffic.payload!r} lacks input(s) {', '.join(missing)} of {model.name}"
    batch = traffic.method == "infer_batch"
    if batch and model.max_batch_size == 0:
        yield (*path, "method"), f"{model.name} does not batch; use infer_sample"
    for name, spec in payload.inputs.items():
        wanted = expected.get(name)
        if wanted is None:
            yield where, f"{model.name} has no input {name!r}{hint(name, list(expected))}"
            continue
        if spec.dtype is not None and spec.dtype != wanted.dtype:
            yield (
                where,
                f"input {name} of payload {traffic.payload!r} is {spec.dtype}; {model.name} takes {wanted.dtype}",
            )
        if spec.shape is None:
            continue
        shape = tuple(spec.shape[1:] if batch else spec.shape)
        if not shape_matches(wanted.dims, shape):
            dims = "[" + ", ".join("-1" if d == -1 else str(d) for d in wanted.dims) + "]"
            kind = "per sample (after the batch axis)" if batch else "(infer_sample adds the batch axis)"
            message = f"input {name} of payload {traffic.payload!r} has shape {list(shape)} {kind}"
            yield where, f"{message}; {model.name} takes {dims}"
        if batch and spec.shape and spec.shape[0] > model.max_batch_size:
            yield where, f"batch of {spec.shape[0]} exceeds {model.name}'s max_batch_size {model.max_batch_size}"


# -- load -------------------------------------------------------------------------------------
def _check_load(parts: Parts) -> Iterator[Finding]:
    load = parts.load
    if load is None:
        return
    given = set(load.model_fields_set)
    if parts.stage_count is not None:
        given.add("stages")
    entries = list(parts.traffic.values()) if parts.all_traffic_valid else None
    if load.kind != "sweep":
        yield from _not_for(given, SWEEP_ONLY, load.kind)
    if load.kind == "closed":
        yield from _not_for(given, (*OPEN_ONLY, "stages"), "closed")
        yield from _check_users(("load", "users"), load.users, entries)
    elif load.kind == "open":
        yield from _not_for(given, (*CLOSED_ONLY, "stages"), "open")
        if load.rate is None:
            yield ("load", "rate"), "required for kind open (requests per second, all traffic entries together)"
    elif load.kind == "sweep":
        yield from _check_sweep(load, given)
        return
    else:
        yield from _check_stages(parts, given, entries)
    if load.kind != "stages" and parts.duration_valid and parts.duration_s is None:
        yield ("duration_s",), f"required for load kind {load.kind} (measured seconds after warm-up)"


def _check_sweep(load: Load, given: set[str]) -> Iterator[Finding]:
    yield from _not_for(given, ("users", "rate", "stages"), "sweep")
    if load.variable is None:
        yield ("load", "variable"), "required for kind sweep: concurrency (users) or rate (requests per second)"
    else:
        other = "rate" if load.variable == "concurrency" else "concurrency"
        for key in OPEN_ONLY[1:] if load.variable == "concurrency" else CLOSED_ONLY[1:]:
            if key in given:
                yield ("load", key), f"not used by a {load.variable} sweep (only by a {other} sweep)"
    levels = load.levels or []
    if not levels:
        yield ("load", "levels"), "required for kind sweep: the levels in order, e.g. [1, 2, 4, 8]"
    if load.variable == "concurrency":
        for index, level in enumerate(levels):
            if level != int(level):
                yield ("load", "levels", index), f"{level:g} is not a whole number of users"
    if load.stability_pct is not None and load.stability_pct >= 100:
        yield ("load", "stability_pct"), f"must be below 100, not {load.stability_pct:g}"
    windows = load.windows or 3
    if load.max_windows is not None and load.max_windows < windows:
        yield ("load", "max_windows"), f"must be at least windows ({windows}), not {load.max_windows}"


def _not_for(given: set[str], keys: tuple[str, ...], kind: str) -> Iterator[Finding]:
    for key in keys:
        if key in given:
            yield ("load", key), f"not used by kind {kind} (used by: {', '.join(_kinds_using(key))})"


def _kinds_using(key: str) -> tuple[str, ...]:
    if key == "stages":
        return ("stages",)
    if key in SWEEP_ONLY:
        return ("sweep",)
    return ("open", "stages") if key in OPEN_ONLY else ("closed", "stages")


def _check_stages(parts: Parts, given: set[str], entries: list[Traffic] | None) -> Iterator[Finding]:
    for key in ("users", "rate"):
        if key in given:
            yield ("load", key), f"kind stages takes {key} in each stage, e.g. stages: [{{duration_s: 10, {key}: 4}}]"
    if not parts.stage_count:
        yield ("load", "stages"), "kind stages needs a list of stages, e.g. [{duration_s: 10, users: 4}]"
        return
    first_kind: str | None = None
    for index, stage in sorted(parts.stages.items()):
        path: Path = ("load", "stages", index)
        if (stage.users is None) == (stage.rate is None):
            yield path, "give users (closed loop) or rate (open loop), one of them"
            continue
        kind = "users" if stage.users is not None else "rate"
        first_kind = first_kind or kind
        if kind != first_kind:
            yield path, f"stages mix users and rate; a run is closed loop (users) or open loop (rate): use {first_kind}"
        elif kind == "users":
            yield from _check_users((*path, "users"), stage.users, entries)
        elif stage.spawn_rate is not None:
            yield (*path, "spawn_rate"), "only for stages with users"
    if first_kind == "rate":
        for key in ("spawn_rate", "pacing_s"):
            if key in given:
                yield ("load", key), "only for stages with users"
    elif first_kind == "users":
        for key in ("arrival", "max_in_flight"):
            if key in given:
                yield ("load", key), "only for stages with rate"


def _check_users(path: Path, users: int | None, entries: list[Traffic] | None) -> Iterator[Finding]:
    if entries is None:
        return
    fixed = sum(t.users for t in entries if t.users is not None)
    weighted = sum(1 for t in entries if t.users is None)
    if users is None:
        if weighted:
            yield path, "required: the total users (entries without users share them by weight)"
        return
    left = users - fixed
    if left < 0:
        yield path, f"is {users}, fewer than the fixed users of the traffic entries ({fixed})"
    elif weighted and left < weighted:
        yield path, f"is {users}: {left} left after fixed users for {weighted} weighted entries; each needs one"
    elif not weighted and left > 0:
        yield path, f"is {users}, but the traffic entries' fixed users add up to {fixed}; make them equal"


# -- slos -------------------------------------------------------------------------------------
def _check_slos(parts: Parts) -> Iterator[Finding]:
    decoupled = any(pattern_of(t.pattern).streams for t in parts.traffic.values())
    for index, slo in sorted(parts.slos.items()):
        if not decoupled and not parts.all_traffic_valid and slo.metric in ("ttfr", "gap"):
            continue
        problem = _slo_problem(slo, decoupled=decoupled, parts=parts, entry=False)
        if problem:
            yield ("slos", index), problem


def _slo_problem(slo: Slo, *, decoupled: bool, parts: Parts, entry: bool) -> str | None:
    if entry and slo.metric in FLAG_METRICS:
        return f"{slo.metric} is a fact about the whole run: put it in the global slos, not in a traffic entry"
    if slo.metric in ("ttfr", "gap") and not decoupled:
        what = "this entry is not decoupled" if entry else "no traffic entry is decoupled"
        return f"{slo.metric} is measured only for decoupled traffic; {what}"
    if slo.metric == "response_time" and parts.load is not None and not parts.open_loop:
        return "response_time is measured only in open loop (kind open, or stages with rate); use latency"
    return None


def _known(name: str, names: list[str]) -> str:
    return hint(name, names) if names else "; none are defined"
