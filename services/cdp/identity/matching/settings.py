"""What the matcher compares and how it blocks: from the identity policy's data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cdp.identity.matching.comparisons import KINDS


@dataclass(frozen=True)
class MatchSettings:
    fields: dict[str, str]  # matching field -> comparison kind: "name", "text", "date", "code", "exact"
    blocking: list[tuple[str, ...]]  # blocking rules: each a tuple of fields that must be equal (after normalising)
    max_postings: int = 200  # skip blocking keys with more postings than this (incremental latency)
    link_threshold: float = 0.99  # not used by the matcher to decide; returned candidates carry probability
    one_per_source: bool = True  # a record never links to a person already holding a record of its source

    def __post_init__(self) -> None:
        if not self.fields:
            raise ValueError("matching needs at least one field")
        for name, kind in self.fields.items():
            if kind not in KINDS:
                raise ValueError(f"field {name!r}: unknown comparison kind {kind!r}; one of {', '.join(KINDS)}")
        if not self.blocking:
            raise ValueError("matching needs at least one blocking rule")
        for rule in self.blocking:
            if not rule:
                raise ValueError("a blocking rule names at least one field")
            unknown = [f for f in rule if f not in self.fields]
            if unknown:
                raise ValueError(f"blocking rule {list(rule)} names fields that are not matched: {unknown}")
        if self.max_postings < 1:
            raise ValueError("max_postings must be at least 1")
        if not 0.0 <= self.link_threshold <= 1.0:
            raise ValueError("link_threshold is a probability")


def settings_from(config: Mapping[str, object]) -> MatchSettings:
    """MatchSettings from a JSON-like dict: {"fields": {...}, "blocking": [[...]], "max_postings": n,
    "link_threshold": p, "one_per_source": bool}; missing optional keys take the defaults."""
    fields = config.get("fields")
    blocking = config.get("blocking")
    if not isinstance(fields, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items()):
        raise ValueError("fields must map field names to comparison kinds")
    if not isinstance(blocking, list) or not all(
        isinstance(rule, list | tuple) and all(isinstance(f, str) for f in rule) for rule in blocking
    ):
        raise ValueError("blocking must be a list of lists of field names")
    extra = {}
    for key, kind in (("max_postings", int), ("link_threshold", float), ("one_per_source", bool)):
        if key in config:
            value = config[key]
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ValueError(f"{key} must be {kind.__name__}")
            extra[key] = value
    unknown = set(config) - {"fields", "blocking", "max_postings", "link_threshold", "one_per_source"}
    if unknown:
        raise ValueError(f"unknown matching settings: {sorted(unknown)}")
    return MatchSettings(dict(fields), [tuple(rule) for rule in blocking], **extra)  # type: ignore[arg-type]
