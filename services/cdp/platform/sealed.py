"""Sealed values at any depth: the one rule for the field name a token is made under, and the walks
that find and replace tokens in a stored payload (to reveal, mask or erase them).

The field name (associated data) of a token is the nearest object key above its value; array
positions do not count. So traits.email is sealed as "email" (as top-level fields always were),
traits.addresses[0].street as "street", properties.tags[2] as "tags". A personal query parameter
of a URL or query string is sealed in place, its raw value replaced by the URL-encoded token, under
"<key>?<parameter>", and a parameter of the URL's fragment under "<key>#<parameter>":
context.page.url?email is sealed as "url?email". Its plaintext is the parameter's raw text, so
revealing it gives back the URL byte for byte.

Paths (EventAccepted.encrypted_fields) name the place the same way: properties.contact.phone,
traits.addresses[0].street, context.page.url?email, properties.url#email.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, unquote_plus

from cdp.platform.vault import is_token

TOKEN_MARKS = ("pii:v1:", "pii%3Av1%3A", "pii%3av1%3a")
# A token as the vault makes it: the data part is URL-safe base64 of a nonce and a tag at least.
_WELL_FORMED = re.compile(r"pii:v1:[A-Za-z0-9_-]+:[A-Za-z0-9_-]{38,}")
# A bare "a=b&c=d" query string: no spaces, and its first name a plain parameter name.
_BARE_QUERY = re.compile(r"[A-Za-z0-9_.~\[\]%+-]+=[^\s]*")


def sealed(value: object) -> bool:
    """Whether value is a token as the vault makes it (a client's look-alike such as
    "pii:v1:ada@x.io:1" is not, and is classified as any other value)."""
    return is_token(value) and _WELL_FORMED.fullmatch(value) is not None


def param_field(key: str, marker: str, param: str) -> str:
    """The field name of a query parameter sealed in place ("url?email", "url#email")."""
    return f"{key}{marker}{param}"


def class_name(field: str) -> str:
    """The name a sealed field is classified by: a parameter's own name, else the key."""
    for marker in ("?", "#"):
        if marker in field:
            return field.rsplit(marker, 1)[1]
    return field


@dataclass(frozen=True, slots=True)
class Param:
    marker: str  # "?" (the query) or "#" (the fragment)
    name: str  # decoded
    value: str  # decoded
    start: int  # the raw value's span in the string
    end: int

    def raw(self, text: str) -> str:
        return text[self.start : self.end]


def might_hold_params(text: str) -> bool:
    return "=" in text and ("?" in text or "#" in text or _BARE_QUERY.match(text) is not None)


def _section_params(text: str, marker: str, start: int, end: int, out: list[Param]) -> None:
    position = start
    while position <= end:
        stop = text.find("&", position, end)
        if stop < 0:
            stop = end
        equals = text.find("=", position, stop)
        if equals > position:
            raw_name, raw_value = text[position:equals], text[equals + 1 : stop]
            out.append(Param(marker, unquote_plus(raw_name), unquote_plus(raw_value), equals + 1, stop))
        position = stop + 1


def params(text: str) -> list[Param]:
    """The parameters of a URL's query and fragment, or of a query string ("?a=b", "a=b&c=d"),
    with the span of each raw value; [] for a string that holds none."""
    if not might_hold_params(text):
        return []
    out: list[Param] = []
    hash_at = text.find("#")
    base_end = hash_at if hash_at >= 0 else len(text)
    query_at = text.find("?", 0, base_end)
    if query_at >= 0:
        _section_params(text, "?", query_at + 1, base_end, out)
    elif hash_at < 0 and _BARE_QUERY.match(text) and " " not in text:
        _section_params(text, "?", 0, len(text), out)
    if hash_at >= 0:
        fragment_query = text.find("?", hash_at + 1)  # a route's query: "#/signup?email=..."
        start = fragment_query + 1 if fragment_query >= 0 else hash_at + 1
        _section_params(text, "#", start, len(text), out)
    return out


def replace_spans(text: str, replacements: list[tuple[int, int, str]]) -> str:
    """text with each (start, end) span replaced (spans do not overlap)."""
    pieces, position = [], 0
    for start, end, new in sorted(replacements):
        pieces += [text[position:start], new]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def encode_token(token: str) -> str:
    return quote(token, safe="")


def _holds_marks(text: str) -> bool:
    return any(mark in text for mark in TOKEN_MARKS)


# Reading sealed values back ------------------------------------------------------------------------


def tokens_in(value: Any, field: str) -> Iterator[tuple[str, str]]:
    """(field name, token) of every token in a stored value, at any depth and inside URLs."""
    if isinstance(value, str):
        if is_token(value):
            yield field, value
        elif _holds_marks(value):
            for p in params(value):
                if is_token(p.value):
                    yield param_field(field, p.marker, p.name), p.value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from tokens_in(item, key)
    elif isinstance(value, list):
        for item in value:
            yield from tokens_in(item, field)


# open(field, token) -> the value in clear (JSON-decoded), or ERASED when its key is gone.
ERASED: Any = type("Erased", (), {"__repr__": lambda self: "ERASED"})()
Opener = Callable[[str, str], Any]


def replace_tokens(value: Any, field: str, open_: Opener, erased: Any = None) -> Any:
    """A copy of a stored value with every token replaced by open_(field name, token): a value
    erased (ERASED) becomes `erased` in JSON, and an empty parameter in a URL."""
    if isinstance(value, str):
        if is_token(value):
            clear = open_(field, value)
            return erased if clear is ERASED else clear
        if not _holds_marks(value):
            return value
        spans = []
        for p in params(value):
            if is_token(p.value):
                clear = open_(param_field(field, p.marker, p.name), p.value)
                raw = "" if clear is ERASED or clear is None else clear if isinstance(clear, str) else str(clear)
                spans.append((p.start, p.end, raw))
        return replace_spans(value, spans) if spans else value
    if isinstance(value, dict):
        return {key: replace_tokens(item, key, open_, erased) for key, item in value.items()}
    if isinstance(value, list):
        return [replace_tokens(item, field, open_, erased) for item in value]
    return value


def holds_tokens(text: str) -> bool:
    """Whether a stored JSON text may hold a token anywhere (cheap; a false positive costs a walk)."""
    return _holds_marks(text)


def unquoted_forms(text: str) -> list[str]:
    """text and its percent-decoded forms (up to three rounds: "a%2540b" is "a%40b" is "a@b")."""
    forms = [text]
    while "%" in forms[-1] and len(forms) < 4:
        decoded = unquote(forms[-1])
        if decoded == forms[-1]:
            break
        forms.append(decoded)
    return forms
