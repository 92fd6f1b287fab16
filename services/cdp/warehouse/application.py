"""The warehouse sync: follow the published logs of collector, identity, profile and segment and
keep their events, profiles, identity graph and memberships as rows in one PostgreSQL schema.

Exactly once: a batch's rows and the upstream's new position (`_positions`) commit in one
transaction, so a crash anywhere restarts from the last committed batch; every write is an upsert
by a natural key as well, so a batch written twice changes nothing. Personal values are written as
cdp.egress decides for the warehouse as a destination (see cdp.warehouse.domain), each decision
recorded in `_decisions`; identity's SubjectForgotten takes the person's personal values out of
every table.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from cdp.api.collector.v1 import collector_pb2
from cdp.api.eventlog.v1 import eventlog_pb2
from cdp.api.identity.v1 import identity_pb2
from cdp.api.profile.v1 import profile_pb2
from cdp.api.segment.v1 import segment_pb2
from cdp.platform.decisions import decision_id
from cdp.platform.policy.canonical import canonical
from cdp.platform.published import decode, topic_of
from cdp.platform.sealed import class_name, holds_tokens, replace_tokens, tokens_in
from cdp.platform.vault import blind_index, is_token
from cdp.warehouse import domain
from cdp.warehouse.tables import ALL_TABLES, define

log = logging.getLogger(__name__)

EGRESS_DECISION = "data.cdp.egress.decision"
DESTINATION_TYPE = "warehouse"
BATCH = 500

# Identity first: a pass then knows the persons, and the forgets, before the calls that name them.
UPSTREAMS: dict[str, list[str]] = {
    "identity": topic_of(
        identity_pb2.CallEvidenced,
        identity_pb2.IdentifierSeen,
        identity_pb2.LinkEvidenced,
        identity_pb2.LinkRedecided,
        identity_pb2.LinkRetracted,
        identity_pb2.PersonsMerged,
        identity_pb2.PersonSplit,
        identity_pb2.SubjectForgotten,
    ),
    "collector": topic_of(collector_pb2.EventAccepted),
    "profile": topic_of(profile_pb2.ProfileChanged, profile_pb2.ProfileMerged, profile_pb2.ProfileSplit),
    "segment": topic_of(segment_pb2.MembershipEntered, segment_pb2.MembershipExited),
}


class EventLog(Protocol):
    """A service's published log (cdp.client's EventLogClient)."""

    def read(
        self, after: int = 0, limit: int = 0, wait_ms: int = 0, topics: Iterable[str] = (), **options: Any
    ) -> eventlog_pb2.ReadResponse: ...


class Policy(Protocol):
    def evaluate(self, entrypoint: str, input: dict[str, Any]) -> Any: ...


class EgressDecider:
    """cdp.egress for the warehouse as a destination: per set of field names, cached per run (the
    answer depends on names only), each decision's record kept until a batch writes it."""

    def __init__(self, policy: Policy, revision: str, destination_id: str, purpose: str):
        self.policy = policy
        self.revision = revision
        self.destination = {"id": destination_id, "type": DESTINATION_TYPE, "purpose": purpose}
        self.cache: dict[frozenset[str], tuple[domain.FieldVerdict, dict[str, Any]]] = {}
        self.used: dict[str, dict[str, Any]] = {}

    def verdict(self, names: Iterable[str]) -> domain.FieldVerdict:
        key = frozenset(names)
        if key not in self.cache:
            request = {"destination": self.destination, "properties": sorted(key)}
            result = self.policy.evaluate(EGRESS_DECISION, request) or {}
            verdict = domain.FieldVerdict(
                frozenset(result.get("allowed", ())),
                # A name the answer does not allow is withheld: a refusal leaves nothing out by mistake.
                frozenset(key - set(result.get("allowed", ()))),
                decision_id(EGRESS_DECISION, canonical(request), self.revision),
            )
            record = {
                "decision_id": verdict.decision_id,
                "entrypoint": EGRESS_DECISION,
                "input": request,
                "result": result,
                "revision": self.revision,
            }
            self.cache[key] = (verdict, record)
        verdict, record = self.cache[key]
        self.used[verdict.decision_id] = record
        return verdict

    def take_records(self) -> list[dict[str, Any]]:
        records, self.used = list(self.used.values()), {}
        return records


def _json(text: str) -> Any:
    return orjson.loads(text) if text else None


class Warehouse:
    def __init__(
        self,
        engine: sa.Engine,
        schema: str,
        logs: Callable[[str], EventLog],
        decider: EgressDecider,
        mask_key: bytes,
        batch: int = BATCH,
    ):
        self.engine = engine
        self.schema = schema
        self.md = define(schema)
        self.t = self.md.tables
        self.logs = logs
        self.decider = decider
        self.mask_key = mask_key
        self.batch = batch
        # Called inside each batch's transaction after its rows are written (tests fail there).
        self.after_write: Callable[[str, int], None] = lambda upstream, position: None
        self._touched: set[domain.Key] = set()  # identifiers of this batch whose component may have changed

    def table(self, name: str) -> sa.Table:
        return self.t[f"{self.schema}.{name}"]

    def create(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            self.md.create_all(conn)

    # Sync -----------------------------------------------------------------------------------

    def sync_once(self) -> dict[str, int]:
        """Every upstream up to the end of its log as it is now; returns notifications written."""
        written = {}
        for upstream in UPSTREAMS:
            written[upstream] = self._drain(upstream, wait_ms=0)
        return written

    def follow(self, stop: threading.Event, wait_ms: int = 500) -> None:
        """Sync, then keep up with each new notification until stop is set."""
        while not stop.is_set():
            moved = 0
            for upstream in UPSTREAMS:
                moved += self._drain(upstream, wait_ms=0 if moved else wait_ms // len(UPSTREAMS))

    def _drain(self, upstream: str, wait_ms: int) -> int:
        done = 0
        while True:
            after = self.position(upstream)
            page = self.logs(upstream).read(after, self.batch, wait_ms, UPSTREAMS[upstream])
            if not page.notifications:
                return done
            self.write_batch(upstream, list(page.notifications))
            done += len(page.notifications)
            wait_ms = 0

    def position(self, upstream: str) -> int:
        positions = self.table("_positions")
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(positions.c.position).where(positions.c.upstream == upstream)).scalar()
        return int(found or 0)

    def write_batch(self, upstream: str, notifications: Sequence[eventlog_pb2.Notification]) -> None:
        """One transaction: the rows of these notifications, their decisions, and the position."""
        handle = getattr(self, f"_{upstream}")
        position = notifications[-1].id
        with self.engine.begin() as conn:
            # One writer at a time per schema: a second sync waits rather than interleaving.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": self.schema})
            current = conn.execute(
                sa.select(self.table("_positions").c.position).where(self.table("_positions").c.upstream == upstream)
            ).scalar()
            fresh = [n for n in notifications if n.id > int(current or 0)]
            if not fresh:
                return
            handle(conn, [(n, decode(n.topic, n.payload)) for n in fresh])
            records = self.decider.take_records()
            if records:
                now = datetime.now(UTC)
                conn.execute(
                    insert(self.table("_decisions"))
                    .values([{**r, "decided_at": now} for r in records])
                    .on_conflict_do_nothing()
                )
            self.after_write(upstream, position)
            stmt = insert(self.table("_positions")).values(
                upstream=upstream, position=position, updated_at=datetime.now(UTC)
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["upstream"],
                    set_={"position": stmt.excluded.position, "updated_at": stmt.excluded.updated_at},
                )
            )

    def _resolve(self, conn: sa.Connection, where: str, params: dict[str, Any]) -> None:
        """Give the calls matched by where (over e2) the person their ids belong to now (a user
        id's before an anonymous id's), in the transaction of the rows that changed it."""
        s = self.schema
        conn.execute(
            sa.text(
                f'UPDATE "{s}".events e SET person_id = r.pid FROM ('
                f"SELECT e2.event_id, COALESCE(u.person_id, a.person_id) AS pid "
                f'FROM "{s}".events e2 '
                f"LEFT JOIN \"{s}\".identifiers u ON u.type = 'user_id' AND u.value = e2.user_id "
                f"LEFT JOIN \"{s}\".identifiers a ON a.type = 'anonymous_id' AND a.value = e2.anonymous_id "
                f"WHERE {where}"
                f") r WHERE r.event_id = e.event_id AND r.pid IS NOT NULL AND e.person_id IS DISTINCT FROM r.pid"
            ),
            params,
        )

    # Masking ----------------------------------------------------------------------------------

    def mask(self, field: str, value: str) -> str:
        return blind_index(self.mask_key, f"warehouse:{field}", value)

    def stored_id(self, field: str, value: str) -> str | None:
        """An identifier's value as the warehouse holds it (clear, or masked where withheld)."""
        return domain.masked_id(self.decider.verdict([field]), field, value, self.mask)

    def forgotten_hash(self, kind: str, stored: str) -> str:
        return self.mask(f"forgotten:{kind}", stored)

    def _forgotten(self, conn: sa.Connection) -> set[tuple[str, str]]:
        t = self.table("_forgotten")
        return {(r.kind, r.hash) for r in conn.execute(sa.select(t.c.kind, t.c.hash))}

    # Collector --------------------------------------------------------------------------------

    def _collector(self, conn: sa.Connection, messages: list[tuple[eventlog_pb2.Notification, Any]]) -> None:
        forgotten = self._forgotten(conn)
        rows = []
        for n, m in messages:
            if isinstance(m, collector_pb2.EventAccepted):
                rows.append(self._event_row(n.id, m, forgotten))
        if rows:
            conn.execute(insert(self.table("events")).values(rows).on_conflict_do_nothing(index_elements=["event_id"]))
            self._resolve(conn, "e2.event_id = ANY(:ids)", {"ids": [r["event_id"] for r in rows]})

    def _event_row(
        self, position: int, m: collector_pb2.EventAccepted, forgotten: set[tuple[str, str]]
    ) -> dict[str, Any]:
        e = m.event
        values = {"properties": _json(e.properties), "traits": _json(e.traits), "context": _json(e.context)}
        names = set(domain.ID_FIELDS)
        for field, value in values.items():
            names |= domain.names_in(tokens_in(value, field), class_name)
        verdict = self.decider.verdict(names)
        ids = {f: domain.masked_id(verdict, f, getattr(e, f), self.mask) for f in domain.ID_FIELDS}
        withheld = {f for f in domain.ID_FIELDS if getattr(e, f) and not verdict.allows(f)}
        erase = any(v and (f, self.forgotten_hash(f, v)) in forgotten for f, v in ids.items())
        for field, value in list(values.items()):
            if erase:
                values[field] = domain.erased(value, field, replace_tokens)
            else:
                values[field], taken = domain.keep_allowed(value, field, verdict, replace_tokens, class_name)
                withheld.update(taken)
        if erase:
            ids = dict.fromkeys(domain.ID_FIELDS)
        return {
            "event_id": m.event_id,
            "source_id": m.source_id,
            "type": e.type,
            "event": e.event or None,
            "name": e.name or None,
            **ids,
            "timestamp": domain.timestamp(e.timestamp),
            "received_at": domain.timestamp(e.received_at),
            **values,
            "plan_name": m.plan_name or None,
            "plan_version": m.plan_version or None,
            "violations": [{"field": v.field, "rule": v.rule} for v in m.violations] or None,
            "withheld": sorted(withheld) or None,
            "decision_id": verdict.decision_id,
            "position": position,
        }

    # Identity ---------------------------------------------------------------------------------

    def _identity(self, conn: sa.Connection, messages: list[tuple[eventlog_pb2.Notification, Any]]) -> None:
        self._touched = set()
        for n, m in messages:
            if isinstance(m, identity_pb2.CallEvidenced):
                for k, seen in enumerate(m.seen):
                    self._seen(conn, seen, n.id * 1000 + k)
                for evidence in m.links:
                    self._link(conn, evidence)
            elif isinstance(m, identity_pb2.IdentifierSeen):
                self._seen(conn, m, n.id * 1000)
            elif isinstance(m, identity_pb2.LinkEvidenced):
                self._link(conn, m.evidence)
            elif isinstance(m, identity_pb2.LinkRedecided):
                links = self.table("identity_links")
                self._touch_ends(
                    conn,
                    links.update()
                    .where(links.c.edge_id == m.edge_id, links.c.state != "retracted")
                    .values(
                        state="active" if m.active else "refused",
                        decision_id=m.decision_id or links.c.decision_id,
                        reason=m.reason or None,
                    ),
                )
            elif isinstance(m, identity_pb2.LinkRetracted):
                links = self.table("identity_links")
                self._touch_ends(
                    conn, links.update().where(links.c.edge_id == m.edge_id).values(state="retracted", reason=m.reason)
                )
            elif isinstance(m, identity_pb2.PersonsMerged):
                self._person(conn, m.merged_id, m.survivor_id)
                self._person(conn, m.survivor_id, None)
                self._touch(m.identifiers)
            elif isinstance(m, identity_pb2.PersonSplit):
                for part in m.parts:
                    self._person(conn, part.person_id, None)
                    self._touch(part.identifiers)
            elif isinstance(m, identity_pb2.SubjectForgotten):
                self._components(conn)  # the person's identifiers as identity knew them
                self.forget(conn, m.person_id)
        self._components(conn)

    def _seen(self, conn: sa.Connection, seen: identity_pb2.IdentifierSeen, order: int) -> None:
        value = self.stored_id(seen.identifier.type, seen.identifier.value)
        if value is None:
            return
        self._touched.add((seen.identifier.type, value))
        conn.execute(
            insert(self.table("identifiers"))
            .values(
                type=seen.identifier.type,
                value=value,
                person_id=seen.person_id,
                own_person_id=seen.person_id,
                seen_order=order,
            )
            .on_conflict_do_nothing()
        )

    def _touch(self, identifiers: Iterable[identity_pb2.Identifier]) -> None:
        for identifier in identifiers:
            value = self.stored_id(identifier.type, identifier.value)
            if value is not None:
                self._touched.add((identifier.type, value))

    def _touch_ends(self, conn: sa.Connection, update: Any) -> None:
        """Run an update of links, and note the identifiers at their ends."""
        links = self.table("identity_links")
        for r in conn.execute(update.returning(links.c.a_type, links.c.a_value, links.c.b_type, links.c.b_value)):
            self._touched.update(k for k in ((r.a_type, r.a_value), (r.b_type, r.b_value)) if k[1] is not None)

    def _components(self, conn: sa.Connection) -> None:
        """Give every identifier whose component of active links may have changed in this batch the
        person of that component (identity's rule). Only the components reached from the touched
        identifiers are read: a retraction's parts each hold one end of the retracted link."""
        touched, self._touched = self._touched, set()
        if not touched:
            return
        s = self.schema
        reached = conn.execute(
            sa.text(
                f"WITH RECURSIVE reach(type, value) AS ("
                f"SELECT * FROM unnest(CAST(:types AS text[]), CAST(:values AS text[])) "
                f"UNION SELECT CASE WHEN l.a_type = r.type AND l.a_value = r.value THEN l.b_type ELSE l.a_type END, "
                f"CASE WHEN l.a_type = r.type AND l.a_value = r.value THEN l.b_value ELSE l.a_value END "
                f"FROM reach r JOIN \"{s}\".identity_links l ON l.state = 'active' "
                f"AND ((l.a_type = r.type AND l.a_value = r.value) OR (l.b_type = r.type AND l.b_value = r.value))"
                f") SELECT i.type, i.value, i.person_id, i.own_person_id, i.seen_order "
                f'FROM reach JOIN "{s}".identifiers i ON i.type = reach.type AND i.value = reach.value'
            ),
            {"types": [t for t, _ in touched], "values": [v for _, v in touched]},
        ).all()
        now = {(r.type, r.value): r.person_id for r in reached}
        seen = [((r.type, r.value), r.own_person_id, r.seen_order) for r in reached]
        links = self.table("identity_links")
        active = conn.execute(
            sa.select(links.c.a_type, links.c.a_value, links.c.b_type, links.c.b_value).where(
                links.c.state == "active",
                sa.tuple_(links.c.a_type, links.c.a_value).in_(list(now)),
            )
        )
        persons = domain.persons_of(seen, (((r.a_type, r.a_value), (r.b_type, r.b_value)) for r in active))
        if persons:
            conn.execute(
                insert(self.table("persons"))
                .values([{"person_id": p, "merged_into": None, "forgotten": False} for p in set(persons.values())])
                .on_conflict_do_nothing()
            )
        ids = self.table("identifiers")
        moved = [(kind, value, p) for (kind, value), p in persons.items() if now[(kind, value)] != p]
        for kind, value, person_id in moved:
            conn.execute(ids.update().where(ids.c.type == kind, ids.c.value == value).values(person_id=person_id))
        # New identifiers too: calls synced before identity knew their ids get their person now.
        users = [v for (k, v) in persons if k == "user_id"]
        anonymous = [v for (k, v) in persons if k == "anonymous_id"]
        if users or anonymous:
            self._resolve(
                conn,
                "(e2.user_id = ANY(:users) OR e2.anonymous_id = ANY(:anons))",
                {"users": users, "anons": anonymous},
            )

    def _person(self, conn: sa.Connection, person_id: str, merged_into: str | None) -> None:
        if not person_id:
            return
        stmt = insert(self.table("persons")).values(person_id=person_id, merged_into=merged_into, forgotten=False)
        conn.execute(stmt.on_conflict_do_update(index_elements=["person_id"], set_={"merged_into": merged_into}))

    def _link(self, conn: sa.Connection, evidence: identity_pb2.Evidence) -> None:
        row = {
            "edge_id": evidence.edge_id,
            "a_type": evidence.a.type,
            "a_value": self.stored_id(evidence.a.type, evidence.a.value),
            "b_type": evidence.b.type,
            "b_value": self.stored_id(evidence.b.type, evidence.b.value),
            "rule": evidence.rule,
            "rule_version": evidence.rule_version or None,
            "score": evidence.score,
            "event_id": evidence.event_id or None,
            "decision_id": evidence.decision_id or None,
            "state": domain.link_state(evidence.active, evidence.held, evidence.retracted),
            "reason": evidence.reason or None,
            "at": domain.timestamp(evidence.at),
        }
        for kind, value in ((evidence.a.type, row["a_value"]), (evidence.b.type, row["b_value"])):
            if isinstance(value, str):
                self._touched.add((kind, value))
        stmt = insert(self.table("identity_links")).values(row)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["edge_id"], set_={k: stmt.excluded[k] for k in row if k != "edge_id"}
            )
        )

    def forget(self, conn: sa.Connection, person_id: str) -> None:
        """Take a forgotten person's personal values out of every table: their ids (remembered only
        as keyed hashes, so calls synced later lose them too), sealed values and traits."""
        ids, events, links = self.table("identifiers"), self.table("events"), self.table("identity_links")
        held = [
            (r.type, r.value)
            for r in conn.execute(sa.select(ids.c.type, ids.c.value).where(ids.c.person_id == person_id))
        ]
        if held:
            conn.execute(
                insert(self.table("_forgotten"))
                .values([{"kind": k, "hash": self.forgotten_hash(k, v)} for k, v in held])
                .on_conflict_do_nothing()
            )
        user_ids = [v for k, v in held if k == "user_id"]
        anonymous_ids = [v for k, v in held if k == "anonymous_id"]
        theirs = sa.or_(
            events.c.person_id == person_id, events.c.user_id.in_(user_ids), events.c.anonymous_id.in_(anonymous_ids)
        )
        for row in conn.execute(
            sa.select(events.c.event_id, events.c.properties, events.c.traits, events.c.context).where(theirs)
        ):
            conn.execute(
                events.update()
                .where(events.c.event_id == row.event_id)
                .values(
                    person_id=person_id,
                    user_id=None,
                    anonymous_id=None,
                    properties=domain.erased(row.properties, "properties", replace_tokens),
                    traits=domain.erased(row.traits, "traits", replace_tokens),
                    context=domain.erased(row.context, "context", replace_tokens),
                )
            )
        for kind, value in held:
            conn.execute(links.update().where(links.c.a_type == kind, links.c.a_value == value).values(a_value=None))
            conn.execute(links.update().where(links.c.b_type == kind, links.c.b_value == value).values(b_value=None))
        conn.execute(ids.delete().where(ids.c.person_id == person_id))
        self._erase_profile(conn, person_id)
        stmt = insert(self.table("persons")).values(person_id=person_id, forgotten=True)
        conn.execute(stmt.on_conflict_do_update(index_elements=["person_id"], set_={"forgotten": True}))

    def _erase_profile(self, conn: sa.Connection, person_id: str) -> None:
        traits, profiles = self.table("profile_traits"), self.table("profiles")
        conn.execute(traits.delete().where(traits.c.person_id == person_id))
        conn.execute(profiles.update().where(profiles.c.person_id == person_id).values(traits={}))

    # Profile ----------------------------------------------------------------------------------

    def _profile(self, conn: sa.Connection, messages: list[tuple[eventlog_pb2.Notification, Any]]) -> None:
        persons = self.table("persons")
        for _, m in messages:
            if isinstance(m, profile_pb2.ProfileChanged):
                forgotten = conn.execute(
                    sa.select(persons.c.forgotten).where(persons.c.person_id == m.profile.person_id)
                ).scalar()
                self._profile_changed(conn, m, bool(forgotten))
            elif isinstance(m, profile_pb2.ProfileMerged):
                # The survivor's own ProfileChanged carries the union.
                self._erase_profile(conn, m.merged_id)
                conn.execute(self.table("profiles").delete().where(self.table("profiles").c.person_id == m.merged_id))

    def _profile_changed(self, conn: sa.Connection, m: profile_pb2.ProfileChanged, forgotten: bool) -> None:
        profile = m.profile
        names: set[str] = set()
        for name, trait in profile.traits.items():
            value = _json(trait.value)
            if is_token(value):
                names.add(name)
            elif trait.value and holds_tokens(trait.value):
                names |= domain.names_in(tokens_in(value, name), class_name)
        verdict = self.decider.verdict(names)
        rows, kept = [], {}
        for name, trait in profile.traits.items():
            value, withheld = _json(trait.value), False
            if trait.erased:
                value = None
            elif is_token(value):
                withheld = forgotten or not verdict.allows(name)
                value = None if withheld else value
            elif trait.value and holds_tokens(trait.value):
                if forgotten:
                    value = domain.erased(value, name, replace_tokens)
                else:
                    value, taken = domain.keep_allowed(value, name, verdict, replace_tokens, class_name)
                    withheld = bool(taken)
            if value is not None:
                kept[name] = value
            rows.append(
                {
                    "person_id": profile.person_id,
                    "name": name,
                    "value": value,
                    "withheld": withheld,
                    "erased": trait.erased,
                    "source_id": trait.source_id or None,
                    "source_event_id": trait.event_id or None,
                    "updated_at": domain.timestamp(trait.updated_at),
                }
            )
        traits = self.table("profile_traits")
        conn.execute(traits.delete().where(traits.c.person_id == profile.person_id))
        if rows:
            conn.execute(insert(traits).values(rows))
        row = {
            "person_id": profile.person_id,
            "traits": kept,
            "first_seen": domain.timestamp(profile.first_seen),
            "last_seen": domain.timestamp(profile.last_seen),
            "cause_event_id": m.cause_event_id or None,
            "changed_at": domain.timestamp(m.changed_at),
            "decision_id": verdict.decision_id,
        }
        stmt = insert(self.table("profiles")).values(row)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["person_id"], set_={k: stmt.excluded[k] for k in row if k != "person_id"}
            )
        )

    # Segment ----------------------------------------------------------------------------------

    def _segment(self, conn: sa.Connection, messages: list[tuple[eventlog_pb2.Notification, Any]]) -> None:
        memberships = self.table("memberships")
        for n, m in messages:
            entered = isinstance(m, segment_pb2.MembershipEntered)
            at = domain.timestamp(m.at)
            conn.execute(
                insert(self.table("membership_events"))
                .values(
                    originator_id=n.originator_id,
                    originator_version=n.originator_version,
                    audience_id=m.audience_id,
                    person_id=m.person_id,
                    action="entered" if entered else "exited",
                    at=at,
                    audience_version=m.audience_version,
                    cause=m.cause or None,
                    cause_event_id=m.cause_event_id or None,
                )
                .on_conflict_do_nothing()
            )
            change = {
                "audience_version": m.audience_version,
                "cause": m.cause or None,
                "cause_event_id": m.cause_event_id or None,
                **({"entered_at": at, "exited_at": None} if entered else {"exited_at": at}),
            }
            stmt = insert(memberships).values(audience_id=m.audience_id, person_id=m.person_id, **change)
            conn.execute(stmt.on_conflict_do_update(index_elements=["audience_id", "person_id"], set_=change))

    # Status -----------------------------------------------------------------------------------

    def status(self) -> tuple[dict[str, int], dict[str, int]]:
        """Each upstream's position, and each table's row count."""
        positions = self.table("_positions")
        with self.engine.connect() as conn:
            at = {r.upstream: int(r.position) for r in conn.execute(sa.select(positions))}
            counts = {
                name: int(conn.execute(sa.select(sa.func.count()).select_from(self.table(name))).scalar() or 0)
                for name in ALL_TABLES
            }
        return {u: at.get(u, 0) for u in UPSTREAMS}, counts
