"""Identity: follows the collector's log and keeps the evidence graph.

Each collected call brings evidence (the identifiers it shows together); the identity policy
admits or refuses each new link, and every decision is recorded. Emails and phones are personal
data: in the graph each is a node of an opaque id, its value kept only as a token under that
node's own subject ("email:<node id>"), and only memory maps its blind index to the node; so
forgetting a person destroys exactly the keys of the identifiers evidenced as theirs, and leaves
no keyed hash of them behind. Identify calls' weak identifiers (names, dates of birth, addresses)
are matched by a model held in memory (cdp.identity.matching).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, cast

import orjson
from eventsourcing.persistence import StoredEvent

from cdp.api.collector.v1 import collector_pb2
from cdp.api.identity.v1 import identity_pb2 as pb
from cdp.identity import domain, pages, snapshot, translate
from cdp.identity.domain import Identifier
from cdp.identity.matching import Matcher, Model, settings_from
from cdp.identity.records import record_fields
from cdp.identity.rules import (
    LINK_DECISION,
    REVIEW_DECISION,
    SETTINGS_DECISION,
    IdentityRules,
    link_input,
    verdict_of,
)
from cdp.platform import pseudonyms
from cdp.platform.clock import SYSTEM_CLOCK, Clock
from cdp.platform.errors import InvalidArgument, NotFound, PermissionDenied, Unavailable
from cdp.platform.eventlog import Upstream
from cdp.platform.heap import no_collection
from cdp.platform.identifiers import PREVIOUS, call_identifiers, normal_email, normal_phone, suppression_key
from cdp.platform.ids import derived_id
from cdp.platform.literals import LITERAL_KINDS, literal_subject
from cdp.platform.personal import identifier_subjects, subject_of
from cdp.platform.published import decode, topic_of
from cdp.platform.snapshots import Later, SnapshotStore, shape_of
from cdp.platform.state import EventSourced
from cdp.platform.unit_of_work import UnitOfWork
from cdp.platform.vault import Vault, blind_index, is_token

log = logging.getLogger(__name__)

UPSTREAM = "collector"
STATE = (
    pb.RulesApplied,
    pb.CallEvidenced,
    pb.IdentifierSeen,
    pb.LinkEvidenced,
    pb.LinkRedecided,
    pb.LinkRetracted,
    pb.ReviewRequested,
    pb.ReviewDecided,
    pb.ModelTrained,
    pb.SubjectForgotten,
    pb.IdentifiersSuppressed,
    pb.SuppressionLifted,
)
PUBLISHED = (*STATE, pb.PersonsMerged, pb.PersonSplit)
TOPICS_FOLLOWED = topic_of(collector_pb2.EventAccepted)
SEALED_CONTEXT = "identity"  # the event type under which identity seals a personal identifier


new_person_id = translate.new_person_id


def edge_id_for(a: Identifier, b: Identifier, cause: str) -> str:
    x, y = domain.pair(a, b)
    return str(derived_id("identity-edge", cause, *x, *y))


class _Policy:
    """The link policy port, answered by the identity policy through the decider (recorded)."""

    def __init__(self, decider):
        self.decider = decider

    def decide(self, proposal: domain.Proposal) -> domain.Verdict:
        request, key = link_input(proposal)
        decision = self.decider.decide(LINK_DECISION, request, key=key)
        return verdict_of(decision.result, decision.id)


class IdentityApp(EventSourced):
    # Merges and splits are folded too, for their originators' versions; the graph ignores them.
    topics = topic_of(*PUBLISHED)

    def __init__(
        self,
        uow: UnitOfWork,
        vault: Vault,
        master_key: bytes,
        collector: Upstream,
        clock: Clock = SYSTEM_CLOCK,
        snapshots: SnapshotStore | None = None,
    ):
        self.vault = vault
        self._index_key = master_key
        self.collector = collector  # the collector's log, as far as identity has followed it
        self.decider = uow.decider
        self.policy = _Policy(self.decider)
        decision = self.decider.decide(SETTINGS_DECISION, {})
        self.rules = IdentityRules.from_settings(decision.result or {}, decision.id)
        # Protected identifiers as the graph would hold them (emails and phones by blind index).
        self._protected: set[Identifier] = set()
        for text in self.rules.protected:
            kind, _, value = text.partition(":")
            self._protected.add((kind, self._blind(kind, value)) if kind in domain.PERSONAL_TYPES else (kind, value))
        super().__init__(uow, clock, snapshots)

    def rebuild(self) -> None:
        super().rebuild()
        # The blind indexes are rebuilt by decrypting, a share at a time (warm) or all at once
        # when first needed (personal_nodes), not before serving.
        self._unindexed: list[Identifier] = list(self.sealed)  # sealed nodes not decrypted into them yet

    # State ----------------------------------------------------------------------------------

    def reset(self) -> None:
        self.graph = domain.IdentityGraph(new_person_id)
        self._log: list[domain.GraphEvent] | None = []  # the graph's events (None: not read back yet)
        self.rules_applied = ""  # the policy revision the evidence was last decided under
        # An email or phone is a node of an opaque id, its value sealed under that node's own
        # subject; only memory maps its blind index to the node (rebuilt by decrypting), so a
        # forgotten one leaves no keyed hash of it in any store.
        self.sealed: dict[Identifier, str] = {}  # personal node -> its token
        self._personal_nodes: dict[Identifier, Identifier] = {}  # (type, blind index) -> node
        self._node_blind: dict[Identifier, Identifier] = {}  # node -> (type, blind index)
        self.pager: pages.Pager | None = None  # the snapshot's pages the graph still reads from
        self.suppressed: dict[str, str] = {}  # suppression key -> person id
        self.forgotten: dict[str, str] = {}  # person id -> who asked
        self.model_json = ""
        self.model_version = ""
        # Weak identifiers in memory only: filled from the collector's log (load_records), not
        # from identity's own events, and emptied of a person on forget.
        matching = dict(self.rules.matching)
        # "auto": records of one source are taken as distinct when there are several sources
        # (link across them, one to one), and matched with each other when there is one (dedup).
        self._auto_one_per_source = matching.get("one_per_source") == "auto"
        if self._auto_one_per_source:
            matching["one_per_source"] = False
        self.matcher = Matcher(settings_from(matching))
        # A record with none of these can never be a candidate: it is not held at all.
        self._blocking_tops = {f.split(".", 1)[0] for rule in self.matcher.settings.blocking for f in rule}
        self.record_node: dict[str, Identifier] = {}
        self.records_loaded = False
        self._revealed: dict[str, str | None] = {}  # token -> value, for the batch being handled
        self._presealed: dict[Identifier, str] = {}  # new identifiers' tokens, for the batch being handled

    # Snapshots: the graph in pages and the tokens, never a value in clear nor a blind index (the
    # map from blind indexes to nodes is rebuilt by decrypting, as after a full fold) -----------

    def prepare_snapshot(self) -> None:
        self._read_pages()

    def snapshot_state(self) -> dict[str, Any]:
        self._read_pages()
        return {
            "graph": Later(functools.partial(pages.written, pages.copied(self.graph))),
            "rules_applied": self.rules_applied,
            "sealed": [[kind, value, token] for (kind, value), token in self.sealed.items()],
            "suppressed": dict(self.suppressed),
            "forgotten": dict(self.forgotten),
            "model": [self.model_json, self.model_version],
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        if set(state) != {"graph", "rules_applied", "sealed", "suppressed", "forgotten", "model"}:
            raise ValueError("identity snapshot: unexpected fields")
        self.graph, self.pager = pages.restored(state["graph"], new_person_id)
        self._log = None  # read back from the store if a new policy needs it
        self.rules_applied = state["rules_applied"]
        self.sealed = {(str(kind), str(value)): str(token) for kind, value, token in state["sealed"]}
        self.suppressed = dict(state["suppressed"])
        self.forgotten = dict(state["forgotten"])
        model_json, model_version = state["model"]
        if model_json:
            self.apply(pb.ModelTrained(model=model_json, model_version=model_version))

    @property
    def log(self) -> list[domain.GraphEvent]:
        """The graph's events in log order, to decide them again under a new policy. Kept as they
        are folded; after a restore from a snapshot, read back from the store when first needed
        (at the start of a follower's batch, when every event folded is stored)."""
        if self._log is None:
            self._log = [e for n in self._tail(0) for e in translate.to_domain_all(decode(n.topic, n.state))]
        return self._log

    def snapshot_shape(self) -> str:
        return shape_of(type(self), domain.IdentityGraph, snapshot.graph_data, pages.written, translate.to_domain_all)

    def _read_pages(self) -> None:
        if self.pager is not None:
            self.pager.read_all()
            self.pager = None

    async def warm(self, slice_s: float = 0.005) -> None:
        """After a restart: read the rest of the graph's pages and decrypt the rest of the blind
        indexes in slices of a few milliseconds, the event loop left idle as long again after
        each (a call takes it several turns; a request that needs a page or an index first reads
        or decrypts what it needs itself). A rebuild after a failed commit starts this again."""
        began = time.monotonic()
        while True:
            if self.pager is None and not self._unindexed:
                if began:
                    log.info("IdentityApp: state warm, %.1fs after the warm-up began", time.monotonic() - began)
                    began = 0.0
                await asyncio.sleep(1.0)
                continue
            began = began or time.monotonic()
            start = time.monotonic()
            with no_collection():  # what a slice reads is kept: frozen, not walked again and again
                while time.monotonic() - start < slice_s:
                    pager = self.pager
                    if pager is not None:
                        if pager.read_some(1):
                            self.pager = None
                    elif self._unindexed:
                        self._index_some(8)
                    else:
                        break
            await asyncio.sleep(max(slice_s, time.monotonic() - start))

    def _fold(self, event: domain.GraphEvent) -> list[domain.Consequence]:
        if self._log is not None:
            self._log.append(event)
        return self.graph.apply(event)

    def apply(self, message) -> None:
        events = translate.to_domain_all(message)
        if events:
            for event in events:
                self._fold(event)
            seen = message.seen if isinstance(message, pb.CallEvidenced) else [message]
            for found in seen:
                if isinstance(found, pb.IdentifierSeen) and found.sealed:
                    self.sealed[translate.identifier(found.identifier)] = found.sealed
        elif isinstance(message, pb.IdentifiersSuppressed):
            for key in message.keys:
                self.suppressed[key] = message.person_id
        elif isinstance(message, pb.SuppressionLifted):
            self.suppressed.pop(message.key, None)
        elif isinstance(message, pb.SubjectForgotten):
            self.forgotten[message.person_id] = message.requested_by
            for identifier in self.graph.members.get(message.person_id, ()):
                self.sealed.pop(identifier, None)
                blind = self._node_blind.pop(identifier, None)
                if blind is not None:
                    self._personal_nodes.pop(blind, None)
        elif isinstance(message, pb.RulesApplied):
            self.rules_applied = message.revision
        elif isinstance(message, pb.ModelTrained):
            self.model_json, self.model_version = message.model, message.model_version
            try:
                self.matcher.model = Model.from_json(message.model)
            except ValueError as error:  # trained on other matching fields than the policy's now
                log.warning("identity: model %s no longer applies (%s); train again", message.model_version, error)
                self.matcher.model = None

    # Identifiers ----------------------------------------------------------------------------

    def _blind(self, kind: str, value: str) -> str:
        clear = {domain.EMAIL: normal_email, domain.PHONE: normal_phone}.get(kind, lambda _: None)(value)
        return blind_index(self._index_key, kind, clear or value)

    def _indexed(self) -> None:
        while self._unindexed:
            self._index_some(len(self._unindexed))

    @property
    def personal_nodes(self) -> dict[Identifier, Identifier]:
        """(type, blind index) -> node, every sealed node decrypted into it first."""
        self._indexed()
        return self._personal_nodes

    @property
    def node_blind(self) -> dict[Identifier, Identifier]:
        """node -> (type, blind index), every sealed node decrypted into it first."""
        self._indexed()
        return self._node_blind

    def _index_some(self, count: int) -> None:
        """Map some more personal nodes' blind indexes to them, from their sealed values (forgotten
        ones stay unreadable, and so unknown)."""
        nodes = [node for node in self._unindexed[-count:] if node in self.sealed]
        del self._unindexed[-count:]
        self.vault.keys_for({f"{kind}:{value}" for kind, value in nodes})
        values = self.vault.decrypt_many(
            (f"{kind}:{value}", SEALED_CONTEXT, kind, self.sealed[(kind, value)]) for kind, value in nodes
        )
        for node, value in zip(nodes, values, strict=True):
            if value is not None:
                self._index(node, value)

    def _index(self, node: Identifier, value: str) -> None:
        blind = (node[0], self._blind(node[0], value))
        self._personal_nodes[blind] = node
        self._node_blind[node] = blind

    def _graph_identifier(self, kind: str, value: str, create: bool = False) -> Identifier | None:
        """An identifier as the graph holds it: an email or phone as its node (a new one when
        create; None when unknown)."""
        if kind not in domain.PERSONAL_TYPES:
            if pseudonyms.is_personal(value):  # named by its clear value: the graph holds its pseudonym
                return self.personal_nodes.get((kind, self._blind(kind, value)), (kind, value))
            return (kind, value)
        node = self.personal_nodes.get((kind, self._blind(kind, value)))
        if node is None and create:
            node = (kind, uuid.uuid4().hex)
            self._index(node, value)
        return node

    def _is_protected(self, identifiers: Iterable[Identifier]) -> bool:
        if not self._protected:
            return False
        if not self._protected:
            return False
        return any(i in self._protected or self.node_blind.get(i) in self._protected for i in identifiers)

    def _reveal(self, event):
        subject = subject_of(event.user_id, event.anonymous_id)

        def reveal(event_type: str, name: str, value: Any) -> Any:
            if not is_token(value):
                return value
            if value in self._revealed:
                text = self._revealed[value]
            else:
                text = self.vault.decrypt(subject, event_type, name, value)
            return orjson.loads(text) if text is not None else None

        return reveal

    def _nothing_new(self, event) -> bool:
        """A call that can bring no evidence: no traits, no external ids, and ids already seen
        together (most calls: tracks and pages of a known visitor)."""
        if event.type in ("identify", "alias", "group") or event.traits or event.previous_id:
            return False
        context = event.context
        # A key written with escapes ("tr\u0061its") is the same key: such a context takes the full path.
        if '"traits"' in context or '"externalIds"' in context or "\\u" in context:
            return False
        ids = [
            (kind, value)
            for kind, value in ((domain.USER_ID, event.user_id), (domain.ANONYMOUS_ID, event.anonymous_id))
            if value
        ]
        if not all(i in self.graph.order for i in ids):
            return False
        return len(ids) < 2 or self.graph.evidenced(ids[0], ids[1])

    def _seal_new_nodes(self, calls: Sequence[collector_pb2.EventAccepted]) -> dict[str, tuple]:
        """Seal, in one go (one key transaction), the batch's new emails and phones; _seal takes
        the tokens from here (sealing each as it was first seen looked its key up again, one
        statement an identifier once a batch outlasted the key cache). Returns the identifiers
        read meanwhile, by event id, for the calls whose reading cannot change within the batch."""
        new: dict[Identifier, str] = {}
        read: dict[str, tuple] = {}
        for accepted in calls:
            if any(path.endswith((".email", ".phone")) for path in accepted.encrypted_fields):
                found = self.call_identifiers(accepted.event)
                if not accepted.event.previous_id:  # an alias's reading depends on what came before
                    read[accepted.event_id] = found
                new.update((i, value) for i, value in found[1].items() if i not in self.graph.order)
        if new:
            items = [(f"{i[0]}:{i[1]}", SEALED_CONTEXT, i[0], value) for i, value in new.items()]
            self._presealed = dict(zip(new, self.vault.encrypt_many(items), strict=True))
        return read

    def _reveal_batch(self, calls: Sequence[collector_pb2.EventAccepted]) -> None:
        """Decrypt, in one go, the personal values identity reads of a batch of calls (identifiers
        and matching fields); reveal() takes them from here."""
        identifiers = {"email", "phone"}
        matching = identifiers | {path.split(".", 1)[0] for path in self.matcher.settings.fields}
        items = []
        for accepted in calls:
            event = accepted.event
            if not accepted.encrypted_fields:
                continue
            subject = subject_of(event.user_id, event.anonymous_id)
            wanted = matching if self._may_be_matched(event) else identifiers
            for path in accepted.encrypted_fields:
                holder, _, name = path.rpartition(".")
                if name in wanted and holder in ("traits", "context.traits"):
                    source = event.traits if holder == "traits" else event.context
                    values = orjson.loads(source) if source else {}
                    if holder == "context.traits":
                        values = values.get("traits") or {}
                    token = values.get(name) if isinstance(values, dict) else None
                    if is_token(token):
                        items.append((subject, event.type, name, token))
        self._revealed = dict(zip((i[3] for i in items), self.vault.decrypt_many(items), strict=True))

    def call_identifiers(self, event) -> tuple[list[Identifier], dict[Identifier, str]]:
        """The graph identifiers of a call, strongest first, blocked values left out; and the
        personal ones' values in clear (to seal when first seen)."""
        reveal = self._reveal(event)
        found: list[Identifier] = []
        clear: dict[Identifier, str] = {}
        for raw_kind, value in call_identifiers(event, reveal):
            kind = self._previous_type(value) if raw_kind == PREVIOUS else raw_kind
            # A pseudonymised id (an email as the userId) is judged, and sealed, by its clear value.
            hidden = self._pseudonymised(event, raw_kind, value)
            if self.rules.blocked(kind, hidden or value):
                continue
            identifier = self._graph_identifier(kind, value, create=True)
            assert identifier is not None
            if kind in domain.PERSONAL_TYPES:
                clear[identifier] = value
            elif hidden:
                clear[identifier] = hidden
            found.append(identifier)
        return self.rules.strongest_first(found), clear

    def _pseudonymised(self, event, raw_kind: str, value: str) -> str | None:
        """The clear value of an id the collector pseudonymised (None for any other id, or erased)."""
        if not value.startswith(pseudonyms.PREFIX) or not event.sealed_identifiers:
            return None
        field = "previous_id" if raw_kind == PREVIOUS else raw_kind
        return pseudonyms.unsealed(self.vault, event, field)

    def _previous_type(self, previous_id: str) -> str:
        """What an alias's previousId names: a user id seen before as one, else an anonymous id
        (the common case, sign-up after browsing; and a previous id never seen holds no data, so
        it must not count as a second user id)."""
        known_user = (domain.USER_ID, previous_id) in self.graph.order
        known_anonymous = (domain.ANONYMOUS_ID, previous_id) in self.graph.order
        return domain.USER_ID if known_user and not known_anonymous else domain.ANONYMOUS_ID

    # Following the collector ----------------------------------------------------------------

    async def handle(self, notifications) -> Sequence[StoredEvent]:
        """Decide the evidence of each collected call (a follower handler)."""
        if not self.records_loaded:
            await self.load_records()
        out: list[StoredEvent] = []
        if self.rules_applied != self.decider.revision:
            out.extend(self.redecide())
        calls = [cast(collector_pb2.EventAccepted, decode(n.topic, n.payload)) for n in notifications]
        try:
            # One key transaction for the subjects whose emails and phones are decrypted below.
            self._reveal_batch(calls)
            read = self._seal_new_nodes(calls)
            at = self.now_iso()
            for accepted in calls:
                if self._nothing_new(accepted.event):
                    continue
                found, clear = read.get(accepted.event_id) or self.call_identifiers(accepted.event)
                if not found:
                    continue
                rule = domain.ALIAS if accepted.event.type == "alias" else domain.SEEN_TOGETHER
                events = self.graph.propose_call(
                    found,
                    accepted.event_id,
                    rule,
                    self.decider.revision,
                    self.policy,
                    functools.partial(edge_id_for, cause=accepted.event_id),
                    self._is_protected,
                    at,
                )
                out.extend(self._commit_call(accepted.event_id, events, clear))
                out.extend(self._match_call(accepted.event, found[0], at))
        finally:  # what the batch revealed and sealed is for it alone
            self._revealed, self._presealed = {}, {}
        return out

    # A new identity policy ------------------------------------------------------------------

    def redecided_under(self, policy: domain.LinkPolicy) -> domain.IdentityGraph:
        """The graph this log would make under that policy (the live one's rules for what is
        blocked and protected)."""
        return domain.redecided(
            self.log,
            new_person_id,
            policy,
            edge_id_for,
            self._is_protected,
            self.rules.band,
            lambda identifier: bool(self.rules.blocked(*identifier)),
        )

    def redecide(self) -> list[StoredEvent]:
        """Decide every piece of evidence again under the policy in force (called once per
        revision, inside the follower's transaction); the edges it decides otherwise change, and
        persons merge and split accordingly."""
        at = self.now_iso()
        changes: list[domain.GraphEvent] = []
        if self.log:
            simulated = self.redecided_under(self.policy)
            changes.extend(domain.redecisions(self.graph, simulated, "identity policy", at))
        stored = self._commit_events(changes, {})
        applied = pb.RulesApplied(revision=self.decider.revision, changed=len(changes), at=at)
        self.apply(applied)
        stored.append(self.next_event(derived_id("identity-rules", self.decider.revision), applied))
        if changes:
            log.info("identity: the policy in force re-decided %d piece(s) of evidence", len(changes))
        return stored

    # Matching weak identifiers ----------------------------------------------------------------

    def _may_be_matched(self, event) -> bool:
        """Whether an identify call's traits hold a field some blocking rule uses."""
        if event.type != "identify":
            return False
        names = set(orjson.loads(event.traits)) if event.traits.startswith("{") else set()
        if '"traits"' in event.context:
            context_traits = orjson.loads(event.context).get("traits")
            names |= set(context_traits) if isinstance(context_traits, dict) else set()
        return not self._blocking_tops.isdisjoint(names)

    def _record(self, event, head: Identifier) -> list | None:
        """Hold the call's weak identifiers as the record of its strongest identifier; returns the
        candidates the model scores for it (None: the call has no matching fields)."""
        if not self._may_be_matched(event):
            return None
        fields = record_fields(event, self.matcher.settings.fields, self._reveal(event))
        if not fields:
            return None
        record_id = f"{head[0]}\x00{head[1]}"
        self.record_node[record_id] = head
        return self.matcher.add(record_id, head[0], fields)

    def _match_call(self, event, head: Identifier, at: str) -> list[StoredEvent]:
        candidates = self._record(event, head)
        if not candidates or self.matcher.model is None:
            return []
        person = self.graph.person_of.get(head)
        for candidate in candidates:
            band = self.rules.band(candidate.probability)
            if band == "reject":
                break  # best first: the rest score lower
            other = self.record_node.get(candidate.record_id)
            if other is None or self.graph.person_of.get(other) == person or not self._may_join(head, other):
                continue
            return self._commit_events(self._propose_match(head, other, candidate, at), {})
        return []

    def _may_join(self, record: Identifier, other: Identifier) -> bool:
        """One record of each source per person (a source's records are taken to be distinct)."""
        if not self.matcher.settings.one_per_source:
            return True
        person = self.graph.person_of.get(other, "")
        return all(kind != record[0] for kind, _ in self.graph.members.get(person, ()))

    def _propose_match(self, a: Identifier, b: Identifier, candidate, at: str) -> list[domain.GraphEvent]:
        assert self.matcher.model is not None
        version = self.matcher.model.version
        return self.graph.propose_match(
            a,
            b,
            candidate.probability,
            self.rules.band(candidate.probability),
            version,
            tuple(candidate.levels),
            self.policy,
            edge_id_for(a, b, version),
            self._is_protected,
            at,
        )

    async def load_records(self) -> None:
        """Fill the matcher from the identify calls identity has followed (once, at start; called
        inside the follower's or a command's transaction, so the position stays put)."""
        if self.records_loaded:
            return
        async for n in self.collector.history():
            try:
                accepted = cast(collector_pb2.EventAccepted, decode(n.topic, n.payload))
                if accepted.event.type != "identify":
                    continue
                found, _ = self.call_identifiers(accepted.event)
                if found and self.graph.person_of.get(found[0]) not in self.forgotten:
                    self._record(accepted.event, found[0])
            except Exception as error:  # a poison event is the follower's to park, not a reason to stall
                log.warning("matching records: skipped collector event %d (%s)", n.id, type(error).__name__)
        if self._auto_one_per_source and self.matcher.model is not None:
            self.matcher.set_one_per_source(self.matcher.sources() > 1)  # as when it was trained
        self.records_loaded = True

    async def train(self, max_pairs: int, actor: str) -> pb.TrainResponse:
        """Fit the model on the records held, then re-match every record with it: links it now makes
        are proposed; a former model's links it no longer makes are withdrawn."""
        async with self.uow.transaction() as tx:
            await self.load_records()
            if len(self.matcher) < 2:
                raise InvalidArgument("records", "fewer than two records with matching fields are held")
            if self._auto_one_per_source:
                self.matcher.set_one_per_source(self.matcher.sources() > 1)
            try:
                model = self.matcher.train(max_pairs or 1_000_000)
            except ValueError as error:  # e.g. the blocking rules pair no records
                raise InvalidArgument("records", str(error)) from None
            trained = pb.ModelTrained(
                model_version=model.version,
                model=model.to_json(),
                records=len(self.matcher),
                trained_at=self.now_iso(),
                actor=actor,
            )
            self.apply(trained)
            stored = [self.next_event(derived_id("identity-model", model.version), trained)]
            review = float(self.rules.settings.get("bands", {}).get("review", 0.5))
            pairs = self.matcher.score_probabilities()
            chosen = self.matcher.best_links(pairs, review)
            at = self.now_iso()
            kept: set[tuple[Identifier, Identifier]] = set()
            links = reviews = 0
            new = [(ra, rb) for ra, rb, _ in chosen]
            for (ra, rb), candidate in zip(new, self.matcher.describe(new), strict=True):
                a, b = self.record_node[ra], self.record_node[rb]
                kept.add(domain.pair(a, b))
                if self.graph.person_of.get(a) == self.graph.person_of.get(b):
                    continue
                events = self._propose_match(a, b, candidate, at)
                links += sum(1 for e in events if isinstance(e, domain.LinkEvidenced) and e.edge.active)
                reviews += sum(1 for e in events if isinstance(e, domain.ReviewRequested))
                stored.extend(self._commit_events(events, {}))
            stale = domain.Verdict(domain.REFUSE, (f"model {model.version} does not link this pair",), "")
            for edge in list(self.graph.edges.values()):
                if edge.rule == domain.PROBABILISTIC and edge.active and domain.pair(edge.a, edge.b) not in kept:
                    change = self.graph.reconsider(edge.edge_id, stale, actor, at)
                    if change is not None:
                        stored.extend(self._commit_events([change], {}))
            tx.add(stored)
        return pb.TrainResponse(
            model_version=model.version,
            records=len(self.matcher),
            candidate_pairs=len(pairs),
            links=links,
            reviews=reviews,
            summary=model.to_json(),
        )

    def _commit_events(self, events: Sequence[domain.GraphEvent], clear: dict[Identifier, str]) -> list[StoredEvent]:
        """Apply the events, as they are decided, and store them with the merges and splits they cause."""
        out: list[StoredEvent] = []
        for event in events:
            sealed = ""
            if isinstance(event, domain.IdentifierSeen) and event.identifier in clear:
                sealed = self._seal(event.identifier, clear[event.identifier])
            out.append(self._stored(event, sealed))
            for consequence in self._fold(event):
                if not (isinstance(consequence, domain.PersonsMerged) and consequence.fresh):
                    out.append(self._stored(consequence))
        return out

    def _commit_call(
        self, event_id: str, events: Sequence[domain.GraphEvent], clear: dict[Identifier, str]
    ) -> list[StoredEvent]:
        """A call's evidence as one record (and the merges it causes after it)."""
        if not events:
            return []
        sealed = {
            e.identifier: self._seal(e.identifier, clear[e.identifier])
            for e in events
            if isinstance(e, domain.IdentifierSeen) and e.identifier in clear
        }
        record = translate.call_record(event_id, events, sealed)
        out = [self.next_event(derived_id("identity-call", event_id), record)]
        for event in events:
            for consequence in self._fold(event):
                if not (isinstance(consequence, domain.PersonsMerged) and consequence.fresh):
                    out.append(self._stored(consequence))
        return out

    def _seal(self, identifier: Identifier, value: str) -> str:
        token = self._presealed.get(identifier) or self.vault.encrypt(
            f"{identifier[0]}:{identifier[1]}", SEALED_CONTEXT, identifier[0], value
        )
        self.sealed[identifier] = token
        if identifier[0] not in domain.PERSONAL_TYPES:  # a pseudonym: found by its clear value
            self._index(identifier, value)
        return token

    def _stored(self, event, sealed: str = "") -> StoredEvent:
        message = translate.to_proto(event, sealed)
        return self.next_event(translate.originator(event), message)

    # Commands and queries -------------------------------------------------------------------

    def resolve(self, kind: str, value: str) -> str | None:
        if not value:
            return None
        identifier = self._graph_identifier(kind, value)
        return self.graph.resolve(identifier) if identifier is not None else None

    async def resolve_after(
        self, identifiers: Sequence[tuple[str, str]], after_position: int, wait_s: float
    ) -> tuple[list[str], int]:
        """The person of each identifier ("" if none) once identity has followed the collector
        past after_position (read-your-writes for followers downstream); and that position."""
        if after_position and not await self.collector.reached(after_position, wait_s):
            raise Unavailable(
                f"after_position: identity has followed the collector to {self.collector.position}, "
                f"not yet {after_position}; retry"
            )
        return [self.resolve(kind, value) or "" for kind, value in identifiers], self.collector.position

    def person_of(self, person_id: str, identifier: tuple[str, str] | None) -> str:
        """The person a request names by id or by identifier; raises NotFound or InvalidArgument."""
        if not person_id and identifier and identifier[1]:
            person_id = self.resolve(*identifier) or ""
            if not person_id:
                raise NotFound(f"identifier: no person has this {identifier[0]}")
        if not person_id:
            raise InvalidArgument("person_id", "give a person id or an identifier")
        current = self.graph.current(person_id)  # a merged person's id names its survivor
        if current is None:
            raise NotFound("person_id: no such person")
        return current

    def identifier_of(self, identifier: tuple[str, str], field_name: str) -> Identifier:
        kind, value = identifier
        if not kind or not value:
            raise InvalidArgument(field_name, "give an identifier's type and value")
        found = self._graph_identifier(kind, value)
        if found is None or found not in self.graph.order:
            raise NotFound(f"{field_name}: no such identifier")
        return found

    def person(self, person_id: str) -> pb.Person | None:
        if person_id not in self.graph.members:
            return None
        return pb.Person(
            person_id=person_id,
            # Emails and phones are shown as their blind index, never in clear.
            identifiers=[translate.identifier_proto(i) for i in self.graph.identifiers_of(person_id)],
            merged_person_ids=self.graph.absorbed(person_id),
            probabilistic=self.graph.is_probabilistic(person_id),
            protected=self._is_protected(self.graph.members[person_id]),
        )

    def explain(self, a: Identifier, b: Identifier | None) -> pb.ExplainResponse:
        person_a = self.graph.resolve(a) or ""
        if b is None:
            members = self.graph.members.get(person_a, set())
            edges = {e.edge_id: e for m in members for e in self.graph.evidence_of(m)}
            path = [e for e in edges.values() if e.active]
            refused = [e for e in edges.values() if not e.active]
            return pb.ExplainResponse(
                person_a=person_a,
                person_b=person_a,
                same_person=True,
                path=[translate.evidence(e) for e in sorted(path, key=lambda e: e.at)],
                refused=[translate.evidence(e) for e in sorted(refused, key=lambda e: e.at)],
            )
        person_b = self.graph.resolve(b) or ""
        steps = self.graph.path(a, b) or []
        touching = {e.edge_id: e for node in (a, b) for e in self.graph.evidence_of(node) if not e.active}
        return pb.ExplainResponse(
            person_a=person_a,
            person_b=person_b,
            same_person=bool(person_a) and person_a == person_b,
            path=[translate.evidence(e) for e in steps],
            refused=[translate.evidence(e) for e in touching.values()],
        )

    def history(self, person_id: str) -> list[pb.HistoryEntry]:
        entries = [translate.history_entry(person_id, item) for item in self.graph.history.get(person_id, [])]
        if person_id in self.forgotten:
            entries.append(pb.HistoryEntry(kind="forgotten", person_id=person_id, actor=self.forgotten[person_id]))
        return entries

    async def retract(self, target: str, value: Any, reason: str, basis: str, actor: str) -> pb.RetractResponse:
        async with self.uow.transaction() as tx:
            if target == "event_id":
                edge_ids = list(self.graph.by_event.get(value, ()))
            elif target == "edge_id":
                if value not in self.graph.edges:
                    raise NotFound("edge_id: no such evidence")
                edge_ids = [value]
            else:
                node = self.identifier_of(value, "identifier")
                edge_ids = list(self.graph.by_node.get(node, ()))
            if not edge_ids:
                raise NotFound(f"{target}: no evidence to retract")
            events = self.graph.retractions(edge_ids, reason or "retracted", basis, actor, self.now_iso())
            stored, splits = self._commit_with_splits(events)
            tx.add(stored)
        return pb.RetractResponse(retracted=len(events), splits=splits)

    async def split(self, person_id: str, part: list[Identifier] | None, reason: str, actor: str):
        async with self.uow.transaction() as tx:
            members = self.graph.members.get(person_id, set())
            if part is not None:
                unknown = [i for i in part if i not in members]
                if unknown:
                    raise InvalidArgument("identifiers", f"{unknown[0][0]} is not one of this person's identifiers")
                if set(part) == members:
                    raise InvalidArgument("identifiers", "name some of the person's identifiers, not all of them")
            edge_ids = self.graph.split_edges(person_id, set(part) if part is not None else None)
            events = self.graph.retractions(edge_ids, reason or "split by hand", "", actor, self.now_iso())
            stored, splits = self._commit_with_splits(events)
            tx.add(stored)
        return splits

    def _commit_with_splits(self, events: Sequence[domain.GraphEvent]) -> tuple[list[StoredEvent], list]:
        stored = self._commit_events(events, {})
        splits = [
            cast(pb.PersonSplit, decode(s.topic, s.state)) for s in stored if s.topic == topic_of(pb.PersonSplit)[0]
        ]
        return stored, splits

    def reviews(self, limit: int) -> list[pb.Review]:
        out = []
        for review_id, edge_id in list(self.graph.reviews.items())[: limit or 100]:
            edge = self.graph.edges[edge_id]
            out.append(
                pb.Review(
                    review_id=review_id,
                    evidence=translate.evidence(edge),
                    person_a=self.graph.resolve(edge.a) or "",
                    person_b=self.graph.resolve(edge.b) or "",
                    band="review" if edge.rule == domain.PROBABILISTIC else "hold",
                    requested_at=edge.at,
                )
            )
        return out

    async def decide_review(self, review_id: str, approve: bool, reason: str, caller) -> pb.DecideReviewResponse:
        async with self.uow.transaction() as tx:
            if review_id not in self.graph.reviews:
                raise NotFound("review_id: no such open review")
            decision = self.decider.decide(
                REVIEW_DECISION,
                {"caller": caller.as_input(), "roles": list(caller.roles), "approve": approve, "review": review_id},
                caller=caller.subject,
            )
            if not decision.result.get("allow"):
                raise PermissionDenied(decision.result.get("reasons", []), decision.id, "review_id")
            event = self.graph.review(
                review_id, approve, decision.id, caller.subject, reason, self.now_iso(), self.policy, self._is_protected
            )
            stored = self._commit_events([event], {})
            tx.add(stored)
        merges = [cast(pb.PersonsMerged, decode(s.topic, s.state)) for s in stored if s.topic.endswith("PersonsMerged")]
        return pb.DecideReviewResponse(decision_id=decision.id, merges=merges)

    def identifiers_page(
        self, after: int, size: int, clear: bool
    ) -> tuple[list[pb.IdentifierRow], int, dict[str, list[str]]]:
        """Identifiers in first-seen order after position `after`; the position to go on from (0:
        done); and what the page shows in clear: person -> the identifier types (the access log's)."""
        nodes = list(self.graph.order)[after : after + size]
        rows = []
        revealed: dict[str, list[str]] = {}
        for node in nodes:
            identifier = translate.identifier_proto(node)
            person_id = self.graph.person_of.get(node, "")
            if clear and node in self.sealed:
                value = self._unsealed(node)
                identifier = pb.Identifier(type=node[0], value=value or "")
                if value is not None:
                    types = revealed.setdefault(person_id, [])
                    if f"identifiers.{node[0]}" not in types:
                        types.append(f"identifiers.{node[0]}")
            rows.append(pb.IdentifierRow(identifier=identifier, person_id=person_id))
        following = after + len(nodes)
        return rows, following if following < len(self.graph.order) else 0, revealed

    async def forget(self, person_id: str, requested_by: str) -> tuple[str, int, int, int]:
        """Destroy the keys of every identifier evidenced as the person's, and suppress them; returns
        (the person, keys destroyed, identifiers, suppressed). Serialised with the follower's batches."""
        async with self.uow.transaction() as tx:
            identifiers = self.graph.identifiers_of(person_id)
            # Suppression lists an email or phone by a keyed hash of its value: read it while it can be.
            clear = {node: value for node in identifiers if (value := self._unsealed(node)) is not None}
            # A pseudonym's subjects go too: the alias naming its clear value, and the seal of an
            # alias call's previousId.
            subjects = [f"{kind}:{value}" for kind, value in identifiers]
            for node, value in clear.items():
                if node[1].startswith(pseudonyms.PREFIX):
                    subjects += [pseudonyms.alias_subject(self._index_key, value), f"previous_id:{node[1]}"]
            destroyed = self.vault.destroy(subjects)
            # Audience literals naming their emails and phones (an email used as the user id
            # included) are sealed under subjects of their own.
            self.vault.destroy(
                s
                for (kind, _), value in clear.items()
                for named in ((kind,) if kind in LITERAL_KINDS else LITERAL_KINDS)
                if (s := literal_subject(self._index_key, named, value))
            )
            for kind, value in identifiers:
                if self.record_node.pop(f"{kind}\x00{value}", None) is not None:
                    self.matcher.remove(f"{kind}\x00{value}")
            # An identifier another person's evidence also names (a shared device, a team mailbox)
            # is not suppressed: that would drop the other person's calls.
            shared = {i for i in identifiers if self._shared(i, person_id)}
            keys = [
                suppression_key(self._index_key, node[0], clear.get(node, node[1]))
                for node in identifiers
                if node not in shared and (node[0] not in domain.PERSONAL_TYPES or node in clear)
            ]
            messages: list[Any] = [
                pb.SubjectForgotten(person_id=person_id, keys_destroyed=destroyed, requested_by=requested_by)
            ]
            if keys:
                messages.append(pb.IdentifiersSuppressed(keys=keys, person_id=person_id, requested_by=requested_by))
            for message in messages:
                self.apply(message)
            tx.add([self.next_event(uuid.UUID(person_id), m) for m in messages])
        self.snapshot_soon()
        return person_id, destroyed, len(identifiers), len(keys)

    async def forget_identifier(self, kind: str, value: str, requested_by: str) -> tuple[str, int, int, int]:
        """Forget an identifier no person has: one whose calls were all quarantined or refused (the
        collector holds them sealed under its subject), or not yet followed. The subject's key is
        destroyed and the identifier suppressed, so what was kept no longer decrypts and its next
        calls are dropped. One that a person has by now is forgotten with that person. Returns as
        forget(), with no person."""
        async with self.uow.transaction() as tx:
            person_id = self.resolve(kind, value)
            if not person_id:
                destroyed = self.vault.destroy(identifier_subjects([(kind, value)]))
                key = suppression_key(self._index_key, kind, value)
                suppressed = pb.IdentifiersSuppressed(keys=[key], requested_by=requested_by)
                self.apply(suppressed)
                tx.add([self.next_event(derived_id("suppression", key), suppressed)])
        if person_id:
            return await self.forget(person_id, requested_by)
        self.snapshot_soon()
        return "", destroyed, 1, 1

    def _unsealed(self, node: Identifier) -> str | None:
        token = self.sealed.get(node)
        if token is None:
            return None
        return self.vault.decrypt(f"{node[0]}:{node[1]}", SEALED_CONTEXT, node[0], token)

    def _shared(self, identifier: Identifier, person_id: str) -> bool:
        """Whether another person's call also carried this identifier: it was left out of a link
        from that person's strongest identifier (a shared device, a team mailbox)."""
        return any(
            edge.b == identifier
            and not edge.active
            and not edge.retracted
            and self.graph.person_of.get(edge.a) != person_id
            for edge in self.graph.evidence_of(identifier)
        )

    async def lift_suppression(self, kind: str, value: str, reason: str, actor: str) -> bool:
        async with self.uow.transaction() as tx:
            key = suppression_key(self._index_key, kind, value)
            if key not in self.suppressed:
                return False
            lifted = pb.SuppressionLifted(key=key, requested_by=actor, reason=reason)
            record = self.next_event(derived_id("suppression", key), lifted)
            self.apply(lifted)
            tx.add([record])
        return True
