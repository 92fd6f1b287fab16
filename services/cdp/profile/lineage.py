"""A trait's lineage on a profile: every call that set it, with the key it came under, the one the
profile holds now marked. Personal values are shown as the caller may see them (views.py)."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.platform.vault import Vault
from cdp.profile.views import show_value

SETTING_TYPES = ("identify",)  # the calls that set a person's traits (application.person_traits)


def _object(text: str) -> dict:
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def carried(event: pb.TimelineEvent, trait: str) -> tuple[str, str] | None:
    """Where a call carried the trait, and its value as stored (JSON); the top level wins over
    context.traits, as when it was folded."""
    top = _object(event.traits)
    if trait in top:
        return f"traits.{trait}", orjson.dumps(top[trait]).decode()
    nested = _object(event.context).get("traits")
    if isinstance(nested, dict) and trait in nested:
        return f"context.traits.{trait}", orjson.dumps(nested[trait]).decode()
    return None


def settings(
    calls: Sequence[tuple[pb.TimelineEvent, str, str]],
    trait: str,
    current: pb.TraitValue | None,
    clear: bool,
    vault: Vault,
) -> tuple[list[pb.TraitSetting], list[str]]:
    """The calls (newest first, with their keys) that set the trait, as the caller may see them;
    and the paths of the values shown in clear (for the access log)."""
    out: list[pb.TraitSetting] = []
    revealed: list[str] = []
    for event, key_type, key_value in calls:
        found = carried(event, trait)
        if found is None:
            continue
        path, stored = found
        shown = show_value(stored, trait, event.subject, event.type, clear, vault)
        if clear and not shown.erased and shown.value != stored:
            revealed.append(f"settings[].{path}")
        out.append(
            pb.TraitSetting(
                event_id=event.event_id,
                type=event.type,
                timestamp=event.timestamp,
                received_at=event.received_at,
                source_id=event.source_id,
                key_type=key_type,
                key_value=key_value,
                value=shown.value,
                masked=shown.masked,
                erased=shown.erased,
                current=current is not None and current.event_id == event.event_id,
                path=path,
            )
        )
    return out, sorted(set(revealed))
