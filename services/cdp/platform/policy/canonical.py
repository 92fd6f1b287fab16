"""The canonical JSON text of a value: what decisions are identified, evaluated and recorded by."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

# orjson writes what json.dumps below writes (keys sorted by code point, the same escapes, no
# ASCII escaping) except for floats, NaN and infinities (orjson writes 1e-05 as 0.00001, NaN as
# null): output with a number that may be a float, or a null, is written again by json.dumps, and so
# is whatever orjson refuses (keys that are not strings, integers past 64 bits, lone surrogates) or
# would pass through to a default (subclasses, dates, dataclasses, which json.dumps refuses).
# A number or null follows the character that opens its place ([ , :) unless it is the whole text,
# which then opens with neither { [ " t nor f: searching for that character first takes a third of
# the time of a pattern tried at every byte.
_ORJSON_CANONICAL = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)
_FLOAT_OR_NULL = re.compile(rb"[:,\[](?:-?[0-9]+[.eE]|null)")
_OPENS_NO_NUMBER = frozenset(b'{["tf')


def canonical(value: Any) -> str:
    """The JSON text decisions are identified and recorded by: sorted keys, no spaces, no ASCII
    escaping (as json.dumps writes it; ids and hashes of stored logs depend on every byte)."""
    try:
        text = orjson.dumps(value, option=_ORJSON_CANONICAL)
    except TypeError:  # orjson.JSONEncodeError
        return _canonical_json(value)
    if text[0] not in _OPENS_NO_NUMBER or _FLOAT_OR_NULL.search(text):
        return _canonical_json(value)
    return text.decode()


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def from_json(text: str) -> Any:
    """The value of JSON text, integers past 64 bits included (orjson refuses them)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
