"""The weak identifiers of a call (name, date of birth, address, phone): the fields a matching
model compares, read from its traits by path ("address.city"), in clear. They are personal data:
the matcher holds them in memory only, and they go with the person on forget."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from cdp.platform.identifiers import Reveal, revealed


def _object(text: str) -> dict[str, Any]:
    if not text:
        return {}
    value = orjson.loads(text)
    return value if isinstance(value, dict) else {}


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    return None


def record_fields(event, paths: Iterable[str], reveal: Reveal) -> dict[str, str]:
    """The matching fields an identify call's traits (and context.traits) carry; {} for other calls."""
    if event.type != "identify":
        return {}
    traits = dict(_object(event.context).get("traits") or {}) if event.context else {}
    traits.update(_object(event.traits))
    wanted = list(paths)
    tops = {p.split(".", 1)[0] for p in wanted}
    clear = {name: revealed(event.type, name, value, reveal) for name, value in traits.items() if name in tops}
    out: dict[str, str] = {}
    for path in wanted:
        value: Any = clear
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        text = _scalar(value)
        if text is not None:
            out[path] = text
    return out
