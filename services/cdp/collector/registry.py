"""Sources and tracking plans: who may send (write keys), and what their calls must look like.

The registry is the state folded from the collector's source and plan events; its commands
return the events to store, which the collector commits and applies back.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, overload

import orjson
from eventsourcing.persistence import StoredEvent

from cdp.api.collector.v1 import collector_pb2 as pb
from cdp.collector.plans import CHOICES, MODE_SETTINGS, InvalidPlan, Settings, TrackingPlan, compile_plan
from cdp.platform import errors
from cdp.platform.clock import SYSTEM_CLOCK, Clock, now_iso
from cdp.platform.ids import derived_id
from cdp.platform.published import stored

TOPICS = (pb.SourceCreated, pb.SourceDisabled, pb.SourcePlanAssigned, pb.PlanPublished)


class UnknownWriteKey(errors.Unauthenticated):
    pass


class NotFound(errors.NotFound):
    pass


HINT_CHARS = 4  # of a write key, listed to tell keys apart (of 32 random characters)


@dataclass
class Source:
    source_id: str
    name: str
    write_key_hash: str
    write_key_hint: str
    server_side: bool
    disabled: bool = False
    plan_name: str = ""
    plan_settings: Settings = MODE_SETTINGS["allow"]
    plan_version: int = 0  # pinned to this version; 0: follows the latest
    write_key: str = ""  # in clear only on the Source create_source returns, never in state

    @property
    def plan_mode(self) -> str:
        return self.plan_settings.mode

    def to_proto(self) -> pb.Source:
        return pb.Source(
            source_id=self.source_id,
            name=self.name,
            write_key=self.write_key,
            write_key_hint=self.write_key_hint,
            server_side=self.server_side,
            disabled=self.disabled,
            plan_name=self.plan_name,
            plan_mode=self.plan_mode if self.plan_name else "",
            plan_settings=settings_proto(self.plan_settings) if self.plan_name else None,
            plan_version=self.plan_version if self.plan_name else 0,
        )


def settings_proto(settings: Settings) -> pb.PlanSettings:
    return pb.PlanSettings(**settings.as_dict())


def settings_of(message: pb.PlanSettings | None, mode: str = "", where: str = "settings") -> Settings:
    """The settings a request or a record gives: the mode's, each field set overriding it."""
    overrides = {name: getattr(message, name) for name in CHOICES} if message is not None else {}
    return Settings.of(mode, overrides, where)


class Registry:
    """hash_key(write_key): the keyed hash sources are stored and looked up by (Vault.write_key_hash)."""

    def __init__(self, store, hash_key: Callable[[str], str], clock: Clock = SYSTEM_CLOCK):
        self.clock = clock
        self.hash_key = hash_key
        self.store = store  # read only: a source's events, to number the next one
        self.clear()

    def clear(self) -> None:
        self.sources: dict[str, Source] = {}  # by source id
        self.by_key: dict[str, Source] = {}  # by the write key's hash
        self.plans: dict[str, TrackingPlan] = {}  # the latest version of each, compiled
        self.plan_documents: dict[str, pb.Plan] = {}  # the latest version of each
        self.plan_versions: dict[str, dict[int, pb.Plan]] = {}  # every version of each
        self._compiled: dict[tuple[str, int], TrackingPlan] = {}  # older versions, compiled when a source needs one

    def apply(self, message) -> None:
        if isinstance(message, pb.SourceCreated):
            s = message.source
            # A store from before write keys were hashed holds the key in clear: hashed here.
            key_hash = message.write_key_hash or self.hash_key(s.write_key)
            hint = s.write_key_hint or s.write_key[:HINT_CHARS]
            source = Source(s.source_id, s.name, key_hash, hint, s.server_side)
            self.sources[source.source_id] = self.by_key[key_hash] = source
        elif isinstance(message, pb.SourceDisabled):
            self.sources[message.source_id].disabled = True
        elif isinstance(message, pb.SourcePlanAssigned):
            source = self.sources[message.source_id]
            source.plan_name, source.plan_version = message.plan_name, message.plan_version
            # An older record has a mode alone; a custom one has its settings.
            given = message.settings if message.HasField("settings") else None
            source.plan_settings = settings_of(given, message.mode if message.mode in MODE_SETTINGS else "")
        elif isinstance(message, pb.PlanPublished):
            plan = message.plan
            self.plans[plan.name] = compile_plan(plan.name, plan.version, orjson.loads(plan.document))
            self.plan_documents[plan.name] = plan
            self.plan_versions.setdefault(plan.name, {})[plan.version] = plan

    # Reading -----------------------------------------------------------------

    @overload
    def named(self, name: str, missing_ok: Literal[False] = False) -> Source: ...

    @overload
    def named(self, name: str, missing_ok: bool) -> Source | None: ...

    def named(self, name: str, missing_ok: bool = False) -> Source | None:
        for source in self.sources.values():
            if source.name == name.strip():
                return source
        if missing_ok:
            return None
        raise NotFound(f"source_name: no source named {name!r}")

    def source_for(self, write_key: str) -> Source:
        source = self.by_key.get(self.hash_key(write_key)) if write_key else None
        if source is None or source.disabled:
            raise UnknownWriteKey("write_key: unknown or disabled write key")
        return source

    def plan_of(self, source: Source) -> TrackingPlan | None:
        """The plan the source's calls are checked against: the version it is pinned to, else the latest."""
        if not source.plan_name:
            return None
        latest = self.plans.get(source.plan_name)
        if not source.plan_version or latest is None or latest.version == source.plan_version:
            return latest
        key = (source.plan_name, source.plan_version)
        if key not in self._compiled:
            document = self.plan_versions[source.plan_name][source.plan_version].document
            self._compiled[key] = compile_plan(source.plan_name, source.plan_version, orjson.loads(document))
        return self._compiled[key]

    def plan_document(self, name: str, version: int = 0) -> pb.Plan:
        """One version of a plan as published (0: the latest)."""
        versions = self.plan_versions.get(name)
        if not versions:
            raise NotFound(f"name: no plan named {name!r}")
        if version < 0:
            raise errors.InvalidArgument("version", "must be 0 (the latest) or more")
        if version and version not in versions:
            raise NotFound(f"version: plan {name!r} has no version {version} (the latest is {max(versions)})")
        return versions[version or max(versions)]

    # Commands: the events to store -------------------------------------------

    def source_created(self, name: str, server_side: bool) -> tuple[StoredEvent, str]:
        """The event to store and the new write key (in clear: shown once, never stored)."""
        if not name.strip():
            raise errors.InvalidArgument("name", "is required")
        if self.named(name, missing_ok=True):
            raise errors.Conflict(f"name: a source named {name!r} exists")
        source_id = str(uuid.uuid4())
        write_key = secrets.token_urlsafe(24)
        proto = pb.Source(
            source_id=source_id, name=name.strip(), write_key_hint=write_key[:HINT_CHARS], server_side=server_side
        )
        created = pb.SourceCreated(
            source=proto, created_at=now_iso(self.clock), write_key_hash=self.hash_key(write_key)
        )
        return stored(uuid.UUID(source_id), 1, created), write_key

    def source_disabled(self, source: Source) -> list[StoredEvent]:
        if source.disabled:
            return []
        return [self._next_source_event(source, pb.SourceDisabled(source_id=source.source_id, at=now_iso(self.clock)))]

    def plan_assigned(
        self, source: Source, plan_name: str, mode: str = "", settings: pb.PlanSettings | None = None, version: int = 0
    ) -> StoredEvent:
        """Check the source's calls against a plan (none: plan_name empty), pinned to a version
        (0: following the latest), under the mode's settings with any of settings' fields
        overriding them."""
        if plan_name and plan_name not in self.plans:
            raise NotFound(f"plan_name: no plan named {plan_name!r}")
        chosen = settings_of(settings, mode)
        if version < 0:
            raise errors.InvalidArgument("plan_version", "must be 0 (follow the latest) or more")
        if version and not plan_name:
            raise errors.InvalidArgument("plan_version", "needs a plan_name")
        if version and version not in self.plan_versions[plan_name]:
            latest = self.plans[plan_name].version
            raise NotFound(f"plan_version: plan {plan_name!r} has no version {version} (the latest is {latest})")
        assigned = pb.SourcePlanAssigned(
            source_id=source.source_id,
            plan_name=plan_name,
            mode=chosen.mode,
            settings=settings_proto(chosen),
            plan_version=version,
            at=now_iso(self.clock),
        )
        return self._next_source_event(source, assigned)

    def plan_published(self, name: str, document_text: str) -> tuple[pb.Plan, StoredEvent]:
        if not name.strip():
            raise InvalidPlan("name: is required")
        try:
            document = orjson.loads(document_text)
        except orjson.JSONDecodeError as error:
            raise InvalidPlan(f"document: not JSON ({error})") from None
        previous = self.plan_documents.get(name)
        version = previous.version + 1 if previous else 1
        compile_plan(name, version, document)  # refuse a plan that does not compile
        plan = pb.Plan(
            name=name, version=version, document=orjson.dumps(document).decode(), published_at=now_iso(self.clock)
        )
        return plan, stored(derived_id("plan", name), version, pb.PlanPublished(plan=plan))

    def _next_source_event(self, source: Source, message) -> StoredEvent:
        originator = uuid.UUID(source.source_id)
        version = len(self.store.events_of(originator)) + 1
        return stored(originator, version, message)
