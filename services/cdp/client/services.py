"""One client class per API, each method described once and run blocking or on asyncio.

CollectorClient (and QualityClient, served by the collector), IdentityClient, ProfileClient,
SegmentClient, ActivationClient; EventLogClient and
OpsClient for the log and the operations API that every service serves; HealthClient. Their Async*
twins have the same methods, returning awaitables (iterators: async iterators).

Methods are named after the RPCs and return the inner message where a response wraps one (a
Source, a Profile) or one repeated field (a list); responses with more in them come whole. Every
method takes timeout= (seconds, for each try) and metadata= (e.g. another caller's authorization)
as keywords. Which calls are retried is said in each docstring (see cdp.client.calls):
"Retried" (a read: on UNAVAILABLE and DEADLINE_EXCEEDED), "Retried on UNAVAILABLE" (a write that is
idempotent by design) or "Not retried".
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Iterable, Iterator, Sequence
from typing import Any, TypedDict, Unpack, overload

from grpc_health.v1 import health_pb2, health_pb2_grpc

from cdp.api.activation.v1 import activation_pb2, activation_pb2_grpc
from cdp.api.collector.v1 import collector_pb2, collector_pb2_grpc, quality_pb2, quality_pb2_grpc
from cdp.api.common.v1 import event_pb2
from cdp.api.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from cdp.api.identity.v1 import identity_pb2, identity_pb2_grpc
from cdp.api.ops.v1 import ops_pb2, ops_pb2_grpc
from cdp.api.profile.v1 import profile_pb2, profile_pb2_grpc
from cdp.api.segment.v1 import segment_pb2, segment_pb2_grpc
from cdp.client.calls import IDEMPOTENT, ONCE, READ, AsyncCalls, Metadata, SyncCalls, _Client
from cdp.platform.published import decode

IdentifierLike = identity_pb2.Identifier | tuple[str, str]


class CallOptions(TypedDict, total=False):
    timeout: float  # seconds, for each try (default: the client's)
    metadata: Metadata  # added to the client's; an authorization here replaces the client's


@overload
def identifier(value: IdentifierLike) -> identity_pb2.Identifier: ...
@overload
def identifier(value: None) -> None: ...
@overload
def identifier(value: IdentifierLike | None) -> identity_pb2.Identifier | None: ...
def identifier(value: IdentifierLike | None) -> identity_pb2.Identifier | None:
    """An Identifier from itself or a (type, value) pair such as ("user_id", "u-42")."""
    if value is None or isinstance(value, identity_pb2.Identifier):
        return value
    kind, text = value
    return identity_pb2.Identifier(type=kind, value=text)


class _Collector(_Client):
    STUB = collector_pb2_grpc.CollectorServiceStub
    SERVICE = "cdp.collector.v1.CollectorService"

    def ingest(
        self, write_key: str, events: Iterable[event_pb2.Event], **options: Unpack[CallOptions]
    ) -> collector_pb2.IngestResponse:
        """Ingest a batch; one ack per event. Retried on UNAVAILABLE: the collector stores an event
        once per (source, messageId), so a batch sent twice is acknowledged as duplicates."""
        request = collector_pb2.IngestRequest(write_key=write_key, events=list(events))
        return self._unary("Ingest", request, IDEMPOTENT, **options)

    def ingest_stream(
        self, write_key: str, batches: Iterable[Sequence[event_pb2.Event]], **options: Unpack[CallOptions]
    ) -> collector_pb2.IngestStreamResponse:
        """Ingest batches over one client stream (at most 25,000 events); acks are indexed across the
        stream. Not retried (the batches are consumed as they are sent): each batch is stored as it
        comes, so after a failure send them again (a messageId is stored once)."""
        requests = (collector_pb2.IngestStreamRequest(write_key=write_key, events=list(b)) for b in batches)
        return self._streamed("IngestStream", requests, **options)

    def create_source(
        self, name: str, server_side: bool = False, **options: Unpack[CallOptions]
    ) -> collector_pb2.Source:
        """A new source and its write key. Not retried (a second call makes a second source)."""
        request = collector_pb2.CreateSourceRequest(name=name, server_side=server_side)
        return self._unary("CreateSource", request, ONCE, "source", **options)

    def list_sources(self, **options: Unpack[CallOptions]) -> list[collector_pb2.Source]:
        """Every source. Retried."""
        return self._unary("ListSources", collector_pb2.ListSourcesRequest(), READ, "sources", **options)

    def disable_source(self, name: str, **options: Unpack[CallOptions]) -> collector_pb2.Source:
        """Refuse the source's write key from now on. Retried on UNAVAILABLE (disabling twice is
        disabling once)."""
        return self._unary(
            "DisableSource", collector_pb2.DisableSourceRequest(name=name), IDEMPOTENT, "source", **options
        )

    def publish_plan(self, name: str, document: str | dict, **options: Unpack[CallOptions]) -> collector_pb2.Plan:
        """Publish the next version of a tracking plan (document: JSON text or a dict). Not retried
        (each call is a new version)."""
        text = document if isinstance(document, str) else json.dumps(document)
        return self._unary(
            "PublishPlan", collector_pb2.PublishPlanRequest(name=name, document=text), ONCE, "plan", **options
        )

    def list_plans(self, **options: Unpack[CallOptions]) -> list[collector_pb2.Plan]:
        """The latest version of each plan. Retried."""
        return self._unary("ListPlans", collector_pb2.ListPlansRequest(), READ, "plans", **options)

    def get_plan(self, name: str, version: int = 0, **options: Unpack[CallOptions]) -> collector_pb2.Plan:
        """One version of a plan (0: the latest). Retried."""
        return self._unary("GetPlan", collector_pb2.GetPlanRequest(name=name, version=version), READ, "plan", **options)

    def assign_plan(
        self,
        source_name: str,
        plan_name: str,
        mode: str = "",
        settings: dict[str, str] | collector_pb2.PlanSettings | None = None,
        plan_version: int = 0,
        **options: Unpack[CallOptions],
    ) -> collector_pb2.Source:
        """Check a source's events against a plan, pinned to plan_version (0: following the
        latest). mode (allow, the default; quarantine; reject) is a shorthand for settings, whose
        fields (unplanned_events, unplanned_properties, violations) override it. Retried on
        UNAVAILABLE (assigning the same plan again changes nothing)."""
        if isinstance(settings, dict):
            settings = collector_pb2.PlanSettings(**settings)
        request = collector_pb2.AssignPlanRequest(
            source_name=source_name, plan_name=plan_name, mode=mode, settings=settings, plan_version=plan_version
        )
        return self._unary("AssignPlan", request, IDEMPOTENT, "source", **options)

    def list_quarantine(
        self,
        source_name: str = "",
        limit: int = 0,
        filter: collector_pb2.QuarantineFilter | None = None,
        **options: Unpack[CallOptions],
    ) -> list[collector_pb2.QuarantinedEvent]:
        """Events a plan holds back (of one source, or all; filter: by event, rule, time, ids). Retried."""
        request = collector_pb2.ListQuarantineRequest(source_name=source_name, limit=limit, filter=filter)
        return self._unary("ListQuarantine", request, READ, "events", **options)

    def release_quarantine(
        self,
        source_name: str = "",
        filter: collector_pb2.QuarantineFilter | None = None,
        as_is: bool = False,
        reason: str = "",
        **options: Unpack[CallOptions],
    ) -> collector_pb2.ReleaseQuarantineResponse:
        """Pass held events on: as they were (as_is), or those the current plan now passes.
        Retried on UNAVAILABLE (a released event is no longer held, so a second release does not
        release it again)."""
        request = collector_pb2.ReleaseQuarantineRequest(
            source_name=source_name, filter=filter, as_is=as_is, reason=reason
        )
        return self._unary("ReleaseQuarantine", request, IDEMPOTENT, **options)

    def discard_quarantine(
        self, filter: collector_pb2.QuarantineFilter, reason: str = "", **options: Unpack[CallOptions]
    ) -> collector_pb2.DiscardQuarantineResponse:
        """Drop held events for good (the filter must name something). Retried on UNAVAILABLE (a
        discarded event is no longer held)."""
        request = collector_pb2.DiscardQuarantineRequest(filter=filter, reason=reason)
        return self._unary("DiscardQuarantine", request, IDEMPOTENT, **options)


class _Quality(_Client):
    STUB = quality_pb2_grpc.QualityServiceStub
    SERVICE = "cdp.collector.v1.QualityService"

    def list_violations(
        self,
        source_name: str = "",
        since: str = "",
        until: str = "",
        examples: int = 0,
        **options: Unpack[CallOptions],
    ) -> quality_pb2.ListViolationsResponse:
        """Plan violations by kind and hour of [since, until) (RFC 3339; default: the last 24 hours),
        with masked examples. Retried."""
        request = quality_pb2.ListViolationsRequest(
            source_name=source_name, since=since, until=until, examples=examples
        )
        return self._unary("ListViolations", request, READ, **options)

    def get_catalog(self, source_name: str = "", **options: Unpack[CallOptions]) -> list[quality_pb2.CatalogEvent]:
        """Every event, property and trait each source sent. Retried."""
        request = quality_pb2.GetCatalogRequest(source_name=source_name)
        return self._unary("GetCatalog", request, READ, "events", **options)

    def list_anomalies(
        self, source_name: str = "", since: str = "", until: str = "", **options: Unpack[CallOptions]
    ) -> list[quality_pb2.Anomaly]:
        """Volume drops and spikes recorded in [since, until) (default: the last 7 days). Retried."""
        request = quality_pb2.ListAnomaliesRequest(source_name=source_name, since=since, until=until)
        return self._unary("ListAnomalies", request, READ, "anomalies", **options)


class _Identity(_Client):
    STUB = identity_pb2_grpc.IdentityServiceStub
    SERVICE = "cdp.identity.v1.IdentityService"

    def resolve(
        self,
        identifiers: Iterable[IdentifierLike],
        after_position: int = 0,
        wait_ms: int = 0,
        **options: Unpack[CallOptions],
    ) -> identity_pb2.ResolveResponse:
        """Which person each identifier belongs to (after identity has followed the collector's log
        up to after_position, waiting up to wait_ms). Retried."""
        request = identity_pb2.ResolveRequest(
            identifiers=[identifier(i) for i in identifiers], after_position=after_position, wait_ms=wait_ms
        )
        return self._unary("Resolve", request, READ, **options)

    def get_person(
        self, person_id: str = "", identifier: IdentifierLike | None = None, **options: Unpack[CallOptions]
    ) -> identity_pb2.Person:
        """A person and their identifiers, by person id or by an identifier. Retried."""
        request = identity_pb2.GetPersonRequest(person_id=person_id, identifier=_identifier(identifier))
        return self._unary("GetPerson", request, READ, "person", **options)

    def forget(
        self, person_id: str = "", identifier: IdentifierLike | None = None, **options: Unpack[CallOptions]
    ) -> identity_pb2.ForgetResponse:
        """Destroy the keys of every identifier linked to the person. Retried on UNAVAILABLE
        (forgetting again destroys nothing more; a retried call may report 0 keys destroyed)."""
        request = identity_pb2.ForgetRequest(person_id=person_id, identifier=_identifier(identifier))
        return self._unary("Forget", request, IDEMPOTENT, **options)

    def lift_suppression(self, identifier: IdentifierLike, reason: str = "", **options: Unpack[CallOptions]) -> bool:
        """Let the collector take calls carrying a forgotten identifier again; False when it was not
        suppressed. Retried on UNAVAILABLE (lifting again lifts nothing)."""
        request = identity_pb2.LiftSuppressionRequest(identifier=_identifier(identifier), reason=reason)
        return self._unary("LiftSuppression", request, IDEMPOTENT, "lifted", **options)

    def explain(
        self,
        a: IdentifierLike | None = None,
        b: IdentifierLike | None = None,
        person_id: str = "",
        **options: Unpack[CallOptions],
    ) -> identity_pb2.ExplainResponse:
        """The evidence path from a to b, or (without b) every edge of a's person (or of person_id),
        and the evidence touching them that was not admitted. Retried."""
        request = identity_pb2.ExplainRequest(a=_identifier(a), b=_identifier(b), person_id=person_id)
        return self._unary("Explain", request, READ, **options)

    def history(
        self, person_id: str = "", identifier: IdentifierLike | None = None, **options: Unpack[CallOptions]
    ) -> list[identity_pb2.HistoryEntry]:
        """The merges, splits and refusals that concerned a person (by person id or an identifier),
        oldest first. Retried."""
        request = identity_pb2.GetHistoryRequest(person_id=person_id, identifier=_identifier(identifier))
        return self._unary("GetHistory", request, READ, "entries", **options)

    def retract(
        self,
        *,
        event_id: str = "",
        identifier: IdentifierLike | None = None,
        edge_id: str = "",
        reason: str = "",
        basis: str = "",
        **options: Unpack[CallOptions],
    ) -> identity_pb2.RetractResponse:
        """Retract evidence: every link one call made (event_id), every link of one identifier, or
        one edge (exactly one of them), and the persons it split. Retried on UNAVAILABLE (retracted
        evidence is not retracted again; a retried call may report 0 retracted)."""
        if bool(event_id) + (identifier is not None) + bool(edge_id) != 1:
            raise ValueError("retract takes exactly one of event_id, identifier and edge_id")
        if event_id:
            request = identity_pb2.RetractRequest(event_id=event_id, reason=reason, basis=basis)
        elif edge_id:
            request = identity_pb2.RetractRequest(edge_id=edge_id, reason=reason, basis=basis)
        else:
            request = identity_pb2.RetractRequest(identifier=_identifier(identifier), reason=reason, basis=basis)
        return self._unary("Retract", request, IDEMPOTENT, **options)

    def split(
        self,
        person_id: str,
        identifiers: Iterable[IdentifierLike] = (),
        reason: str = "",
        **options: Unpack[CallOptions],
    ) -> list[identity_pb2.PersonSplit]:
        """Split identifiers off a person into one of their own (none given: every identifier
        alone), and the splits made. Not retried (a second split would split the rest again)."""
        request = identity_pb2.SplitRequest(
            person_id=person_id, identifiers=[identifier(i) for i in identifiers], reason=reason
        )
        return self._unary("Split", request, ONCE, "splits", **options)

    def reviews(self, page_size: int = 0, **options: Unpack[CallOptions]) -> list[identity_pb2.Review]:
        """Probabilistic links held for a reviewer (at most page_size; 0: the server's default).
        Retried."""
        request = identity_pb2.ListReviewsRequest(page_size=page_size)
        return self._unary("ListReviews", request, READ, "reviews", **options)

    def decide_review(
        self, review_id: str, approve: bool, reason: str = "", **options: Unpack[CallOptions]
    ) -> identity_pb2.DecideReviewResponse:
        """A reviewer's verdict on a held link: approved, it is admitted (the merges it made come
        back). Retried on UNAVAILABLE (a review is decided once: a retry after the first try got
        through finds it decided)."""
        request = identity_pb2.DecideReviewRequest(review_id=review_id, approve=approve, reason=reason)
        return self._unary("DecideReview", request, IDEMPOTENT, **options)

    def train(self, max_pairs: int = 0, **options: Unpack[CallOptions]) -> identity_pb2.TrainResponse:
        """Fit the matching model on the records held (max_pairs random pairs for u; 0: the
        default), then re-match every record with it. Not retried (each call is a new model)."""
        return self._unary("Train", identity_pb2.TrainRequest(max_pairs=max_pairs), ONCE, **options)

    def list_identifiers(
        self,
        page_token: str = "",
        page_size: int = 0,
        clear_values: bool = False,
        purpose: str = "",
        **options: Unpack[CallOptions],
    ) -> identity_pb2.ListIdentifiersResponse:
        """One page of identifiers with their person, and next_page_token (empty at the end);
        emails and phones in clear when clear_values and the caller may see them (each such read
        recorded in identity's access log, with purpose). Retried."""
        request = identity_pb2.ListIdentifiersRequest(
            page_size=page_size, page_token=page_token, clear_values=clear_values, purpose=purpose
        )
        return self._unary("ListIdentifiers", request, READ, **options)

    def identifiers(
        self, page_size: int = 500, clear_values: bool = False, purpose: str = "", **options: Unpack[CallOptions]
    ) -> Iterator[identity_pb2.IdentifierRow]:
        """Every identifier with its person, page after page (each page retried as list_identifiers)."""
        return self._paged(
            lambda token: self.list_identifiers(token, page_size, clear_values, purpose, **options),
            lambda page: page.rows,
            lambda page, _: page.next_page_token or None,
            "",
        )


def _identifier(value: IdentifierLike | None) -> identity_pb2.Identifier | None:
    return identifier(value)


class _Profile(_Client):
    STUB = profile_pb2_grpc.ProfileServiceStub
    SERVICE = "cdp.profile.v1.ProfileService"

    def get_profile(
        self,
        person_id: str = "",
        identifier: IdentifierLike | None = None,
        purpose: str = "",
        **options: Unpack[CallOptions],
    ) -> profile_pb2.Profile:
        """One profile, by person id or by an identifier; a read in clear is recorded in profile's
        access log, with purpose (a short label) if given. Retried."""
        request = profile_pb2.GetProfileRequest(
            person_id=person_id, identifier=_identifier(identifier), purpose=purpose
        )
        return self._unary("GetProfile", request, READ, "profile", **options)

    def get_trait_lineage(
        self,
        trait: str,
        person_id: str = "",
        identifier: IdentifierLike | None = None,
        purpose: str = "",
        **options: Unpack[CallOptions],
    ) -> profile_pb2.GetTraitLineageResponse:
        """Every call that set a person's trait, newest first, the one in force marked (values as the
        caller may see them; a read in clear is recorded). Retried."""
        request = profile_pb2.GetTraitLineageRequest(
            person_id=person_id, identifier=_identifier(identifier), trait=trait, purpose=purpose
        )
        return self._unary("GetTraitLineage", request, READ, **options)

    def get_profiles(
        self, person_ids: Iterable[str], encrypted: bool = False, purpose: str = "", **options: Unpack[CallOptions]
    ) -> list[profile_pb2.Profile]:
        """The profiles found among person_ids, in their order. Retried."""
        request = profile_pb2.GetProfilesRequest(person_ids=list(person_ids), encrypted=encrypted, purpose=purpose)
        return self._unary("GetProfiles", request, READ, "profiles", **options)

    def list_profiles(
        self, after_person_id: str = "", limit: int = 0, purpose: str = "", **options: Unpack[CallOptions]
    ) -> profile_pb2.ListProfilesResponse:
        """One page of profiles after a person id, and next_after (empty at the end). Retried."""
        request = profile_pb2.ListProfilesRequest(after_person_id=after_person_id, limit=limit, purpose=purpose)
        return self._unary("ListProfiles", request, READ, **options)

    def all_profiles(self, page_size: int = 500, **options: Unpack[CallOptions]) -> Iterator[profile_pb2.Profile]:
        """Every profile, page after page (each page retried as list_profiles)."""
        return self._paged(
            lambda after: self.list_profiles(after, page_size, **options),
            lambda page: page.profiles,
            lambda page, _: page.next_after or None,
            "",
        )

    def get_account(self, account_id: str, purpose: str = "", **options: Unpack[CallOptions]) -> profile_pb2.Account:
        """An account (a group call's groupId) with its own traits and member count; a read in
        clear is recorded in profile's access log. Retried."""
        request = profile_pb2.GetAccountRequest(account_id=account_id, purpose=purpose)
        return self._unary("GetAccount", request, READ, "account", **options)

    def list_account_members(
        self, account_id: str, page_size: int = 0, page_token: str = "", **options: Unpack[CallOptions]
    ) -> profile_pb2.ListAccountMembersResponse:
        """One page of an account's member person ids (in id order), the total, and the next
        page's token (empty at the end). Retried."""
        request = profile_pb2.ListAccountMembersRequest(
            account_id=account_id, page_size=page_size, page_token=page_token
        )
        return self._unary("ListAccountMembers", request, READ, **options)

    def list_events(
        self,
        person_id: str = "",
        identifier: IdentifierLike | None = None,
        page_size: int = 0,
        page_token: str = "",
        types: Iterable[str] = (),
        since: str = "",
        until: str = "",
        purpose: str = "",
        **options: Unpack[CallOptions],
    ) -> profile_pb2.ListEventsResponse:
        """One page of a person's calls, newest first, personal values as the caller may see them
        (a read in clear is recorded in profile's access log), and the next page's token. Retried."""
        request = profile_pb2.ListEventsRequest(
            person_id=person_id,
            identifier=_identifier(identifier),
            page_size=page_size,
            page_token=page_token,
            types=list(types),
            since=since,
            until=until,
            purpose=purpose,
        )
        return self._unary("ListEvents", request, READ, **options)

    def create_computed_trait(
        self, name: str, definition_json: str, **options: Unpack[CallOptions]
    ) -> profile_pb2.ComputedTrait:
        """A trait computed from each person's calls (JSON: event, fn, property, where, window), if
        cdp.audience allows; backfilled over the calls seen so far. Not retried."""
        request = profile_pb2.CreateComputedTraitRequest(name=name, definition_json=definition_json)
        return self._unary("CreateComputedTrait", request, ONCE, "computed_trait", **options)

    def get_computed_trait(self, name: str, **options: Unpack[CallOptions]) -> profile_pb2.ComputedTrait:
        """Retried."""
        request = profile_pb2.GetComputedTraitRequest(name=name)
        return self._unary("GetComputedTrait", request, READ, "computed_trait", **options)

    def list_computed_traits(self, **options: Unpack[CallOptions]) -> list[profile_pb2.ComputedTrait]:
        """Every computed trait, by name. Retried."""
        request = profile_pb2.ListComputedTraitsRequest()
        return self._unary("ListComputedTraits", request, READ, "computed_traits", **options)

    def search_profiles(
        self,
        where_json: str,
        page_size: int = 0,
        page_token: str = "",
        purpose: str = "",
        **options: Unpack[CallOptions],
    ) -> profile_pb2.SearchProfilesResponse:
        """One page of the profiles whose traits meet the condition ({"trait": ..., "op": ..., "value":
        ...} under all/any/not), as the caller may see them, the total and the next page's token
        (empty at the end); a read in clear is recorded in profile's access log. Retried."""
        request = profile_pb2.SearchProfilesRequest(
            where_json=where_json, page_size=page_size, page_token=page_token, purpose=purpose
        )
        return self._unary("SearchProfiles", request, READ, **options)


class _Segment(_Client):
    STUB = segment_pb2_grpc.SegmentServiceStub
    SERVICE = "cdp.segment.v1.SegmentService"

    def create_audience(
        self,
        name: str,
        conditions: Iterable[segment_pb2.Condition] = (),
        *,
        definition_json: str = "",
        purpose: str = "",
        level: str = "",
        **options: Unpack[CallOptions],
    ) -> segment_pb2.Audience:
        """A new audience, if cdp.audience allows: all conditions must hold, and the definition (in
        the condition language's JSON form), if given; purpose is one of the policy's purposes;
        level "account" makes its members accounts (default: persons). Not retried."""
        request = segment_pb2.CreateAudienceRequest(
            name=name, conditions=list(conditions), definition_json=definition_json, purpose=purpose, level=level
        )
        return self._unary("CreateAudience", request, ONCE, "audience", **options)

    def update_audience(
        self,
        audience_id: str,
        *,
        name: str = "",
        purpose: str = "",
        conditions: Iterable[segment_pb2.Condition] = (),
        definition_json: str = "",
        **options: Unpack[CallOptions],
    ) -> segment_pb2.Audience:
        """A new version of an audience: what is given replaces what it had (conditions or a
        definition replace the whole definition), if cdp.audience allows. Not retried."""
        request = segment_pb2.UpdateAudienceRequest(
            audience_id=audience_id,
            name=name,
            purpose=purpose,
            conditions=list(conditions),
            definition_json=definition_json,
        )
        return self._unary("UpdateAudience", request, ONCE, "audience", **options)

    def archive_audience(self, audience_id: str, **options: Unpack[CallOptions]) -> segment_pb2.Audience:
        """Take an audience out of use (its members exit), if cdp.audience allows. Retried on
        UNAVAILABLE (archiving an archived audience changes nothing)."""
        request = segment_pb2.ArchiveAudienceRequest(audience_id=audience_id)
        return self._unary("ArchiveAudience", request, IDEMPOTENT, "audience", **options)

    def preview_audience(
        self,
        conditions: Iterable[segment_pb2.Condition] = (),
        *,
        definition_json: str = "",
        sample: int = 0,
        name: str = "",
        purpose: str = "",
        level: str = "",
        **options: Unpack[CallOptions],
    ) -> segment_pb2.PreviewAudienceResponse:
        """How many persons (accounts, at level "account") a definition, not stored, would hold
        now, and a sample of them. Retried."""
        request = segment_pb2.PreviewAudienceRequest(
            conditions=list(conditions),
            definition_json=definition_json,
            sample=sample,
            name=name,
            purpose=purpose,
            level=level,
        )
        return self._unary("PreviewAudience", request, READ, **options)

    def get_audience(self, audience_id: str, **options: Unpack[CallOptions]) -> segment_pb2.Audience:
        """Retried."""
        request = segment_pb2.GetAudienceRequest(audience_id=audience_id)
        return self._unary("GetAudience", request, READ, "audience", **options)

    def list_audiences(self, **options: Unpack[CallOptions]) -> list[segment_pb2.Audience]:
        """Retried."""
        return self._unary("ListAudiences", segment_pb2.ListAudiencesRequest(), READ, "audiences", **options)

    def list_members(self, audience_id: str, **options: Unpack[CallOptions]) -> list[str]:
        """The person ids in an audience now. Retried."""
        request = segment_pb2.ListMembersRequest(audience_id=audience_id)
        return self._unary("ListMembers", request, READ, "person_ids", **options)

    def list_members_page(
        self, audience_id: str, page_size: int = 0, page_token: str = "", **options: Unpack[CallOptions]
    ) -> segment_pb2.ListMembersResponse:
        """One page of an audience's members (person id order), the next page's token and the total.
        Retried."""
        request = segment_pb2.ListMembersRequest(audience_id=audience_id, page_size=page_size, page_token=page_token)
        return self._unary("ListMembers", request, READ, **options)

    def list_membership_history(
        self,
        audience_id: str = "",
        person_id: str = "",
        page_size: int = 0,
        page_token: str = "",
        account_id: str = "",
        **options: Unpack[CallOptions],
    ) -> segment_pb2.ListMembershipHistoryResponse:
        """One page of entries and exits of an audience, a person (or an account, instead) or both,
        newest first. Retried."""
        request = segment_pb2.ListMembershipHistoryRequest(
            audience_id=audience_id,
            person_id=person_id,
            page_size=page_size,
            page_token=page_token,
            account_id=account_id,
        )
        return self._unary("ListMembershipHistory", request, READ, **options)


class _Activation(_Client):
    STUB = activation_pb2_grpc.ActivationServiceStub
    SERVICE = "cdp.activation.v1.ActivationService"

    def create_destination(
        self,
        name: str,
        url: str,
        purpose: str,
        audience_ids: Iterable[str] = (),
        type: str = "webhook",
        settings: activation_pb2.DestinationSettings | None = None,
        **options: Unpack[CallOptions],
    ) -> activation_pb2.Destination:
        """A destination (a kind and its settings; secrets in settings are stored sealed and never
        returned), with a membership sync of each audience, if cdp.audience allows. Not retried."""
        request = activation_pb2.CreateDestinationRequest(
            name=name, type=type, url=url, purpose=purpose, audience_ids=list(audience_ids), settings=settings
        )
        return self._unary("CreateDestination", request, ONCE, "destination", **options)

    def list_destinations(self, **options: Unpack[CallOptions]) -> list[activation_pb2.Destination]:
        """Retried."""
        request = activation_pb2.ListDestinationsRequest()
        return self._unary("ListDestinations", request, READ, "destinations", **options)

    def get_destination(self, destination_id: str, **options: Unpack[CallOptions]) -> activation_pb2.Destination:
        """Retried."""
        request = activation_pb2.GetDestinationRequest(destination_id=destination_id)
        return self._unary("GetDestination", request, READ, "destination", **options)

    def update_destination(
        self,
        destination_id: str,
        name: str = "",
        url: str = "",
        settings: activation_pb2.DestinationSettings | None = None,
        **options: Unpack[CallOptions],
    ) -> activation_pb2.Destination:
        """A new version of the destination (what is not given stays). Not retried."""
        request = activation_pb2.UpdateDestinationRequest(
            destination_id=destination_id, name=name, url=url, settings=settings
        )
        return self._unary("UpdateDestination", request, ONCE, "destination", **options)

    def pause_destination(self, destination_id: str, **options: Unpack[CallOptions]) -> activation_pb2.Destination:
        """Stop sending; deliveries wait, stored, in order. Not retried."""
        request = activation_pb2.PauseDestinationRequest(destination_id=destination_id)
        return self._unary("PauseDestination", request, ONCE, "destination", **options)

    def resume_destination(self, destination_id: str, **options: Unpack[CallOptions]) -> activation_pb2.Destination:
        """Send again (after a pause, or after the destination answered 410). Not retried."""
        request = activation_pb2.ResumeDestinationRequest(destination_id=destination_id)
        return self._unary("ResumeDestination", request, ONCE, "destination", **options)

    def delete_destination(self, destination_id: str, **options: Unpack[CallOptions]) -> activation_pb2.Destination:
        """Refused (CONFLICT) while the destination has syncs. Not retried."""
        request = activation_pb2.DeleteDestinationRequest(destination_id=destination_id)
        return self._unary("DeleteDestination", request, ONCE, "destination", **options)

    def list_deliveries(
        self,
        destination_id: str = "",
        limit: int = 0,
        person_id: str = "",
        status: str = "",
        sync_id: str = "",
        **options: Unpack[CallOptions],
    ) -> list[activation_pb2.Delivery]:
        """The latest deliveries (of one destination, or all), each with its attempts. Retried."""
        request = activation_pb2.ListDeliveriesRequest(
            destination_id=destination_id, limit=limit, person_id=person_id, status=status, sync_id=sync_id
        )
        return self._unary("ListDeliveries", request, READ, "deliveries", **options)

    def list_dead_letters(
        self, destination_id: str, limit: int = 0, **options: Unpack[CallOptions]
    ) -> list[activation_pb2.Delivery]:
        """A destination's dead-lettered deliveries. Retried."""
        request = activation_pb2.ListDeadLettersRequest(destination_id=destination_id, limit=limit)
        return self._unary("ListDeadLetters", request, READ, "deliveries", **options)

    def replay_deliveries(
        self, destination_id: str, delivery_ids: Iterable[str] = (), **options: Unpack[CallOptions]
    ) -> list[str]:
        """Send dead letters again (all of the destination's when none are named), each under its
        own delivery id. Not retried."""
        request = activation_pb2.ReplayDeliveriesRequest(destination_id=destination_id, delivery_ids=list(delivery_ids))
        return self._unary("ReplayDeliveries", request, ONCE, "delivery_ids", **options)

    def create_sync(
        self,
        destination_id: str,
        audience_id: str,
        mode: str = "membership",
        mapping: activation_pb2.Mapping | None = None,
        **options: Unpack[CallOptions],
    ) -> activation_pb2.Sync:
        """An audience synced to a destination (membership, upsert or mirror), if cdp.audience
        allows; the current members go out first. Not retried."""
        request = activation_pb2.CreateSyncRequest(
            destination_id=destination_id, audience_id=audience_id, mode=mode, mapping=mapping
        )
        return self._unary("CreateSync", request, ONCE, "sync", **options)

    def list_syncs(self, destination_id: str = "", **options: Unpack[CallOptions]) -> list[activation_pb2.Sync]:
        """Retried."""
        request = activation_pb2.ListSyncsRequest(destination_id=destination_id)
        return self._unary("ListSyncs", request, READ, "syncs", **options)

    def get_sync(self, sync_id: str, **options: Unpack[CallOptions]) -> activation_pb2.Sync:
        """Retried."""
        return self._unary("GetSync", activation_pb2.GetSyncRequest(sync_id=sync_id), READ, "sync", **options)

    def update_sync(
        self,
        sync_id: str,
        mode: str = "",
        mapping: activation_pb2.Mapping | None = None,
        **options: Unpack[CallOptions],
    ) -> activation_pb2.Sync:
        """A new version of the sync; the destination gets the difference. Not retried."""
        request = activation_pb2.UpdateSyncRequest(sync_id=sync_id, mode=mode, mapping=mapping)
        return self._unary("UpdateSync", request, ONCE, "sync", **options)

    def pause_sync(self, sync_id: str, **options: Unpack[CallOptions]) -> activation_pb2.Sync:
        """Not retried."""
        return self._unary("PauseSync", activation_pb2.PauseSyncRequest(sync_id=sync_id), ONCE, "sync", **options)

    def resume_sync(self, sync_id: str, **options: Unpack[CallOptions]) -> activation_pb2.Sync:
        """Sends the difference since the pause. Not retried."""
        return self._unary("ResumeSync", activation_pb2.ResumeSyncRequest(sync_id=sync_id), ONCE, "sync", **options)

    def delete_sync(self, sync_id: str, **options: Unpack[CallOptions]) -> activation_pb2.Sync:
        """Not retried."""
        return self._unary("DeleteSync", activation_pb2.DeleteSyncRequest(sync_id=sync_id), ONCE, "sync", **options)

    def approve_sync(self, sync_id: str, fingerprint: str = "", **options: Unpack[CallOptions]) -> activation_pb2.Sync:
        """Four eyes: approve the sync's version in force (not by its author). Not retried."""
        request = activation_pb2.ApproveSyncRequest(sync_id=sync_id, fingerprint=fingerprint)
        return self._unary("ApproveSync", request, ONCE, "sync", **options)

    def reject_sync(
        self, sync_id: str, reason: str = "", fingerprint: str = "", **options: Unpack[CallOptions]
    ) -> activation_pb2.Sync:
        """Refuse the sync's version in force: it sends nothing until changed and approved. Not retried."""
        request = activation_pb2.RejectSyncRequest(sync_id=sync_id, reason=reason, fingerprint=fingerprint)
        return self._unary("RejectSync", request, ONCE, "sync", **options)

    def list_pending_syncs(self, **options: Unpack[CallOptions]) -> list[activation_pb2.Sync]:
        """Syncs waiting for approval. Retried."""
        return self._unary("ListPendingSyncs", activation_pb2.ListPendingSyncsRequest(), READ, "syncs", **options)

    def explain_delivery(
        self, delivery_id: str, **options: Unpack[CallOptions]
    ) -> activation_pb2.ExplainDeliveryResponse:
        """What scheduled a delivery, the sync, audience, approval and consent it was decided with,
        and the fields it carried, by name. Retried."""
        request = activation_pb2.ExplainDeliveryRequest(delivery_id=delivery_id)
        return self._unary("ExplainDelivery", request, READ, **options)


class _EventLog(_Client):
    STUB = eventlog_pb2_grpc.EventLogServiceStub
    SERVICE = "cdp.eventlog.v1.EventLogService"

    def read(
        self,
        after: int = 0,
        limit: int = 0,
        wait_ms: int = 0,
        topics: Iterable[str] = (),
        linger_ms: int = 0,
        **options: Unpack[CallOptions],
    ) -> eventlog_pb2.ReadResponse:
        """One batch of notifications after a position (waiting up to wait_ms for one, then up to
        linger_ms for more while the batch is short), and the log's head. Retried."""
        request = eventlog_pb2.ReadRequest(
            after=after, limit=limit, wait_ms=wait_ms, topics=list(topics), linger_ms=linger_ms
        )
        if (wait_ms or linger_ms) and "timeout" not in options:
            options["timeout"] = max(self.timeout, (wait_ms + linger_ms) / 1000 + 5)
        return self._unary("Read", request, READ, **options)

    def read_all(
        self, topics: Iterable[str] = (), after: int = 0, page_size: int = 2000, **options: Unpack[CallOptions]
    ) -> Iterator[eventlog_pb2.Notification]:
        """Every notification (of these topics) after a position, up to the end of the log as it is
        when read (each batch retried as read)."""
        topics = list(topics)
        return self._paged(
            lambda at: self.read(at, page_size, 0, topics, **options),
            lambda page: page.notifications,
            lambda page, _: page.notifications[-1].id if page.notifications else None,
            after,
        )

    def follow(
        self,
        topics: Iterable[str] = (),
        after: int = 0,
        wait_ms: int = 1000,
        page_size: int = 2000,
        **options: Unpack[CallOptions],
    ) -> Iterator[eventlog_pb2.Notification]:
        """Every notification after a position, then each new one as it is published: endless."""
        topics = list(topics)
        return self._paged(
            lambda at: self.read(at, page_size, wait_ms, topics, **options),
            lambda page: page.notifications,
            lambda page, at: page.notifications[-1].id if page.notifications else at,
            after,
        )

    def read_messages(self, *message_classes: Any, after: int = 0, **options: Unpack[CallOptions]) -> Iterator[Any]:
        """The published messages of these types after a position, decoded, in order."""
        topics = [m.DESCRIPTOR.full_name for m in message_classes]
        return self._paged(
            lambda at: self.read(at, 2000, 0, topics, **options),
            lambda page: [decode(n.topic, n.payload) for n in page.notifications],
            lambda page, _: page.notifications[-1].id if page.notifications else None,
            after,
        )


class _Ops(_Client):
    STUB = ops_pb2_grpc.OpsServiceStub
    SERVICE = "cdp.ops.v1.OpsService"

    def get_status(self, **options: Unpack[CallOptions]) -> ops_pb2.GetStatusResponse:
        """The service's log head and each follower's position, lag and parked count. Retried."""
        return self._unary("GetStatus", ops_pb2.GetStatusRequest(), READ, **options)

    def list_parked(
        self, upstream: str = "", limit: int = 0, **options: Unpack[CallOptions]
    ) -> list[ops_pb2.ParkedEvent]:
        """Upstream events a follower parked (of one upstream, or all). Retried."""
        request = ops_pb2.ListParkedRequest(upstream=upstream, limit=limit)
        return self._unary("ListParked", request, READ, "events", **options)

    def retry_parked(self, upstream: str = "", **options: Unpack[CallOptions]) -> ops_pb2.RetryParkedResponse:
        """Apply parked events again, oldest first. Retried on UNAVAILABLE (each parked event
        applies once, so a second retry applies only what still failed)."""
        return self._unary("RetryParked", ops_pb2.RetryParkedRequest(upstream=upstream), IDEMPOTENT, **options)


class _Health(_Client):
    STUB = health_pb2_grpc.HealthStub
    SERVICE = "grpc.health.v1.Health"

    def check(self, service: str = "", **options: Unpack[CallOptions]) -> health_pb2.HealthCheckResponse.ServingStatus:
        """The serving status of the server (or of one of its services). Retried."""
        request = health_pb2.HealthCheckRequest(service=service)
        return self._unary("Check", request, READ, "status", **options)


class CollectorClient(_Collector, SyncCalls):
    __doc__ = "The collector: ingest, sources, tracking plans, quarantine."

    def ingest_prepared(self, request: bytes, **options: Unpack[CallOptions]) -> collector_pb2.IngestResponse:
        """Ingest an IngestRequest serialised beforehand (benchmarks time the service, not the
        serialisation). Retried on UNAVAILABLE, as ingest."""
        return self._unary(self._raw("Ingest", collector_pb2.IngestResponse), request, IDEMPOTENT, **options)


class QualityClient(_Quality, SyncCalls):
    __doc__ = "The collector's data quality: plan violations, the catalog, volume anomalies."


class IdentityClient(_Identity, SyncCalls):
    __doc__ = "Identity: resolving identifiers to persons, persons, their evidence and history, forgetting."


class ProfileClient(_Profile, SyncCalls):
    __doc__ = "Profiles: one, several, or all of them page after page."


class SegmentClient(_Segment, SyncCalls):
    __doc__ = "Audiences and their members."


class ActivationClient(_Activation, SyncCalls):
    __doc__ = "Destinations and deliveries."


class EventLogClient(_EventLog, SyncCalls):
    __doc__ = "A service's published event log (every service serves one)."


class OpsClient(_Ops, SyncCalls):
    __doc__ = "A service's operations API: status, parked events."


class HealthClient(_Health, SyncCalls):
    __doc__ = "gRPC health checking (answered without a decision of cdp.access)."


class AsyncCollectorClient(_Collector, AsyncCalls):
    __doc__ = CollectorClient.__doc__

    # Defined per mode, unlike the shared methods (annotated with their blocking results): the
    # benchmarks await it in annotated code.
    def ingest_prepared(
        self, request: bytes, **options: Unpack[CallOptions]
    ) -> Awaitable[collector_pb2.IngestResponse]:
        """Ingest an IngestRequest serialised beforehand (benchmarks time the service, not the
        serialisation). Retried on UNAVAILABLE, as ingest."""
        return self._unary(self._raw("Ingest", collector_pb2.IngestResponse), request, IDEMPOTENT, **options)


class AsyncQualityClient(_Quality, AsyncCalls):
    __doc__ = QualityClient.__doc__


class AsyncIdentityClient(_Identity, AsyncCalls):
    __doc__ = IdentityClient.__doc__


class AsyncProfileClient(_Profile, AsyncCalls):
    __doc__ = ProfileClient.__doc__


class AsyncSegmentClient(_Segment, AsyncCalls):
    __doc__ = SegmentClient.__doc__


class AsyncActivationClient(_Activation, AsyncCalls):
    __doc__ = ActivationClient.__doc__


class AsyncEventLogClient(_EventLog, AsyncCalls):
    __doc__ = EventLogClient.__doc__


class AsyncOpsClient(_Ops, AsyncCalls):
    __doc__ = OpsClient.__doc__


class AsyncHealthClient(_Health, AsyncCalls):
    __doc__ = HealthClient.__doc__


SYNC = {
    "collector": CollectorClient,
    "identity": IdentityClient,
    "profile": ProfileClient,
    "segment": SegmentClient,
    "activation": ActivationClient,
    "quality": QualityClient,
}
ASYNC = {
    "collector": AsyncCollectorClient,
    "identity": AsyncIdentityClient,
    "profile": AsyncProfileClient,
    "segment": AsyncSegmentClient,
    "activation": AsyncActivationClient,
    "quality": AsyncQualityClient,
}
