"""Normalising field values before they are compared or used as blocking keys."""

from __future__ import annotations

import re
import string

NULLS = frozenset({"", "nan", "none", "null", "nat"})

# Apostrophes vanish (o'brien -> obrien); every other punctuation mark separates words.
_PUNCTUATION = str.maketrans({c: ("" if c in "'`" else " ") for c in string.punctuation})
_DATE_PARTS = re.compile(r"[-/. ]+")


def normalise(value: object, kind: str) -> str | None:
    """The comparable form of a value for a comparison kind; None when the value is missing.

    Text is lowercased, stripped of punctuation, with runs of spaces collapsed. Codes lose every space and
    punctuation mark ("123-45 678" -> "12345678"). Dates become YYYYMMDD when they can be read.
    """
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in NULLS:
        return None
    if kind == "date":
        return normalise_date(text)
    text = text.translate(_PUNCTUATION)
    text = "".join(text.split()) if kind == "code" else " ".join(text.split())
    return text or None


def normalise_date(text: str) -> str | None:
    """YYYY-MM-DD, YYYYMMDD, DD/MM/YYYY (and DD-MM-YYYY, DD.MM.YYYY) as YYYYMMDD, read leniently.

    The parts are not checked against the calendar: 19801332 stays what it is, so that a typo in a date still
    compares as one edit. What cannot be read keeps only its digits.
    """
    text = text.strip()
    if text.isdigit():
        return text
    parts = [p for p in _DATE_PARTS.split(text.split("t", 1)[0]) if p]
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        if len(parts[0]) == 4:
            year, month, day = parts
        elif len(parts[2]) == 4:
            day, month, year = parts
        else:
            return "".join(parts)
        if len(month) <= 2 and len(day) <= 2:
            return f"{year}{month.zfill(2)}{day.zfill(2)}"
    digits = "".join(c for c in text if c.isdigit())
    return digits or None
