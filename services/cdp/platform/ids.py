"""Ids derived from upstream ids, so that creating anything downstream is idempotent."""

from __future__ import annotations

import uuid

NAMESPACE = uuid.UUID("5b0c3f0e-6a0e-4f4e-9a51-0c1d2f3a4b5c")


def derived_id(*parts: str) -> uuid.UUID:
    """A stable id for the thing named by parts (uuid5 under the platform namespace)."""
    return uuid.uuid5(NAMESPACE, "\x1f".join(parts))
