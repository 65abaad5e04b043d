"""The scenario schema (``version: 1``) as pydantic models: field names, types, ranges, defaults.

Owns the structure of a scenario and the serialised (resolved) form: ``to_dict``/``to_yaml`` with
secrets redacted, and the ``scenario_hash``. Rules that span fields or sections (kinds of load,
cross references, pattern/protocol) live in ``_checks``; defaults that depend on other fields are
filled by ``_resolve``. Never reads files or the environment.

Fields that depend on the load kind or pattern are optional here: after loading, every field that
applies has a value and every field that does not is None (and absent from ``to_dict``).
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
)

from loadtest.scenario._fields import (  # noqa: F401  (re-exported: the schema's names stay importable from here)
    _SENSITIVE_HEADER,
    GENERATORS,
    METHODS,
    PATTERNS,
    REDACTED,
    SCHEMA_VERSION,
    TLS_SCHEMES,
    URL_SCHEMES,
    ConfigParameter,
    Dtype,
    EnvName,
    Generator,
    LoadKind,
    Method,
    Name,
    NonEmpty,
    NonNegativeFloat,
    NonNegativeInt,
    Pattern,
    Percentile,
    PositiveFloat,
    PositiveInt,
    Processes,
    Protocol,
    RequestParameter,
    Scalar,
    SloField,
    Version,
)
from loadtest.scenario._problems import Locator, Problem, ScenarioError
from loadtest.scenario._problems import Path as ProblemPath
from loadtest.slo import Slo


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Timeouts(_Model):
    """Client timeouts of a target."""

    init_s: PositiveFloat = Field(default=60.0, description="Wait this long for the server and model to be ready.")
    inference_s: PositiveFloat = Field(default=60.0, description="Timeout of one inference request (or stream).")


class Tls(_Model):
    """TLS options of an ``https://`` or ``grpcs://`` target; file paths are relative to the scenario file."""

    ca_file: str | None = Field(default=None, description="PEM bundle of trusted CAs (default: the system's).")
    cert_file: str | None = Field(default=None, description="Client certificate (PEM) for mutual TLS; needs key_file.")
    key_file: str | None = Field(default=None, description="Client private key (PEM) for mutual TLS; needs cert_file.")
    verify: bool = Field(default=True, description="Verify the server's certificate and host name.")


class Target(_Model):
    """Where requests go: the embedded server or a URL, and which model."""

    embedded: bool = Field(default=False, description="Use the embedded Triton the run starts (exclusive with url).")
    url: str | None = Field(default=None, description="http://, https://, grpc:// or grpcs:// host[:port].")
    protocol: Protocol | None = Field(default=None, description="http or grpc; required with embedded, implied by url.")
    model: NonEmpty = Field(description="Model name on the server.")
    version: Version | None = Field(default=None, description="Model version; default: the server's latest.")
    timeouts: Timeouts = Timeouts()
    tls: Tls | None = None
    access_token_env: EnvName | None = Field(
        default=None, description="Name of the environment variable holding the access token (never the token itself)."
    )
    metrics_url: str | None = Field(
        default=None,
        description="The server's Prometheus metrics page (e.g. http://host:8002/metrics), snapshotted every "
        "interval next to its statistics; the embedded server's is known.",
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        if "://" not in url:
            raise ValueError(f"{url!r} has no scheme; write e.g. grpc://{url} (http, https, grpc or grpcs)")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in URL_SCHEMES:
            raise ValueError(f"unsupported scheme {parts.scheme!r}; use http, https, grpc or grpcs")
        if parts.username is not None or parts.password is not None:
            raise ValueError("credentials do not belong in the url; put the token in an env var (access_token_env)")
        if not parts.hostname:
            raise ValueError(f"{url!r} has no host")
        try:
            parts.port  # noqa: B018 - urlsplit validates the port lazily
        except ValueError:
            raise ValueError(f"{url!r} has an invalid port") from None
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"{url!r}: give only scheme, host and port (no path, query or fragment)")
        return url

    @property
    def scheme(self) -> str | None:
        """The URL scheme, or None for the embedded server."""
        return urllib.parse.urlsplit(self.url).scheme if self.url else None


class InputSpec(_Model):
    """How one model input is generated. Which keys apply depends on ``generator``."""

    generator: Generator = Field(description="zeros, constant, uniform, normal, sequence, prompts or file.")
    dtype: Dtype | None = Field(
        default=None, description="float32/FP32, int64/INT64, bytes/BYTES, ...; file: from the file."
    )
    shape: Annotated[list[PositiveInt], Field(min_length=1)] | None = Field(
        default=None, description="Shape of one request's input (infer_batch: batch axis first); file: from the file."
    )
    value: Scalar | None = Field(default=None, description="constant: the value of every element.")
    low: float | None = Field(default=None, description="uniform: lower bound (inclusive), default 0.")
    high: float | None = Field(
        default=None, description="uniform: upper bound (exclusive), default 1 (integers: type max)."
    )
    mean: float | None = Field(default=None, description="normal: mean, default 0.")
    std: NonNegativeFloat | None = Field(default=None, description="normal: standard deviation, default 1.")
    start: float | None = Field(default=None, description="sequence: first value, default 0.")
    step: float | None = Field(default=None, description="sequence: increment, default 1.")
    prompts: Annotated[list[str], Field(min_length=1)] | None = Field(
        default=None, description="prompts: the texts to cycle."
    )
    path: str | None = Field(default=None, description="file: a .npy or .npz file, relative to the scenario file.")
    key: str | None = Field(
        default=None, description="file: the array's name inside a .npz (default: the input's name)."
    )


class Payload(_Model):
    """A named set of inputs; ``pool_size`` distinct requests are generated before the run starts."""

    inputs: dict[str, InputSpec] = Field(description="Model input name -> generator.")
    seed: NonNegativeInt | None = Field(default=None, description="Seed of the generators; default: the scenario seed.")
    pool_size: PositiveInt = Field(
        default=16, description="How many distinct requests to pre-generate (used round-robin)."
    )


class Traffic(_Model):
    """One stream of requests: a pattern, a target, a method and a payload."""

    name: Name = Field(description="Unique name (letters, digits, '-', '_', '.'); tags its results.")
    pattern: Pattern = Field(description="sync, futures, asyncio, decoupled or asyncio-decoupled.")
    target: str = Field(description="Name of a target in targets.")
    payload: str = Field(description="Name of a payload in payloads.")
    method: Method = Field(
        default="infer_sample", description="infer_sample or infer_batch (batch axis in the payload)."
    )
    weight: PositiveFloat | None = Field(
        default=None,
        description="Share of users (closed loop) or of the rate (open loop); default 1 unless users is set.",
    )
    users: PositiveInt | None = Field(
        default=None, description="Fixed user count (closed loop), exclusive with weight."
    )
    in_flight: PositiveInt | None = Field(
        default=None, description="futures/asyncio: requests each user keeps outstanding (default 1)."
    )
    parameters: dict[str, RequestParameter] = Field(default_factory=dict, description="Request parameters.")
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers (gRPC metadata).", repr=False)
    slos: list[SloField] = Field(default_factory=list, description="SLOs of this entry alone.")

    @field_validator("slos")
    @classmethod
    def _tag_slos(cls, slos: list[Slo], info: ValidationInfo) -> list[Slo]:
        name = info.data.get("name")
        return [Slo(s.metric, s.statistic, s.comparator, s.threshold, name, s.text) for s in slos]


class LoadStage(_Model):
    """A stretch of constant load within ``load.stages``: users (closed loop) or rate (open loop)."""

    duration_s: PositiveFloat = Field(description="How long the stage lasts.")
    users: PositiveInt | None = Field(default=None, description="Users during this stage (closed loop).")
    rate: PositiveFloat | None = Field(default=None, description="Requests per second during this stage (open loop).")
    spawn_rate: PositiveFloat | None = Field(default=None, description="Users per second when entering this stage.")


class Load(_Model):
    """How much load, and how it is generated: closed loop, open loop or stages."""

    kind: LoadKind = Field(
        default="closed", description="closed (users), open (arrival rate), stages, or sweep (`tritonload sweep`)."
    )
    users: PositiveInt | None = Field(
        default=None, description="closed: total users (fixed users of entries included)."
    )
    spawn_rate: PositiveFloat | None = Field(default=None, description="closed, stages: users started per second.")
    pacing_s: NonNegativeFloat | None = Field(
        default=None, description="closed, user stages: minimum time between one user's request starts (default 0)."
    )
    rate: PositiveFloat | None = Field(
        default=None, description="open: requests per second, all traffic entries together."
    )
    arrival: Literal["constant", "poisson"] | None = Field(
        default=None, description="open: constant or poisson arrivals."
    )
    max_in_flight: PositiveInt | None = Field(
        default=None, description="open: cap on outstanding requests (default 64); a send beyond it is counted late."
    )
    stages: list[LoadStage] | None = Field(default=None, description="stages: the stages, in order.")
    variable: Literal["concurrency", "rate"] | None = Field(
        default=None, description="sweep: what the levels are, users (concurrency) or open-loop requests/s (rate)."
    )
    levels: list[PositiveFloat] | None = Field(
        default=None, description="sweep: the load levels, in order (run with `tritonload sweep`)."
    )
    window_s: PositiveFloat | None = Field(default=None, description="sweep: one measurement window (default 5).")
    windows: PositiveInt | None = Field(
        default=None, description="sweep: windows that must agree for a step to be stable (default 3)."
    )
    stability_pct: PositiveFloat | None = Field(
        default=None, description="sweep: how far (±%) those windows may be from their mean (default 10)."
    )
    max_windows: PositiveInt | None = Field(default=None, description="sweep: windows at most per step (default 10).")
    step_warmup_s: NonNegativeFloat | None = Field(
        default=None, description="sweep: warm-up of every step (default 2)."
    )
    early_stop: bool | None = Field(
        default=None, description="sweep: cut steps short once an SLO is clearly breached (default true)."
    )


class Embedded(_Model):
    """Options of the embedded Triton, used when a target has ``embedded: true``."""

    models: list[str] | None = Field(default=None, description="Demo models to serve (default: all).")
    model_parameters: dict[str, dict[str, ConfigParameter]] = Field(
        default_factory=dict, description="Model -> config parameters, e.g. {Sleep: {latency_ms: 20}}."
    )
    startup_timeout_s: PositiveFloat = Field(default=60.0, description="How long to wait for the server to be ready.")


class Recording(_Model):
    """What is recorded and reported."""

    interval_s: PositiveFloat = Field(default=1.0, description="Length of one interval histogram.")
    percentiles: list[Percentile] = Field(
        default_factory=lambda: [50.0, 90.0, 95.0, 99.0, 99.9], description="Percentiles shown in reports."
    )


class Scenario(_Model):
    """A load-test scenario (``version: 1``): load it with :func:`loadtest.scenario.load_scenario`.

    After loading, defaults are filled in (see docs/scenario.md); ``to_dict``/``to_yaml`` give the
    resolved form with secrets redacted and ``scenario_hash`` identifies it.
    """

    version: Literal[1] = Field(description="Format version; always 1.")
    name: Name | None = Field(default=None, description="Default: the file name without extension.")
    description: str | None = None
    seed: NonNegativeInt = Field(default=0, description="Default seed of payloads and Poisson arrivals.")
    embedded: Embedded | None = None
    targets: dict[str, Target] = Field(description="Target name -> target.")
    payloads: dict[str, Payload] = Field(description="Payload name -> payload.")
    traffic: list[Traffic] = Field(description="Traffic entries; all run together.")
    load: Load = Load()
    duration_s: PositiveFloat | None = Field(
        default=None, description="Measured duration after warm-up; stages: the sum of the stages unless given."
    )
    warmup_s: NonNegativeFloat = Field(default=0.0, description="Warm-up before measuring (at the first stage's load).")
    max_requests: PositiveInt | None = Field(default=None, description="Stop after this many measured requests.")
    grace_s: NonNegativeFloat = Field(
        default=5.0,
        description="At the end (or a stop), how long requests in flight may still take; those still out "
        "are then recorded as errors of kind 'unfinished'.",
    )
    processes: Processes | None = Field(
        default=None,
        description="Generator processes on this machine (Locust's distributed runner); 'auto': one per "
        "usable core. Default: one process, no workers. `tritonload run --processes` overrides it.",
    )
    fast_path: bool = Field(
        default=True,
        description="Send pre-encoded requests where the pattern allows it (sync); false: the ordinary client path.",
    )
    recording: Recording = Recording()
    slos: list[SloField] = Field(default_factory=list, description="Global SLOs, on all traffic merged.")

    _source: str = PrivateAttr("<string>")
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _locator: Locator | None = PrivateAttr(None)

    @property
    def source(self) -> str:
        """The file the scenario was read from, as the user named it (``<string>`` when from text)."""
        return self._source

    @property
    def base_dir(self) -> Path:
        """The directory relative paths (payload files, TLS files) are resolved against."""
        return self._base_dir

    def resolve_path(self, path: str) -> Path:
        """An absolute path for a path written in the scenario (relative to its file's directory)."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self._base_dir / candidate

    def problem(self, path: ProblemPath, message: str) -> Problem:
        """A :class:`Problem` at ``path`` (e.g. ``("payloads", "p", "inputs", "x", "path")``) with its file line.

        For checks made after loading (payload file contents, a missing access token), so their
        messages point into the file like the validation messages do.
        """
        locator = self._locator or Locator(self._source, {})
        return locator.problem(path, message)

    def access_token(self, target: str, environ: Mapping[str, str] | None = None) -> str | None:
        """The access token of target ``target``, read from its ``access_token_env`` variable.

        None when the target has no ``access_token_env``. The token is never stored on the scenario.

        Raises:
            ScenarioError: the variable is unset or empty (the message names the variable, never a value).
        """
        name = self.targets[target].access_token_env
        if name is None:
            return None
        value = (os.environ if environ is None else environ).get(name)
        if not value:
            path = ("targets", target, "access_token_env")
            raise ScenarioError([self.problem(path, f"environment variable {name} is not set (it holds the token)")])
        return value

    def entry(self, name: str) -> Traffic:
        """The traffic entry called ``name`` (KeyError when there is none)."""
        for traffic in self.traffic:
            if traffic.name == name:
                return traffic
        raise KeyError(name)

    def all_slos(self) -> list[Slo]:
        """Global SLOs, then each traffic entry's SLOs (``Slo.traffic`` tells them apart)."""
        return [*self.slos, *(slo for traffic in self.traffic for slo in traffic.slos)]

    def to_dict(self) -> dict[str, Any]:
        """The resolved scenario as plain data: defaults filled, unused fields left out, secrets redacted.

        The result validates as a scenario again (with the same ``scenario_hash``). Access tokens
        appear only as the *name* of their environment variable; sensitive header values (names
        containing auth, token, key, secret, ...) are replaced by ``<redacted>``.
        """
        data = self.model_dump(mode="json", exclude_none=True)
        for traffic in data["traffic"]:
            traffic["headers"] = {k: REDACTED if is_sensitive_header(k) else v for k, v in traffic["headers"].items()}
        return data

    def to_yaml(self) -> str:
        """:meth:`to_dict` as YAML, in schema field order."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=120)

    @property
    def scenario_hash(self) -> str:
        """sha256 (hex) of the canonical resolved form: equal for scenarios that run the same."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def is_sensitive_header(name: str) -> bool:
    """True for header names whose values are redacted in dumps (authorization, x-api-key, ...)."""
    return bool(_SENSITIVE_HEADER.search(name))
