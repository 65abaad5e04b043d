"""The messages a distributed run's master and workers exchange over Locust's custom messages.

Owns the message names, what each carries, and the (de)serialisation of an interval: HDR histograms
travel encoded (the interval log's own compressed form, so the master's sums are exact), counters as
plain dicts. Locust serialises ``data`` with msgpack, so everything here is str, int, float, bool,
None, list or dict. Never sends anything and never decides when to.

Master -> worker: ``SETUP`` (the resolved scenario, its hash, the tritonload version, the resolved
URLs, this worker's index), ``BEGIN`` (start the run clock; open loop: this worker's slots of each
arrival schedule), ``ROLL`` (close an interval now and send it), ``STOP`` (let requests in flight
finish, then send the last interval). Worker -> master: ``READY`` or ``REFUSED`` after ``SETUP``,
``INTERVAL`` after each ``ROLL`` and ``STOP``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hdrh.histogram import HdrHistogram

from loadtest.recording.recorder import Interval, TagKey, TrafficCounters, decode, encode, key_of, tag_of

SETUP = "tritonload_setup"
BEGIN = "tritonload_begin"
ROLL = "tritonload_roll"
STOP = "tritonload_stop"
READY = "tritonload_ready"
REFUSED = "tritonload_refused"
INTERVAL = "tritonload_interval"

DEFAULT_MASTER_PORT = 5557
"""Locust's default master port, ours too."""


def interval_data(interval: Interval) -> dict[str, Any]:
    """An interval as message data: encoded histograms by tag, counters by traffic entry."""
    return {
        "histograms": {tag_of(key): encode(h) for key, h in interval.histograms.items() if h.get_total_count()},
        "counters": {name: counters.to_dict() for name, counters in interval.counters.items()},
    }


def histograms_of(data: Mapping[str, Any]) -> dict[TagKey, HdrHistogram]:
    """The histograms of :func:`interval_data`'s output, decoded."""
    return {key_of(tag): decode(payload) for tag, payload in (data.get("histograms") or {}).items()}


def counters_of(data: Mapping[str, Any]) -> dict[str, TrafficCounters]:
    """The counters of :func:`interval_data`'s output."""
    return {name: TrafficCounters.from_dict(values) for name, values in (data.get("counters") or {}).items()}


def parse_master(address: str) -> tuple[str, int]:
    """``HOST[:PORT]`` (IPv6 as ``[::1]:5557``) -> ``(host, port)``; the port defaults to 5557.

    Raises:
        ValueError: an empty host or a port that is not 1-65535.
    """
    text = address.strip()
    host, port_text = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    if not host:
        raise ValueError(f"no host in {address!r} (expected HOST[:PORT])")
    if not port_text:
        return host, DEFAULT_MASTER_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"bad port in {address!r} (expected HOST[:PORT], port 1-65535)")
    return host, int(port_text)


def setup_problem(data: Mapping[str, Any], version: str, scenario_hash: str) -> str | None:
    """Why a worker refuses a ``SETUP`` (another tritonload version, or the scenario it rebuilt hashes
    differently), or None to go on."""
    theirs = data.get("version")
    if theirs != version:
        return f"tritonload version mismatch: the master runs {theirs}, this worker {version}; install the same version"
    if data.get("scenario_hash") != scenario_hash:
        return (
            f"scenario hash mismatch: the master's is {str(data.get('scenario_hash'))[:12]}, this worker rebuilt "
            f"{scenario_hash[:12]} from the same text (a different tritonload or dependency version?)"
        )
    return None


__all__ = [
    "BEGIN",
    "DEFAULT_MASTER_PORT",
    "INTERVAL",
    "READY",
    "REFUSED",
    "ROLL",
    "SETUP",
    "STOP",
    "counters_of",
    "histograms_of",
    "interval_data",
    "parse_master",
    "setup_problem",
]
