"""Activation: destinations, and deliveries of audience changes to them under egress policy."""

from __future__ import annotations

import dataclasses
import functools
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Protocol, cast

import orjson
from eventsourcing.persistence import StoredEvent

from cdp.activation import approval as approvals
from cdp.activation import consent as consents
from cdp.activation import domain
from cdp.activation.destinations import guard, registry
from cdp.activation.destinations.port import Outcome
from cdp.activation.destinations.webhook import new_webhook_secret
from cdp.api.activation.v1 import activation_pb2 as pb
from cdp.api.eventlog.v1 import eventlog_pb2
from cdp.api.profile.v1 import profile_pb2
from cdp.api.segment.v1 import segment_pb2
from cdp.platform.accesslog import AccessLog, Read
from cdp.platform.auth import Caller
from cdp.platform.clock import SYSTEM_CLOCK, Clock, format_iso, parse_iso
from cdp.platform.decisions import Decision
from cdp.platform.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from cdp.platform.eventlog import Upstream
from cdp.platform.held import Held, json_codec, key_pair, pair_key, proto_codec, written
from cdp.platform.ids import derived_id
from cdp.platform.personal import PII_DECISION
from cdp.platform.published import decode, topic_of
from cdp.platform.sealed import ERASED, class_name, holds_tokens, replace_tokens, tokens_in
from cdp.platform.snapshots import Later, SnapshotStore, shape_of
from cdp.platform.state import EventSourced
from cdp.platform.store import OriginatorId
from cdp.platform.unit_of_work import UnitOfWork
from cdp.platform.vault import Vault, is_token

MEMBERSHIP_TOPICS = topic_of(segment_pb2.MembershipEntered, segment_pb2.MembershipExited)
AUDIENCE_TOPICS = topic_of(segment_pb2.AudienceCreated, segment_pb2.AudienceUpdated, segment_pb2.AudienceArchived)
SEGMENT_TOPICS = (*MEMBERSHIP_TOPICS, *AUDIENCE_TOPICS)
_Membership = segment_pb2.MembershipEntered | segment_pb2.MembershipExited
_AudienceChange = segment_pb2.AudienceCreated | segment_pb2.AudienceUpdated | segment_pb2.AudienceArchived
PROFILE_TOPICS = topic_of(profile_pb2.ProfileChanged)
DESTINATION_TOPICS = topic_of(
    pb.DestinationCreated,
    pb.DestinationUpdated,
    pb.DestinationPaused,
    pb.DestinationResumed,
    pb.DestinationDisabled,
    pb.DestinationDeleted,
)
SYNC_TOPICS = topic_of(
    pb.SyncCreated, pb.SyncUpdated, pb.SyncPaused, pb.SyncResumed, pb.SyncDeleted, pb.SyncApprovalChanged
)
DELIVERY_TOPICS = topic_of(pb.DeliveryScheduled, pb.DeliveryAttempted, pb.DeliveryDeadLettered, pb.DeliveryReplayed)
PUBLISHED = (*DESTINATION_TOPICS, *SYNC_TOPICS, *DELIVERY_TOPICS)
SCHEDULED_TOPIC, REPLAYED_TOPIC = topic_of(pb.DeliveryScheduled, pb.DeliveryReplayed)
SECRET_CONTEXT = "destination"  # the vault's context of a destination's secrets
log = logging.getLogger(__name__)
EGRESS_DECISION = "data.cdp.egress.decision"
AUDIENCE_DECISION = "data.cdp.audience.decision"
SYNC_DECISION = "data.cdp.sync.decision"
ACTIVATION = Caller("service:activation", ("service",), "service")  # requests after a change it followed


def sealed_traits(profile: profile_pb2.Profile) -> dict:
    """A profile's traits for a payload: personal ones stay sealed (token, subject, call type), and
    so do traits holding personal values at depth (the value with its tokens, subject, call type)."""
    out = {}
    for name, trait in profile.traits.items():
        if trait.erased:
            continue
        value = orjson.loads(trait.value)
        if is_token(value):
            out[name] = {SEALED: value, "subject": trait.subject, "event_type": trait.event_type}
        elif holds_tokens(trait.value) and any(True for _ in tokens_in(value, name)):
            out[name] = {NESTED: value, "subject": trait.subject, "event_type": trait.event_type}
        else:
            out[name] = value
    return out


SEALED = "$pii"  # a personal value in a stored payload, decrypted only when it is sent
NESTED = "$pii_nested"  # a value holding personal values at depth, each decrypted only when sent


def sealed_names(traits: dict) -> tuple[set[str], set[str]]:
    """The names of a payload's sealed traits, and the class names of the values sealed at depth
    (a nested value's key; a URL parameter's own name)."""
    top: set[str] = set()
    nested: set[str] = set()
    for name, value in traits.items():
        if isinstance(value, dict) and SEALED in value:
            top.add(name)
        elif isinstance(value, dict) and NESTED in value:
            nested.update(class_name(field) for field, _ in tokens_in(value[NESTED], name))
    return top, nested


def withhold_nested(traits: dict, withheld: set[str]) -> list[str]:
    """Take out of the traits the values sealed at depth whose class names are withheld (they
    become null; a URL parameter empty); returns where, as trait.field."""
    taken: list[str] = []
    for name, value in traits.items():
        if not (isinstance(value, dict) and NESTED in value):
            continue

        def keep(field: str, token: str, name: str = name) -> Any:
            if class_name(field) in withheld:
                taken.append(f"{name}.{field}")
                return ERASED
            return token

        value[NESTED] = replace_tokens(value[NESTED], name, keep)
    return sorted(set(taken))


class ProfileReader(Protocol):
    """Profiles as profile holds them now, personal values sealed (as stored)."""

    async def sealed_profiles(self, person_ids: Sequence[str]) -> dict[str, profile_pb2.Profile]: ...


class AudienceDirectory(Protocol):
    """An audience as segment holds it now (name, version, status); raises NotFound when segment
    has no such audience."""

    async def audience(self, audience_id: str) -> segment_pb2.Audience: ...


# (sync, person id, action, cause, the membership change behind it if one): a delivery to schedule
Want = tuple[pb.Sync, str, str, str, pb.MembershipRef | None]


class ActivationApp(EventSourced):
    topics = PUBLISHED

    def __init__(
        self,
        uow: UnitOfWork,
        segment: Upstream,
        profiles: ProfileReader,
        audiences: AudienceDirectory,
        vault: Vault | None = None,
        clock: Clock = SYSTEM_CLOCK,
        access: AccessLog | None = None,
        allow_local: bool = False,
        snapshots: SnapshotStore | None = None,
    ):
        self.decider = uow.decider
        # Destinations on this machine or its private networks: the local profile only.
        self.allow_local = allow_local
        self.vault = vault
        self.access = access or AccessLog(uow, uow.decider.service)  # egress is recorded per delivery
        self.segment = segment  # segment's log, as far as activation has followed it
        self.profiles = profiles
        self.audiences = audiences
        self.audience_names: dict[str, str] = {}
        self.audience_info: dict[str, tuple[int, str]] = {}  # audience id -> (definition version, status)
        self.consents: dict[str, dict[str, consents.Choice]] = {}  # person -> their consent last seen
        self._rules: tuple[str, consents.ConsentRules] | None = None
        # sync id -> (the sync, its mapping digest): asked three times a delivery, and a sync's
        # mapping changes only in a new Sync (update_sync), so the digest is of that object.
        self._mapping_digests: dict[str, tuple[pb.Sync, str]] = {}
        self.on_scheduled: Callable[[str], None] = lambda delivery_id: None  # the delivery worker's
        self.on_destination: Callable[[str], None] = lambda destination_id: None  # resumed, edited
        super().__init__(uow, clock, snapshots)
        uow.on_commit(self._announce)

    def reset(self) -> None:
        self.destinations: dict[str, pb.Destination] = {}
        self.sealed_secrets: dict[str, dict[str, str]] = {}
        self.syncs: dict[str, pb.Sync] = {}
        self.deliveries: dict[str, domain.DeliveryState] = {}
        # What each sync last scheduled for a person: (a member there, the mapped fields' fingerprint).
        self.sent: dict[tuple[str, str], tuple[bool, str]] = {}
        # Per destination and person, the deliveries not yet delivered nor dead-lettered, in order:
        # only the first is sent; the next waits for its outcome.
        self.waiting: dict[tuple[str, str], list[str]] = {}
        self.sequence = 0
        self.approvals: dict[str, approvals.Approval] = {}  # sync id -> the approval state in force
        # Per destination, the deliveries waiting for a retry and those dead-lettered (the gauges').
        self.retrying: dict[str, set[str]] = {}
        self.dead: dict[str, set[str]] = {}

    # Snapshots: destinations, syncs and approvals whole; deliveries, what each sync sent and the
    # queues as pages read back as they are touched (cdp.platform.held). Payloads as the log holds
    # them (personal values as tokens, secrets sealed).

    def snapshot_state(self) -> dict[str, Any]:
        return {
            # Destinations, syncs, deliveries, queues and sets change in place: written now, under the lock.
            "destinations": written(self.destinations, DESTINATIONS),
            "sealed_secrets": written(self.sealed_secrets, SECRETS),
            "syncs": written(self.syncs, SYNCS),
            "deliveries": written(self.deliveries, DELIVERIES),
            "waiting": written(self.waiting, QUEUES),
            "retrying": written(self.retrying, SETS),
            "dead": written(self.dead, SETS),
            "sequence": self.sequence,
            "approvals": {s: _approval_data(a) for s, a in self.approvals.items()},
            "audience_info": {a: list(info) for a, info in self.audience_info.items()},
            # What each sync sent is replaced, never changed: copied.
            "sent": Later(functools.partial(written, dict(self.sent), SENT)),
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        fields = {"destinations", "sealed_secrets", "syncs", "deliveries", "waiting", "retrying", "dead"}
        if set(state) != {*fields, "sequence", "approvals", "audience_info", "sent"}:
            raise ValueError("activation snapshot: unexpected fields")
        self.destinations = Held(state["destinations"], DESTINATIONS).plain()
        self.sealed_secrets = Held(state["sealed_secrets"], SECRETS).plain()
        self.syncs = Held(state["syncs"], SYNCS).plain()
        self.sequence = int(state["sequence"])
        self.approvals = {str(s): _approval_of(a) for s, a in state["approvals"].items()}
        for audience_id, (version, status) in state["audience_info"].items():
            known, _ = self.audience_info.get(audience_id, (0, ""))
            self.audience_info[audience_id] = (max(known, int(version)), str(status))
        self.held.hold(self, "deliveries", Held(state["deliveries"], DELIVERIES))
        self.held.hold(self, "sent", Held(state["sent"], SENT))
        for name, codec in (("waiting", QUEUES), ("retrying", SETS), ("dead", SETS)):
            self.held.hold(self, name, Held(state[name], codec))

    def snapshot_shape(self) -> str:
        return shape_of(type(self), domain.DeliveryState, approvals.Approval, written)

    def apply(self, message) -> None:
        if isinstance(message, pb.DestinationCreated | pb.DestinationUpdated):
            self.destinations[message.destination.destination_id] = message.destination
            self.sealed_secrets[message.destination.destination_id] = dict(message.sealed_secrets)
            self._note_audiences(message.destination.destination_id)
        elif isinstance(message, pb.DestinationPaused | pb.DestinationResumed | pb.DestinationDisabled):
            destination = self.destinations[message.destination_id]
            destination.status = {
                pb.DestinationPaused: "paused",
                pb.DestinationResumed: "active",
                pb.DestinationDisabled: "disabled",
            }[type(message)]
            destination.disabled_reason = message.reason if isinstance(message, pb.DestinationDisabled) else ""
            if isinstance(message, pb.DestinationResumed):
                # The retry window starts again: time spent paused or disabled is not retrying.
                for delivery in self.deliveries.values():
                    if delivery.destination_id == message.destination_id and delivery.status == "pending":
                        delivery.series_started = delivery.next_attempt_at = ""
        elif isinstance(message, pb.DestinationDeleted):
            self.destinations[message.destination_id].status = "deleted"
        elif isinstance(message, pb.SyncCreated | pb.SyncUpdated):
            self.syncs[message.sync.sync_id] = message.sync
            self._note_audiences(message.sync.destination_id)
        elif isinstance(message, pb.SyncApprovalChanged):
            sync = self.syncs[message.sync_id]
            self.approvals[message.sync_id] = approvals.Approval(
                parse_fingerprint(message.sync_id, message.fingerprint),
                approvals.Status(message.status),
                message.requires_approval,
                message.decision_id,
                message.by,
            )
            sync.approval, sync.approval_decision_id = message.status, message.decision_id
            sync.requires_approval, sync.fingerprint = message.requires_approval, message.fingerprint
            sync.approved_by = message.by if message.action != "request" else ""
            sync.approval_reason = message.reason
            if message.audience_version:
                version, status = self.audience_info.get(sync.audience_id, (0, "active"))
                self.audience_info[sync.audience_id] = (max(version, message.audience_version), status)
        elif isinstance(message, pb.SyncPaused | pb.SyncResumed | pb.SyncDeleted):
            sync = self.syncs[message.sync_id]
            sync.status = {pb.SyncPaused: "paused", pb.SyncResumed: "active", pb.SyncDeleted: "deleted"}[type(message)]
            self._note_audiences(sync.destination_id)
        elif isinstance(message, pb.DeliveryScheduled):
            self.sequence += 1
            delivery = domain.DeliveryState(
                message.delivery_id,
                message.destination_id,
                message.audience_id,
                message.person_id,
                message.action,
                message.payload,
                message.decision_id,
                list(message.withheld),
                sync_id=message.sync_id,
                scheduled_at=message.scheduled_at,
                sequence=self.sequence,
            )
            self.deliveries[message.delivery_id] = delivery
            self.waiting.setdefault((delivery.destination_id, delivery.person_id), []).append(delivery.delivery_id)
            if message.sync_id:
                member = message.action in ("entered", "upsert")
                self.sent[(message.sync_id, message.person_id)] = (member, message.fingerprint)
        elif isinstance(message, pb.DeliveryAttempted):
            delivery = self.deliveries[message.delivery_id]
            delivery.attempts = message.attempt
            delivery.last_error = message.error
            delivery.next_attempt_at = message.next_attempt_at
            if not delivery.series_started:
                delivery.series_started = message.at
            delivery.history.append(
                domain.AttemptState(
                    message.attempt,
                    message.ok,
                    message.http_status,
                    message.error,
                    message.at,
                    message.latency_ms,
                    delivery.series,
                )
            )
            retrying = self.retrying.setdefault(delivery.destination_id, set())
            if message.next_attempt_at:
                retrying.add(delivery.delivery_id)
            else:
                retrying.discard(delivery.delivery_id)
            if message.ok:
                delivery.status = "delivered"
                self._done(delivery)
        elif isinstance(message, pb.DeliveryDeadLettered):
            delivery = self.deliveries[message.delivery_id]
            delivery.status = "dead_lettered"
            self.retrying.setdefault(delivery.destination_id, set()).discard(delivery.delivery_id)
            self.dead.setdefault(delivery.destination_id, set()).add(delivery.delivery_id)
            self._done(delivery)
        elif isinstance(message, pb.DeliveryReplayed):
            delivery = self.deliveries[message.delivery_id]
            self.sequence += 1
            delivery.status, delivery.sequence = "pending", self.sequence
            delivery.series += 1
            delivery.series_started = delivery.next_attempt_at = ""
            self.dead.setdefault(delivery.destination_id, set()).discard(delivery.delivery_id)
            self.waiting.setdefault((delivery.destination_id, delivery.person_id), []).append(delivery.delivery_id)

    def _done(self, delivery: domain.DeliveryState) -> None:
        key = (delivery.destination_id, delivery.person_id)
        queue = self.waiting.get(key, [])
        if delivery.delivery_id in queue:
            queue.remove(delivery.delivery_id)
        if not queue:
            self.waiting.pop(key, None)

    def _note_audiences(self, destination_id: str) -> None:
        """A destination lists the audiences of its syncs (what CreateDestination's callers read)."""
        destination = self.destinations.get(destination_id)
        if destination is not None:
            live = [
                s.audience_id
                for s in self.syncs.values()
                if s.destination_id == destination_id and s.status != "deleted"
            ]
            del destination.audience_ids[:]
            destination.audience_ids.extend(dict.fromkeys(live))

    def pending(self) -> list[domain.DeliveryState]:
        return [d for d in self.deliveries.values() if d.status == "pending"]

    def next_of(self, destination_id: str, person_id: str) -> str | None:
        """The delivery to send next to this destination for this person (the others wait for it)."""
        queue = self.waiting.get((destination_id, person_id))
        return queue[0] if queue else None

    def heads(self) -> list[str]:
        """The first waiting delivery of every destination and person, in stored order."""
        found = [queue[0] for queue in self.waiting.values() if queue]
        return sorted(found, key=lambda d: self.deliveries[d].sequence)

    def wait_before(self, delivery_id: str) -> float:
        """Seconds until a pending delivery's retry is due (0 when due or never attempted)."""
        due = self.deliveries[delivery_id].next_attempt_at
        return max((parse_iso(due) - self.clock.now()).total_seconds(), 0.0) if due else 0.0

    def sendable(self, destination_id: str) -> bool:
        destination = self.destinations.get(destination_id)
        return destination is not None and destination.status == "active"

    def may_send(self, sync_id: str) -> bool:
        """May this sync send now: its approval is of the fingerprint in force (four eyes)."""
        if not sync_id:
            return True  # a delivery of no sync (none are made any more)
        sync = self.syncs.get(sync_id)
        if sync is None or sync.status == "deleted":
            return False
        return approvals.may_send(self.approvals.get(sync_id), self.fingerprint(sync))

    def fingerprint(self, sync: pb.Sync) -> approvals.Fingerprint:
        destination = self.destinations.get(sync.destination_id)
        return approvals.Fingerprint(
            sync.sync_id,
            sync.version,
            self.audience_info.get(sync.audience_id, (0, ""))[0],
            self._mapping_digest(sync),
            destination.version if destination is not None else 0,
        )

    def _mapping_digest(self, sync: pb.Sync) -> str:
        cached = self._mapping_digests.get(sync.sync_id)
        if cached is None or cached[0] is not sync:
            cached = self._mapping_digests[sync.sync_id] = (sync, approvals.mapping_digest(mapping_shape(sync)))
        return cached[1]

    def policy_data(self) -> dict[str, Any]:
        """The policy bundle's data (purposes, consent categories, the destinations allowlist)."""
        bundle = getattr(self.decider.engine, "bundle", None)  # every engine holds the bundle it loaded
        return dict(bundle.data) if bundle is not None else {}

    def consent_rules(self) -> consents.ConsentRules:
        """What policy data says of consent, rebuilt when the policy revision changes."""
        revision = self.decider.revision
        if self._rules is None or self._rules[0] != revision:
            self._rules = (revision, consents.ConsentRules.from_policy_data(self.policy_data()))
        return self._rules[1]

    def limits(self, destination_id: str) -> domain.Limits:
        d = self.destinations[destination_id]
        return domain.Limits(
            d.retry_window_s or domain.RETRY_WINDOW_S,
            d.max_backoff_s or domain.MAX_BACKOFF_S,
            d.concurrency or domain.CONCURRENCY,
            d.rate_per_s or domain.RATE_PER_S,
        )

    def secrets(self, destination_id: str) -> dict[str, str]:
        """The destination's secrets in clear, for opening it (never returned by any call)."""
        sealed = self.sealed_secrets.get(destination_id, {})
        if not sealed or self.vault is None:
            return {}
        subject = secret_subject(destination_id)
        out = {}
        for name, token in sealed.items():
            clear = self.vault.decrypt(subject, SECRET_CONTEXT, name, token)
            if clear is not None:
                out[name] = clear
        return out

    # Destinations --------------------------------------------------------------

    def destination(self, destination_id: str) -> pb.Destination:
        found = self.destinations.get(destination_id)
        if found is None or found.status == "deleted":
            raise NotFound(f"destination {destination_id!r} not found")
        return found

    def list_destinations(self) -> list[pb.Destination]:
        return [d for d in self.destinations.values() if d.status != "deleted"]

    def _settings(
        self,
        destination_id: str,
        type_: str,
        url: str,
        settings: pb.DestinationSettings,
        purpose: str,
        old: pb.Destination | None = None,
    ) -> tuple[domain.Limits, list[str], list[str], dict[str, Any], dict[str, str]]:
        limits = domain.check_limits(
            settings.retry_window_s or (old.retry_window_s if old else 0.0),
            settings.max_backoff_s or (old.max_backoff_s if old else 0.0),
            settings.concurrency or (old.concurrency if old else 0),
            settings.rate_per_s or (old.rate_per_s if old else 0.0),
        )
        purposes = [p.strip() for p in settings.purposes] or ([purpose.strip()] if purpose.strip() else [])
        for n, p in enumerate(purposes):
            if not p:
                raise domain.InvalidDestination(f"settings.purposes[{n}]: must not be empty")
        categories = [c.strip() for c in settings.consent_categories] or (list(old.consent_categories) if old else [])
        self._check_purposes(destination_id, type_, purposes, categories)
        shown, secrets = self._config(type_, url, settings, old)
        return limits, purposes, categories, shown, {k: str(v) for k, v in secrets.items()}

    def _check_purposes(self, destination_id: str, type_: str, purposes: list[str], categories: list[str]) -> None:
        """Purposes and consent categories must be those policy data lists: egress is asked."""
        known = self.consent_rules().aliases
        for n, category in enumerate(categories):
            if category not in known:
                raise InvalidArgument(
                    f"settings.consent_categories[{n}]",
                    f"{category!r} is not a consent category of policy data (one of {', '.join(sorted(known))})",
                )
        decision = self.decider.decide(
            EGRESS_DECISION,
            {
                "destination": {
                    "id": destination_id,
                    "type": type_,
                    "purposes": purposes,
                    "consent_categories": categories,
                },
                "properties": [],
                "consent": {},
            },
        )
        refused = decision.result.get("refused", [])
        for n, p in enumerate(purposes):
            if f"unknown purpose {p}" in refused:
                raise InvalidArgument(f"settings.purposes[{n}]", f"unknown purpose {p!r}: not a purpose of policy data")

    def _config(
        self, kind: str, url: str, settings: pb.DestinationSettings, old: pb.Destination | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The kind's whole configuration (an edit's over the old one, secrets kept unless given
        anew), checked by the kind's rules and the egress guard; returned as (shown, secret)."""
        whole: dict[str, Any] = {}
        if old is not None:
            whole.update(config_of(old))
            whole.update(self.secrets(old.destination_id))
        whole.update(settings.config)
        if settings.config_json:
            try:
                given = orjson.loads(settings.config_json)
            except orjson.JSONDecodeError:
                given = None
            if not isinstance(given, dict):
                raise InvalidArgument("settings.config_json", "must be a JSON object")
            whole.update(given)
        secret_names = registry.SECRET_FIELDS[kind]
        for name, value in settings.secrets.items():
            if name not in secret_names:
                raise InvalidArgument(
                    f"settings.secrets.{name}",
                    f"{kind} has no such secret (its secrets: {', '.join(secret_names) or 'none'})",
                )
            whole[name] = value
        if url:
            whole["url"] = url
        if kind == "webhook" and not whole.get("secret"):
            whole["secret"] = new_webhook_secret()  # every webhook is signed; --secret sets a known one
        registry.check_config(kind, whole)
        guard.check_address(kind, whole, guard.allowed_hosts(self.policy_data()), self.allow_local)
        return registry.split_secrets(kind, whole)

    def _seal(self, destination_id: str, secrets: dict[str, str]) -> dict[str, str]:
        if not secrets:
            return {}
        if self.vault is None:
            raise domain.InvalidDestination("settings.secrets: this service has no vault to keep them in")
        subject = secret_subject(destination_id)
        return {name: self.vault.encrypt(subject, SECRET_CONTEXT, name, value) for name, value in secrets.items()}

    async def create_destination(self, request: pb.CreateDestinationRequest, caller: Caller) -> pb.Destination:
        settings = request.settings
        purpose = request.purpose or (settings.purposes[0] if settings.purposes else "")
        type_ = request.type or "webhook"
        if type_ not in registry.KINDS:
            raise InvalidArgument("type", f"must be one of {', '.join(registry.KINDS)}")
        domain.check_destination(request.name, type_, request.url, purpose)
        destination_id = str(uuid.uuid4())
        limits, purposes, categories, config, secrets = self._settings(
            destination_id, type_, request.url, settings, purpose
        )
        for audience_id in dict.fromkeys(request.audience_ids):
            await self._check_audience(audience_id, caller, "audience_ids")
        destination = pb.Destination(
            destination_id=destination_id,
            name=request.name.strip(),
            type=type_,
            url=str(config.get("url", "")),
            purpose=purposes[0],
            purposes=purposes,
            consent_categories=categories,
            config=shown_strings(config),
            config_json=orjson.dumps(config, option=orjson.OPT_SORT_KEYS).decode(),
            retry_window_s=limits.retry_window_s,
            max_backoff_s=limits.max_backoff_s,
            concurrency=limits.concurrency,
            rate_per_s=limits.rate_per_s,
            version=1,
            status="active",
            secret_fields=sorted(secrets),
        )
        created = pb.DestinationCreated(
            destination=destination, created_at=self.now_iso(), sealed_secrets=self._seal(destination_id, secrets)
        )
        async with self.uow.transaction() as tx:
            self.apply(created)
            tx.add([self.next_event(uuid.UUID(destination_id), created)])
            # Sugar for a sync per audience: each sends the audience's current members first.
            for audience_id in dict.fromkeys(request.audience_ids):
                sync = self._new_sync(destination_id, audience_id, "membership", pb.Mapping(), caller)
                tx.add(await self._start_sync(sync, pb.SyncCreated(sync=sync), caller))
        return self.destinations[destination_id]

    async def update_destination(self, request: pb.UpdateDestinationRequest, caller: Caller) -> pb.Destination:
        old = self.destination(request.destination_id)
        name = request.name.strip() or old.name
        settings = request.settings
        purpose = settings.purposes[0] if settings.purposes else old.purpose
        domain.check_destination(name, old.type, request.url, purpose)
        given = pb.DestinationSettings()
        given.CopyFrom(settings)
        if not given.purposes:
            given.purposes.extend(old.purposes)
        limits, purposes, categories, config, secrets = self._settings(
            old.destination_id, old.type, request.url, given, purpose, old
        )
        sealed = self._seal(old.destination_id, secrets)
        destination = pb.Destination()
        destination.CopyFrom(old)
        destination.name, destination.url, destination.purpose = name, str(config.get("url", "")), purposes[0]
        del destination.purposes[:]
        destination.purposes.extend(purposes)
        del destination.consent_categories[:]
        destination.consent_categories.extend(categories)
        destination.config.clear()
        destination.config.update(shown_strings(config))
        destination.config_json = orjson.dumps(config, option=orjson.OPT_SORT_KEYS).decode()
        destination.retry_window_s, destination.max_backoff_s = limits.retry_window_s, limits.max_backoff_s
        destination.concurrency, destination.rate_per_s = limits.concurrency, limits.rate_per_s
        destination.version = old.version + 1
        del destination.secret_fields[:]
        destination.secret_fields.extend(sorted(sealed))
        updated = pb.DestinationUpdated(destination=destination, updated_at=self.now_iso(), sealed_secrets=sealed)
        async with self.uow.transaction() as tx:
            self.apply(updated)
            tx.add([self.next_event(uuid.UUID(old.destination_id), updated)])
            # A new destination version: what its syncs send was not approved for it.
            for sync in self.list_syncs(old.destination_id):
                tx.add(await self._request_approval(sync, caller))
        return self.destinations[old.destination_id]

    async def set_destination_state(self, destination_id: str, state: str) -> pb.Destination:
        """pause, resume or delete. A paused or disabled destination keeps its deliveries pending
        (stored, in order) and sends them when resumed; delete is refused while it has syncs."""
        destination = self.destination(destination_id)
        at = self.now_iso()
        event: Any
        if state == "pause":
            event = pb.DestinationPaused(destination_id=destination_id, at=at)
        elif state == "resume":
            event = pb.DestinationResumed(destination_id=destination_id, at=at)
        else:
            live = [
                s.sync_id for s in self.syncs.values() if s.destination_id == destination_id and s.status != "deleted"
            ]
            if live:
                raise Conflict(f"destination_id: the destination has syncs ({', '.join(live)}); delete them first")
            event = pb.DestinationDeleted(destination_id=destination_id, at=at)
        async with self.uow.transaction() as tx:
            self.apply(event)
            tx.add([self.next_event(uuid.UUID(destination_id), event)])
        return destination

    async def _check_audience(self, audience_id: str, caller: Caller, field: str) -> None:
        try:
            audience = await self.audiences.audience(audience_id)  # must exist
        except NotFound as error:
            raise InvalidArgument(field, str(error)) from None
        self.audience_names[audience_id] = audience.name
        version, _ = self.audience_info.get(audience_id, (0, ""))
        self.audience_info[audience_id] = (max(version, int(audience.version)), audience.status or "active")
        decision = self.decider.decide(
            AUDIENCE_DECISION,
            {
                "action": "activate",
                "caller": caller.as_input(),
                "audience": {
                    "name": audience.name,
                    "traits": [],
                    "events": [],
                    "status": audience.status or "active",
                },
            },
            caller=caller.subject,
        )
        if not decision.result.get("allow"):
            self.uow.commit()  # a refusal is recorded too
            raise PermissionDenied(list(decision.result.get("reasons", [])), decision.id, field=field)

    # Syncs ---------------------------------------------------------------------------

    def sync(self, sync_id: str) -> pb.Sync:
        found = self.syncs.get(sync_id)
        if found is None or found.status == "deleted":
            raise NotFound(f"sync {sync_id!r} not found")
        return found

    def list_syncs(self, destination_id: str = "") -> list[pb.Sync]:
        return [
            s
            for s in self.syncs.values()
            if s.status != "deleted" and (not destination_id or s.destination_id == destination_id)
        ]

    def list_pending_syncs(self) -> list[pb.Sync]:
        return [s for s in self.list_syncs() if s.approval == approvals.Status.PENDING]

    def _new_sync(
        self, destination_id: str, audience_id: str, mode: str, mapping: pb.Mapping, caller: Caller
    ) -> pb.Sync:
        checked_mapping(mode, mapping)
        return pb.Sync(
            sync_id=str(uuid.uuid4()),
            destination_id=destination_id,
            audience_id=audience_id,
            mode=mode,
            mapping=mapping,
            version=1,
            status="active",
            created_at=self.now_iso(),
            author=caller.subject,
        )

    async def create_sync(self, request: pb.CreateSyncRequest, caller: Caller) -> pb.Sync:
        try:
            self.destination(request.destination_id)
        except NotFound as error:
            raise InvalidArgument("destination_id", str(error)) from None
        sync = self._new_sync(
            request.destination_id, request.audience_id, request.mode or "membership", request.mapping, caller
        )
        await self._check_audience(request.audience_id, caller, "audience_id")
        async with self.uow.transaction() as tx:
            tx.add(await self._start_sync(sync, pb.SyncCreated(sync=sync), caller))
        return self.syncs[sync.sync_id]

    async def update_sync(self, request: pb.UpdateSyncRequest, caller: Caller) -> pb.Sync:
        old = self.sync(request.sync_id)
        sync = pb.Sync()
        sync.CopyFrom(old)
        sync.mode = request.mode or old.mode
        if request.HasField("mapping"):
            sync.mapping.CopyFrom(request.mapping)
        checked_mapping(sync.mode, sync.mapping)
        sync.version = old.version + 1
        sync.author = caller.subject  # who wrote this version (may not approve it)
        async with self.uow.transaction() as tx:
            tx.add(await self._start_sync(sync, pb.SyncUpdated(sync=sync), caller))
        return self.syncs[sync.sync_id]

    async def set_sync_state(self, sync_id: str, state: str) -> pb.Sync:
        """pause, resume or delete. A paused sync sends nothing; on resume the destination gets the
        difference between what it was sent and what is true now (changes in between that undid
        each other send nothing). Delete stops the sync; what it sent stays at the destination."""
        sync = self.sync(sync_id)
        at = self.now_iso()
        async with self.uow.transaction() as tx:
            if state == "pause":
                event: Any = pb.SyncPaused(sync_id=sync_id, at=at)
            elif state == "resume":
                event = pb.SyncResumed(sync_id=sync_id, at=at)
            else:
                event = pb.SyncDeleted(sync_id=sync_id, at=at)
            tx.add(await self._start_sync(sync, event) if state == "resume" else self._event_of(sync, event))
        return sync

    def _event_of(self, sync: pb.Sync, event: Any) -> list[StoredEvent]:
        self.apply(event)
        return [self.next_event(uuid.UUID(sync.sync_id), event)]

    async def _start_sync(self, sync: pb.Sync, event: Any, caller: Caller = ACTIVATION) -> list[StoredEvent]:
        """Store the sync's event, ask for approval of what is new, then (approved) send what its
        destination lacks."""
        events = self._event_of(sync, event)
        sync = self.syncs[sync.sync_id]
        events += await self._request_approval(sync, caller)
        return events + await self._run_sync(sync)

    # Four eyes -------------------------------------------------------------------------------

    def _sync_fields(self, sync: pb.Sync) -> tuple[list[str], list[str]]:
        """The traits a sync would send, and those known to be personal without a name: with no
        mapping it sends every trait egress allows, personal whenever a purpose allows a personal
        class ("*" stands for them)."""
        fields = [f.trait for f in sync.mapping.fields]
        if fields:
            return fields, []
        destination = self.destinations.get(sync.destination_id)
        purposes = (self.policy_data().get("cdp") or {}).get("purposes") or {}
        declared = list(destination.purposes) if destination is not None else []
        opens = any((purposes.get(p) or {}).get("allowed_classes") for p in declared)
        return [], ["*"] if opens else []

    def _sync_question(self, sync: pb.Sync, action: str, caller: Caller, fingerprint: approvals.Fingerprint) -> dict:
        fields, personal = self._sync_fields(sync)
        return {
            "action": action,
            "caller": caller.as_input(),
            "sync": {
                "id": sync.sync_id,
                "author": sync.author or "unknown",
                "version": fingerprint.as_input(),
                "fields": fields,
                "personal_fields": personal,
            },
        }

    def _approval_event(
        self, sync: pb.Sync, approval: approvals.Approval, action: str, by: str, reason: str = ""
    ) -> list[StoredEvent]:
        event = pb.SyncApprovalChanged(
            sync_id=sync.sync_id,
            status=approval.status.value,
            decision_id=approval.decision_id,
            by=by,
            fingerprint=approval.fingerprint.as_input(),
            requires_approval=approval.requires_approval,
            reason=reason,
            at=self.now_iso(),
            action=action,
            audience_version=approval.fingerprint.audience_version,
        )
        return self._event_of(sync, event)

    async def _request_approval(self, sync: pb.Sync, caller: Caller) -> list[StoredEvent]:
        """A recorded cdp.sync request for the fingerprint in force, unless it is the one the
        approval state is of already: pending when the sync sends personal data, else approved."""
        if sync.status == "deleted":
            return []
        fingerprint = self.fingerprint(sync)
        current = self.approvals.get(sync.sync_id)
        if current is not None and current.fingerprint == fingerprint:
            return []
        decision = self.decider.decide(
            SYNC_DECISION, self._sync_question(sync, "request", caller, fingerprint), caller=caller.subject
        )
        approval = approvals.decided(current, fingerprint, "request", decision.result, decision.id, caller.subject)
        return self._approval_event(sync, approval, "request", caller.subject)

    async def decide_sync(
        self, sync_id: str, action: str, caller: Caller, fingerprint: str = "", reason: str = ""
    ) -> pb.Sync:
        """approve or reject the sync's version in force (four eyes: cdp.sync decides who may);
        an approved sync then sends what its destination lacks."""
        sync = self.sync(sync_id)
        in_force = self.fingerprint(sync)
        if fingerprint and fingerprint != in_force.as_input():
            raise Conflict(f"fingerprint: the sync changed since {fingerprint} was shown (now {in_force.as_input()})")
        decision = self.decider.decide(
            SYNC_DECISION, self._sync_question(sync, action, caller, in_force), caller=caller.subject
        )
        try:
            approval = approvals.decided(
                self.approvals.get(sync_id), in_force, action, decision.result, decision.id, caller.subject
            )
        except PermissionDenied:
            self.uow.commit()  # a refusal is recorded too
            raise
        async with self.uow.transaction() as tx:
            tx.add(self._approval_event(sync, approval, action, caller.subject, reason))
            tx.add(await self._run_sync(self.syncs[sync_id]))
        return self.syncs[sync_id]

    async def _run_sync(self, sync: pb.Sync) -> list[StoredEvent]:
        """What the sync's destination lacks: the members it was not sent (all of them at first),
        exits of those no longer members, and, by record, changed records. Nothing unless the sync
        is active and approved."""
        if sync.status != "active" or not self.may_send(sync.sync_id):
            return []
        members = await self._memberships_seen()
        now = {person for audience, person in members if audience == sync.audience_id}
        was = {p for (s, p), (member, _) in self.sent.items() if s == sync.sync_id and member}
        run = f"run-{self.versions[sync.sync_id]}"
        enter, leave = domain.sync_actions(sync.mode)
        # The members in the order they entered, then those who left.
        order = sorted(now, key=lambda p: members[(sync.audience_id, p)].id)
        changes = [(p, enter) for p in order if p not in was or sync.mode != "membership"]
        changes += [(p, leave) for p in sorted(was - now)]
        return await self._schedule(
            [
                (
                    sync,
                    person,
                    action,
                    run,
                    membership_ref(members[(sync.audience_id, person)]) if person in now else None,
                )
                for person, action in changes
            ]
        )

    async def _memberships_seen(self) -> dict[tuple[str, str], eventlog_pb2.Notification]:
        """The latest entered notification of every current membership, up to activation's position."""
        current: dict[tuple[str, str], eventlog_pb2.Notification] = {}
        async for n in self.segment.history():
            if n.topic not in MEMBERSHIP_TOPICS:
                continue
            message = cast(_Membership, decode(n.topic, n.payload))
            if not message.person_id:
                continue  # an account's membership: not sent yet
            key = (message.audience_id, message.person_id)
            if isinstance(message, segment_pb2.MembershipEntered):
                current[key] = n
            else:
                current.pop(key, None)
        return current

    # Following -------------------------------------------------------------------

    async def handle_memberships(self, notifications) -> Sequence[StoredEvent]:
        wanted: list[Want] = []
        events: list[StoredEvent] = []
        accounts = 0
        for n in notifications:
            if n.topic in AUDIENCE_TOPICS:
                events += await self._audience_changed(cast(_AudienceChange, decode(n.topic, n.payload)).audience)
                continue
            message = cast(_Membership, decode(n.topic, n.payload))  # MEMBERSHIP_TOPICS
            if not message.person_id:
                accounts += 1  # an account-level audience: syncs send persons only, for now
                continue
            entered = isinstance(message, segment_pb2.MembershipEntered)
            for sync in self.syncs.values():
                if sync.audience_id == message.audience_id and sync.status == "active":
                    actions = domain.sync_actions(sync.mode)
                    cause, ref = membership_cause(n), membership_ref(n, message)
                    wanted.append((sync, message.person_id, actions[0 if entered else 1], cause, ref))
        if accounts:
            log.debug("%d account membership change(s) not scheduled: syncs send persons only", accounts)
        return events + await self._schedule(wanted)

    async def _audience_changed(self, audience: segment_pb2.Audience) -> list[StoredEvent]:
        """A new definition of an audience (or its archiving): its syncs' approvals are of the
        earlier one, so each asks again."""
        self.audience_names[audience.audience_id] = audience.name
        known, _ = self.audience_info.get(audience.audience_id, (0, ""))
        self.audience_info[audience.audience_id] = (max(known, int(audience.version)), audience.status or "active")
        if int(audience.version) <= known:
            return []
        events: list[StoredEvent] = []
        for sync in self.list_syncs():
            if sync.audience_id == audience.audience_id:
                events += await self._request_approval(sync, ACTIVATION)
        return events

    async def handle_profiles(self, notifications) -> Sequence[StoredEvent]:
        """A member's profile changed: upsert syncs send the record again if a mapped field changed
        (the profile is read as it is now, so a change seen late never sends an older record); a
        consent withdrawn takes the person out of every destination that holds them and needs it."""
        live = [s for s in self.syncs.values() if s.status == "active"]
        if not live:
            return []  # nothing is synced: the profiles need not even be decoded
        wanted: list[Want] = []
        for n in notifications:
            profile = cast(profile_pb2.ProfileChanged, decode(n.topic, n.payload)).profile
            person_id = profile.person_id
            cause = f"profile-{n.originator_id}-{n.originator_version}"
            withdrawn = self._withdrawn(person_id, profile, live)
            for sync in live:
                if not self.sent.get((sync.sync_id, person_id), (False,))[0]:
                    continue
                if sync.destination_id in withdrawn:
                    wanted.append((sync, person_id, domain.sync_actions(sync.mode)[1], cause, None))
                elif sync.mode == "upsert":
                    wanted.append((sync, person_id, "upsert", cause, None))
        return await self._schedule(wanted)

    def _withdrawn(self, person_id: str, profile: profile_pb2.Profile, live: Sequence[pb.Sync]) -> set[str]:
        """The destinations of these syncs the person's consent was withdrawn for since last seen."""
        holding = {s.destination_id for s in live if self.sent.get((s.sync_id, person_id), (False,))[0]}
        if not holding:
            self.consents.pop(person_id, None)  # kept only for persons some destination holds
            return set()
        before = self.consents.get(person_id, {})
        after: dict[str, consents.Choice] = dict(profile.consent)
        self.consents[person_id] = after
        if not after or after == before:
            return set()
        destinations = [
            consents.Destination(
                d, tuple(self.destinations[d].purposes), tuple(self.destinations[d].consent_categories)
            )
            for d in holding
            if d in self.destinations
        ]
        return set(consents.revoked_since(before, after, self.consent_rules(), destinations))

    def egress_input(
        self,
        destination: pb.Destination,
        sync: pb.Sync,
        person_id: str,
        properties: list[str],
        consent: dict[str, bool] | None = None,
    ) -> dict:
        """The input of a delivery's egress decision, built here only: the destination's purposes
        and consent categories, the person's consent (always given, even empty: a category not
        stated is denied), and the sync's approval state."""
        return {
            "destination": {
                "id": destination.destination_id,
                "type": destination.type,
                "purpose": destination.purpose,
                "purposes": list(destination.purposes) or [destination.purpose],
                "consent_categories": list(destination.consent_categories),
            },
            "properties": properties,
            "consent": consent or {},
            "sync": {"id": sync.sync_id, "approval": "approved" if self.may_send(sync.sync_id) else "pending"},
        }

    async def _schedule(self, wanted: Sequence[Want]) -> list[StoredEvent]:
        wanted = [w for w in wanted if w[0].destination_id in self.destinations]
        if not wanted:
            return []
        person_ids = list(dict.fromkeys(person for _, person, _, _, _ in wanted))
        # As stored: personal values stay tokens until the moment they are sent.
        profiles = await self.profiles.sealed_profiles(person_ids)
        events: list[StoredEvent] = []
        for sync, person_id, wanted_action, wanted_cause, membership in wanted:
            action, cause = wanted_action, wanted_cause
            if not self.may_send(sync.sync_id):
                continue  # pending or rejected: nothing is scheduled (approval sends the difference)
            destination = self.destinations[sync.destination_id]
            mapping = checked_mapping(sync.mode, sync.mapping)
            member = action in ("entered", "upsert")
            profile = profiles.get(person_id)
            all_traits = sealed_traits(profile) if profile else {}
            chosen = mapping.traits(set(all_traits)) if action != "delete" else []
            traits = {name: all_traits[name] for name in chosen}
            last = self.sent.get((sync.sync_id, person_id))
            held = bool(last and last[0])
            stated = dict(profile.consent) if profile else {}
            consent = consents.egress_consent(
                stated, self.consent_rules(), destination.purposes, destination.consent_categories
            )
            verdict = self._egress(destination, sync, person_id, traits, consent)
            if verdict.result.get("refused"):
                # Egress refuses the person (consent denied or missing): nothing of them is sent;
                # a destination that holds them gets their removal, carrying this decision.
                if not held or not (verdict.result.get("remove") or not member):
                    continue
                action = domain.sync_actions(sync.mode)[1]
                member, traits = False, {}
                cause = f"{cause}-removed"
            print_ = domain.fingerprint(traits) if sync.mode != "membership" and member else ""
            if member and last == (True, print_):
                continue  # the destination has this already (or a change of a trait it does not map)
            if not member and not held:
                continue  # it was never sent the entry, or was sent the exit
            delivery_id = str(derived_id("delivery", sync.sync_id, cause, person_id, action))
            if delivery_id in self.deliveries:
                continue
            body, decision_id, withheld = self._body(
                destination, sync, mapping, delivery_id, action, person_id, traits, consent, verdict
            )
            body["audience"]["name"] = await self._audience_name(sync.audience_id)
            scheduled = pb.DeliveryScheduled(
                delivery_id=delivery_id,
                destination_id=destination.destination_id,
                audience_id=sync.audience_id,
                person_id=person_id,
                action=action,
                payload=orjson.dumps(body).decode(),
                decision_id=decision_id,
                withheld=withheld,
                scheduled_at=self.now_iso(),
                sync_id=sync.sync_id,
                fingerprint=print_,
                cause=cause,
                sync_version=sync.version,
                audience_version=self.audience_info.get(sync.audience_id, (0, ""))[0],
                membership=membership,
                consent=self._consent_used(stated, destination),
                approval_decision_id=sync.approval_decision_id,
            )
            self.apply(scheduled)
            events.append(self.next_event(uuid.UUID(delivery_id), scheduled))
        return events

    def _consent_used(self, stated: dict, destination: pb.Destination) -> list[pb.ConsentUsed]:
        """The person's choices the egress question was asked with, each with the call that stated it."""
        rules = self.consent_rules()
        needed = rules.needed(destination.purposes, destination.consent_categories)
        chosen = consents.resolved(stated, rules, needed)
        return [
            pb.ConsentUsed(
                category=category,
                granted=choice.granted,
                name=next((n for n in sorted(rules.names(category)) if stated.get(n) is choice), category),
                event_id=choice.event_id,
                at=choice.at,
                source=getattr(choice, "source", ""),
            )
            for category, choice in sorted(chosen.items())
        ]

    def _egress(
        self, destination: pb.Destination, sync: pb.Sync, person_id: str, traits: dict, consent: dict[str, bool]
    ) -> Decision:
        """cdp.egress on these traits (values sealed at depth are decided by their class names as
        well as the traits by theirs)."""
        _, nested = sealed_names(traits)
        names = sorted(set(traits) | nested)
        approval = self.approvals.get(sync.sync_id)
        return self.decider.decide(
            EGRESS_DECISION,
            self.egress_input(destination, sync, person_id, names, consent),
            key=(
                destination.destination_id,
                destination.version,
                destination.type,
                tuple(destination.purposes),
                tuple(destination.consent_categories),
                tuple(sorted(consent.items())),
                sync.sync_id,
                approval.status.value if approval else "",
                *names,
            ),
        )

    def _body(
        self,
        destination: pb.Destination,
        sync: pb.Sync,
        mapping: domain.Mapping,
        delivery_id: str,
        action: str,
        person_id: str,
        traits: dict,
        consent: dict[str, bool],
        decision: Decision | None = None,
    ) -> tuple[dict, str, list[str]]:
        top_sealed, nested = sealed_names(traits)
        decision = decision or self._egress(destination, sync, person_id, traits, consent)
        allowed, withheld = list(decision.result.get("allowed", [])), list(decision.result.get("withheld", []))
        by_value = self._personal_by_value(top_sealed | nested)
        if by_value:
            # Sealed, yet personal by no name policy classes: personal by value, a class no
            # purpose can be shown to allow, so it never leaves.
            allowed = [n for n in allowed if n not in by_value]
            withheld = sorted(set(withheld) | (by_value & top_sealed))
        withheld += withhold_nested(traits, set(withheld) | by_value)
        for name, value in traits.items():
            if isinstance(value, dict) and (SEALED in value or NESTED in value):
                value["trait"] = name  # the encryption context, when the mapping renames it
        body = domain.payload(
            delivery_id=delivery_id,
            action=action,
            audience_id=sync.audience_id,
            audience_name="",
            person_id=person_id,
            traits=traits,
            allowed=allowed,
            withheld=withheld,
            decision_id=decision.id,
            at=self.now_iso(),
            mapping=mapping,
            sync_id=sync.sync_id if sync.mode != "membership" else "",
        )
        return body, decision.id, withheld

    def _personal_by_value(self, sealed: set[str]) -> set[str]:
        """Of these sealed names, those cdp.pii does not name personal (sealed for their value)."""
        if not sealed:
            return set()
        fields = sorted(sealed)
        decision = self.decider.decide(
            PII_DECISION, {"event_type": "", "fields": fields, "qualified": []}, key=("", *fields, "\x00")
        )
        return sealed - set(decision.result.get("personal", ()))

    def _announce(self, events: Sequence[StoredEvent], existing: set[OriginatorId]) -> None:
        """Hand each committed delivery to the delivery worker (never one that may not be stored)."""
        for event in events:
            if event.topic in (SCHEDULED_TOPIC, REPLAYED_TOPIC):
                self.on_scheduled(str(event.originator_id))
            elif event.topic in DESTINATION_TOPICS:
                self.on_destination(str(event.originator_id))

    async def _audience_name(self, audience_id: str) -> str:
        name = self.audience_names.get(audience_id)
        if name is None:
            name = self.audience_names[audience_id] = (await self.audiences.audience(audience_id)).name
        return name

    def reveal(self, payload: str) -> bytes:
        """The body to send: personal values decrypted; those of forgotten subjects left out."""
        return self.revealed(payload)[0]

    def revealed(self, payload: str) -> tuple[bytes, list[str]]:
        """The body to send, and the paths of the personal values it carries in clear."""
        body = orjson.loads(payload)
        traits = body.get("traits", {})
        fields = []
        for name, value in list(traits.items()):
            trait = value.get("trait", name) if isinstance(value, dict) else name
            if isinstance(value, dict) and NESTED in value:
                traits[name] = self._reveal_nested(trait, value, body)
            elif isinstance(value, dict) and SEALED in value:
                clear = (
                    self.vault.decrypt(value["subject"], value["event_type"], trait, value[SEALED])
                    if self.vault
                    else None
                )
                if clear is None:
                    del traits[name]
                    body.setdefault("erased", []).append(name)
                else:
                    traits[name] = orjson.loads(clear)
                    fields.append(f"traits.{name}")
        return orjson.dumps(body), fields

    async def record_egress(self, delivery: domain.DeliveryState, fields: list[str]) -> None:
        """A delivery's personal values are a read by its destination, under its purpose and the
        egress decision the delivery relied on: recorded (per attempt) before they are sent."""
        destination = self.destinations[delivery.destination_id]
        reader = Caller(f"destination:{destination.destination_id}", (), "destination")
        await self.access.record(
            reader,
            [Read(delivery.person_id, fields, reference=delivery.delivery_id)],
            purpose=destination.purpose,
            operation="deliver",
            decision_id=delivery.decision_id,
        )

    def _reveal_nested(self, name: str, sealed: dict, body: dict) -> Any:
        found = list(tokens_in(sealed[NESTED], name))
        texts = (
            self.vault.decrypt_many((sealed["subject"], sealed["event_type"], f, t) for f, t in found)
            if self.vault
            else [None] * len(found)
        )
        clear = {
            token: ERASED if text is None else orjson.loads(text) for (_, token), text in zip(found, texts, strict=True)
        }
        if any(v is ERASED for v in clear.values()):
            body.setdefault("erased", []).append(name)
        return replace_tokens(sealed[NESTED], name, lambda _field, token: clear[token])

    # Delivery outcomes -------------------------------------------------------------

    def record_attempts(self, outcomes: Sequence[tuple[str, Outcome]]) -> dict[str, domain.Verdict]:
        """Record attempts in one transaction; returns what follows each: delivered, a retry after
        a delay, dead-lettered (logged), or the destination disabled (the delivery waits)."""
        events: list[StoredEvent] = []
        verdicts: dict[str, domain.Verdict] = {}
        now = self.clock.now()
        at = self.now_iso()
        for delivery_id, outcome in outcomes:
            delivery = self.deliveries[delivery_id]
            if delivery.status != "pending":
                continue
            attempt = delivery.attempts + 1
            started = parse_iso(delivery.series_started) if delivery.series_started else now
            destination = self.destinations[delivery.destination_id]
            verdict = domain.after_attempt(
                ok=outcome.ok,
                retryable=outcome.retryable,
                retry_after_s=outcome.retry_after_s,
                disable=outcome.disable,
                attempt=attempt - sum(1 for a in delivery.history if a.series < delivery.series),
                elapsed_s=(now - started).total_seconds(),
                limits=self.limits(delivery.destination_id),
            )
            attempted = pb.DeliveryAttempted(
                delivery_id=delivery_id,
                attempt=attempt,
                ok=outcome.ok,
                http_status=outcome.status,
                error=outcome.error[:500],
                at=at,
                latency_ms=outcome.latency_ms,
                retryable=outcome.retryable,
                retry_after_s=outcome.retry_after_s or 0.0,
                next_attempt_at=format_iso(now + timedelta(seconds=verdict.delay_s)) if verdict.kind == "retry" else "",
            )
            self.apply(attempted)
            events.append(self.next_event(uuid.UUID(delivery_id), attempted))
            if verdict.kind == "dead_letter":
                dead = pb.DeliveryDeadLettered(
                    delivery_id=delivery_id, attempts=attempt, last_error=outcome.error[:500], at=at
                )
                self.apply(dead)
                events.append(self.next_event(uuid.UUID(delivery_id), dead))
            elif verdict.kind == "disable" and destination.status == "active":
                disabled = pb.DestinationDisabled(
                    destination_id=destination.destination_id,
                    reason=f"the destination answered {outcome.status or outcome.error}: gone",
                    delivery_id=delivery_id,
                    at=at,
                )
                self.apply(disabled)
                events.append(self.next_event(uuid.UUID(destination.destination_id), disabled))
            verdicts[delivery_id] = verdict
        self.uow.commit(events)
        for delivery_id, verdict in verdicts.items():
            if verdict.kind == "dead_letter":
                delivery = self.deliveries[delivery_id]
                # No personal data: ids, counts and the destination's answer only.
                log.warning(
                    "delivery dead-lettered: delivery=%s destination=%s sync=%s attempts=%d status=%d error=%s",
                    delivery_id,
                    delivery.destination_id,
                    delivery.sync_id or "-",
                    delivery.attempts,
                    delivery.history[-1].http_status if delivery.history else 0,
                    delivery.last_error or "-",
                )
        return verdicts

    async def replay(self, destination_id: str, delivery_ids: Sequence[str], caller: Caller) -> list[str]:
        """Dead letters sent again (all of the destination's when none are named): a new attempt
        series under the same delivery id, after the person's later deliveries."""
        self.destination(destination_id)
        chosen = list(dict.fromkeys(delivery_ids)) or [
            d.delivery_id
            for d in self.deliveries.values()
            if d.destination_id == destination_id and d.status == "dead_lettered"
        ]
        for n, delivery_id in enumerate(chosen):
            found = self.deliveries.get(delivery_id)
            if found is None or found.destination_id != destination_id:
                raise InvalidArgument(f"delivery_ids[{n}]", f"{delivery_id!r} is no delivery of this destination")
            if found.status != "dead_lettered":
                raise InvalidArgument(f"delivery_ids[{n}]", f"{delivery_id!r} is {found.status}, not dead-lettered")
        async with self.uow.transaction() as tx:
            for delivery_id in chosen:
                replayed = pb.DeliveryReplayed(delivery_id=delivery_id, by=caller.subject, at=self.now_iso())
                self.apply(replayed)
                tx.add([self.next_event(uuid.UUID(delivery_id), replayed)])
        return chosen

    def list_deliveries(
        self, destination_id: str, limit: int, person_id: str = "", status: str = "", sync_id: str = ""
    ) -> list[pb.Delivery]:
        found = [
            d
            for d in self.deliveries.values()
            if (not destination_id or d.destination_id == destination_id)
            and (not person_id or d.person_id == person_id)
            and (not status or d.status == status)
            and (not sync_id or d.sync_id == sync_id)
        ]
        return [as_proto(d) for d in found[-limit:]]


def as_proto(d: domain.DeliveryState) -> pb.Delivery:
    return pb.Delivery(
        delivery_id=d.delivery_id,
        destination_id=d.destination_id,
        audience_id=d.audience_id,
        person_id=d.person_id,
        action=d.action,
        status=d.status,
        attempts=d.attempts,
        last_error=d.last_error,
        decision_id=d.decision_id,
        withheld=d.withheld,
        sync_id=d.sync_id,
        scheduled_at=d.scheduled_at,
        attempt_list=[
            pb.Attempt(
                attempt=a.attempt,
                ok=a.ok,
                http_status=a.http_status,
                error=a.error,
                at=a.at,
                latency_ms=a.latency_ms,
                series=a.series,
            )
            for a in d.history
        ],
    )


def checked_mapping(mode: str, mapping: pb.Mapping) -> domain.Mapping:
    return domain.check_sync(mode, [(f.trait, f.to) for f in mapping.fields], dict(mapping.constants))


def mapping_shape(sync: pb.Sync) -> dict[str, Any]:
    """A sync's mapping as approval digests it (its mode too: it decides what is sent)."""
    return {
        "mode": sync.mode,
        "fields": [[f.trait, f.to] for f in sync.mapping.fields],
        "constants": dict(sorted(sync.mapping.constants.items())),
    }


def parse_fingerprint(sync_id: str, text: str) -> approvals.Fingerprint:
    """A Fingerprint from its as_input() form: sync.audience.destination versions, mapping digest."""
    sync_version, audience_version, destination_version, digest = [*text.split(".", 3), "0", "0", "0", ""][:4]
    return approvals.Fingerprint(sync_id, int(sync_version), int(audience_version), digest, int(destination_version))


def config_of(destination: pb.Destination) -> dict[str, Any]:
    """A destination's shown configuration, typed (secrets left out)."""
    if destination.config_json:
        return dict(orjson.loads(destination.config_json))
    return {**destination.config, **({"url": destination.url} if destination.url else {})}


def shown_strings(config: dict[str, Any]) -> dict[str, str]:
    return {k: v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in config.items()}


_DELIVERY = [f.name for f in dataclasses.fields(domain.DeliveryState)]
_ATTEMPT = [f.name for f in dataclasses.fields(domain.AttemptState)]


def _delivery_data(d: domain.DeliveryState) -> list[Any]:
    row = [getattr(d, name) for name in _DELIVERY]
    row[_DELIVERY.index("history")] = [[getattr(a, name) for name in _ATTEMPT] for a in d.history]
    return row


def _delivery_of(row: list[Any]) -> domain.DeliveryState:
    if len(row) != len(_DELIVERY):
        raise ValueError("activation snapshot: a delivery of another shape")
    found = dict(zip(_DELIVERY, row, strict=True))
    found["history"] = [domain.AttemptState(**dict(zip(_ATTEMPT, a, strict=True))) for a in found["history"]]
    found["withheld"] = list(found["withheld"])
    return domain.DeliveryState(**found)


def _approval_data(a: approvals.Approval) -> list[Any]:
    f = a.fingerprint
    return [
        [f.sync_id, f.sync_version, f.audience_version, f.mapping, f.destination_version],
        a.status.value,
        a.requires_approval,
        a.decision_id,
        a.by,
    ]


def _approval_of(row: list[Any]) -> approvals.Approval:
    fingerprint, status, requires, decision_id, by = row
    sync_id, sync_version, audience_version, mapping, destination_version = fingerprint
    return approvals.Approval(
        approvals.Fingerprint(
            str(sync_id), int(sync_version), int(audience_version), str(mapping), int(destination_version)
        ),
        approvals.Status(status),
        bool(requires),
        str(decision_id),
        str(by),
    )


# How the state's mappings are written in a snapshot (cdp.platform.held).
DESTINATIONS = proto_codec(pb.Destination)
SYNCS = proto_codec(pb.Sync)
SECRETS = json_codec(dict, dict)
DELIVERIES = json_codec(_delivery_data, _delivery_of)
QUEUES = json_codec(list, list, pair_key, key_pair)
SETS = json_codec(sorted, set)
SENT = json_codec(list, lambda v: (bool(v[0]), str(v[1])), pair_key, key_pair)


def membership_cause(n: eventlog_pb2.Notification) -> str:
    return f"{n.originator_id}-{n.originator_version}"


def membership_ref(n: eventlog_pb2.Notification, message: _Membership | None = None) -> pb.MembershipRef:
    """The membership change a notification of segment's log holds, and its place there."""
    found = message or cast(_Membership, decode(n.topic, n.payload))
    return pb.MembershipRef(
        entered=isinstance(found, segment_pb2.MembershipEntered),
        audience_version=found.audience_version,
        cause=found.cause,
        cause_event_id=found.cause_event_id,
        at=found.at,
        ref=membership_cause(n),
    )


def secret_subject(destination_id: str) -> str:
    return f"destination:{destination_id}"
