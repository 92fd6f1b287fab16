"""gRPC adapter of profile."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence

import orjson

from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.api.profile.v1 import profile_pb2_grpc
from cdp.platform.accesslog import AccessLog, Read, purpose_of, revealed
from cdp.platform.auth import current_caller
from cdp.platform.clock import SYSTEM_CLOCK, Clock, format_iso, parse_iso
from cdp.platform.errors import InvalidArgument, NotFound
from cdp.platform.vault import Vault
from cdp.profile import lineage, timeline
from cdp.profile.accounts import AccountQueries
from cdp.profile.application import ProfileApp
from cdp.profile.projections import ProfileQueries
from cdp.profile.search import SearchQueries, decode_token, encode_token, parse_where
from cdp.profile.timeline import TimelineQueries
from cdp.profile.views import present, present_event, present_traits

MAX_PAGE = 1000
CALL_TYPES = ("identify", "track", "page", "screen", "group", "alias")
JSON_FIELDS = ("properties", "traits", "context")


def clear_fields(stored: pb.Profile, shown: pb.Profile) -> list[str]:
    """The paths of the personal values a profile shows in clear (traits.email, accounts[].traits.x)."""
    found: dict[str, None] = {}
    pairs = [("traits", stored.traits, shown.traits)]
    pairs += [("accounts[].traits", a.traits, b.traits) for a, b in zip(stored.accounts, shown.accounts, strict=True)]
    for prefix, before, after in pairs:
        for name, trait in before.items():
            if trait.erased or name not in after or after[name].erased or after[name].masked:
                continue
            for path in revealed(_json(trait.value), _json(after[name].value), f"{prefix}.{name}"):
                found[path] = None
    return list(found)


def clear_event_fields(stored: pb.TimelineEvent, shown: pb.TimelineEvent) -> list[str]:
    """The paths of the personal values a timeline call shows in clear (events[].properties.email)."""
    found: dict[str, None] = {}
    for name in JSON_FIELDS:
        for path in revealed(_json(getattr(stored, name)), _json(getattr(shown, name)), f"events[].{name}"):
            found[path] = None
    return list(found)


def clear_trait_fields(stored, shown, prefix: str) -> list[str]:
    found: dict[str, None] = {}
    for name, trait in stored.items():
        if trait.erased or name not in shown or shown[name].erased or shown[name].masked:
            continue
        for path in revealed(_json(trait.value), _json(shown[name].value), f"{prefix}.{name}"):
            found[path] = None
    return list(found)


def _time(text: str, field: str) -> str:
    if not text:
        return ""
    try:
        return format_iso(parse_iso(text))
    except ValueError as error:
        raise InvalidArgument(field, "an RFC 3339 time, such as 2026-11-30T12:00:00Z") from error


def _page_size(value: int, default: int, field: str = "page_size") -> int:
    if value < 0:
        raise InvalidArgument(field, f"at least 0 (0: {default}), at most {MAX_PAGE}")
    return min(value or default, MAX_PAGE)


def _json(text: str) -> object:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


class ProfileServicer(profile_pb2_grpc.ProfileServiceServicer):
    def __init__(
        self,
        app: ProfileApp,
        queries: ProfileQueries,
        vault: Vault,
        may_see_personal: Callable[[], bool],
        access: AccessLog,
        accounts: AccountQueries,
        events: TimelineQueries,
        search: SearchQueries | None = None,
        clock: Clock = SYSTEM_CLOCK,
        fresh: Callable[[], Awaitable[object]] | None = None,
    ):
        self.app = app
        self.queries = queries
        self.accounts = accounts
        self.events = events
        self.vault = vault
        self.may_see_personal = may_see_personal  # from cdp.access, for the call being served
        self.access = access  # where each read in clear is recorded before it is answered
        self.search = search
        self.clock = clock
        self._fresh = fresh  # the read models caught up with what this service published, before a query

    async def _read_models_fresh(self) -> None:
        if self._fresh is not None:
            await self._fresh()

    def _views(self, profiles: Sequence[pb.Profile]) -> Iterator[tuple[pb.Profile, pb.Profile]]:
        clear = self.may_see_personal()
        for profile in profiles:
            yield profile, present(profile, clear, self.vault)

    async def _shown(self, profiles: Sequence[pb.Profile], purpose: str) -> list[pb.Profile]:
        """The profiles as this caller may see them; the reads in clear recorded before they go."""
        caller = current_caller()
        stated = purpose_of(purpose, caller.method)
        views = list(self._views(profiles))
        if self.may_see_personal():  # a masked read shows nothing personal: nothing to record
            reads = [Read(stored.person_id, clear_fields(stored, shown)) for stored, shown in views]
            await self.access.record(caller, reads, purpose=stated)
        return [shown for _, shown in views]

    async def GetProfile(self, request, context):
        await self._read_models_fresh()
        identifier = (request.identifier.type, request.identifier.value) if request.HasField("identifier") else None
        person_id = await self.app.person_of(request.person_id, identifier)
        profile = self.queries.get(person_id)
        if profile is None:
            raise NotFound(f"person_id: no profile for {person_id}")
        [shown] = await self._shown([self._with_accounts(profile)], request.purpose)
        return pb.GetProfileResponse(profile=shown)

    def _with_accounts(self, profile: pb.Profile) -> pb.Profile:
        """The profile with each of its accounts' own traits (from every member's group calls)."""
        found = self.accounts.many([a.group_id for a in profile.accounts])
        if not found:
            return profile
        full = pb.Profile()
        full.CopyFrom(profile)
        for account in full.accounts:
            if account.group_id in found:
                account.traits.clear()
                for name, trait in found[account.group_id].traits.items():
                    account.traits[name].CopyFrom(trait)
        return full

    async def GetAccount(self, request, context):
        await self._read_models_fresh()
        if not request.account_id:
            raise InvalidArgument("account_id", "give the account's id (a group call's groupId)")
        account = self.accounts.get(request.account_id)
        if account is None:
            raise NotFound(f"account_id: no account {request.account_id}")
        caller = current_caller()
        stated = purpose_of(request.purpose, caller.method)
        shown = pb.Account()
        shown.CopyFrom(account)
        clear = self.may_see_personal()
        present_traits(shown.traits, clear, self.vault)
        if clear:  # a personal value of an account is its sender's: the read is recorded as theirs
            reads: dict[str, list[str]] = {}
            for name, trait in account.traits.items():
                fields = clear_trait_fields({name: trait}, shown.traits, "accounts[].traits")
                if fields:
                    reads.setdefault(self.app.person_of_subject(trait.subject), []).extend(fields)
            reference = f"account:{account.group_id}"
            await self.access.record(caller, [Read(p, f, reference) for p, f in reads.items()], purpose=stated)
        return pb.GetAccountResponse(account=shown)

    async def ListAccountMembers(self, request, context):
        await self._read_models_fresh()
        if not request.account_id:
            raise InvalidArgument("account_id", "give the account's id (a group call's groupId)")
        limit = _page_size(request.page_size, 100)
        after = request.page_token
        person_ids, total = self.accounts.members(request.account_id, after, limit)
        if not total and self.accounts.get(request.account_id) is None:
            raise NotFound(f"account_id: no account {request.account_id}")
        next_token = person_ids[-1] if len(person_ids) == limit else ""
        return pb.ListAccountMembersResponse(person_ids=person_ids, next_page_token=next_token, total=total)

    async def ListEvents(self, request, context):
        await self._read_models_fresh()
        identifier = (request.identifier.type, request.identifier.value) if request.HasField("identifier") else None
        person_id = self.queries.survivor_of(await self.app.person_of(request.person_id, identifier))
        unknown = sorted(set(request.types) - set(CALL_TYPES))
        if unknown:
            raise InvalidArgument("types", f"unknown call type {unknown[0]!r}: one of {', '.join(CALL_TYPES)}")
        where = timeline.Filter(tuple(request.types), _time(request.since, "since"), _time(request.until, "until"))
        limit = _page_size(request.page_size, 50)
        after = timeline.decode_token(request.page_token)
        caller = current_caller()
        stated = purpose_of(request.purpose, caller.method)
        found, more = self.events.page(person_id, limit, after, where)
        clear = self.may_see_personal()
        shown = [present_event(e, clear, self.vault) for e in found]
        if clear:  # a masked read shows nothing personal: nothing to record
            fields = [f for stored, view in zip(found, shown, strict=True) for f in clear_event_fields(stored, view)]
            await self.access.record(caller, [Read(person_id, fields)], purpose=stated)
        next_token = timeline.encode_token(found[-1]) if more and found else ""
        return pb.ListEventsResponse(person_id=person_id, events=shown, next_page_token=next_token)

    async def GetTraitLineage(self, request, context):
        await self._read_models_fresh()
        if not request.trait:
            raise InvalidArgument("trait", "give the trait's name")
        identifier = (request.identifier.type, request.identifier.value) if request.HasField("identifier") else None
        person_id = self.queries.survivor_of(await self.app.person_of(request.person_id, identifier))
        profile = self.queries.get(person_id)
        if profile is None:
            raise NotFound(f"person_id: no profile for {person_id}")
        stored = profile.traits.get(request.trait)
        clear = self.may_see_personal()
        calls = self.events.calls_of(person_id, lineage.SETTING_TYPES)
        settings, revealed = lineage.settings(calls, request.trait, stored, clear, self.vault)
        answer = pb.GetTraitLineageResponse(person_id=person_id, trait=request.trait, settings=settings)
        if stored is not None:
            [(_, shown)] = self._views([pb.Profile(person_id=person_id, traits={request.trait: stored})])
            answer.current.CopyFrom(shown.traits[request.trait])
            revealed += clear_trait_fields({request.trait: stored}, shown.traits, "traits")
            if stored.computed:
                answer.computed.CopyFrom(self.app.computed_trait(request.trait))
        if clear and revealed:  # a masked read shows nothing personal: nothing to record
            caller = current_caller()
            stated = purpose_of(request.purpose, caller.method)
            await self.access.record(caller, [Read(person_id, revealed)], purpose=stated)
        return answer

    async def GetProfiles(self, request, context):
        # Profiles as the service holds them now, in memory: at least as fresh as its log. No read
        # model is read, so none is waited for (activation asks before each batch it schedules).
        found = self.app.snapshots(request.person_ids)
        if not request.encrypted:  # as stored (tokens), for a service that decrypts under policy
            found = await self._shown(found, request.purpose)
        return pb.GetProfilesResponse(profiles=found)

    async def ListProfiles(self, request, context):
        await self._read_models_fresh()
        limit = min(request.limit or 100, MAX_PAGE)
        page = await self._shown(self.queries.page(request.after_person_id, limit), request.purpose)
        next_after = page[-1].person_id if len(page) == limit else ""
        return pb.ListProfilesResponse(profiles=page, next_after=next_after)

    async def CreateComputedTrait(self, request, context):
        trait = await self.app.create_computed_trait(request.name, request.definition_json, current_caller())
        return pb.CreateComputedTraitResponse(computed_trait=trait)

    async def GetComputedTrait(self, request, context):
        return pb.GetComputedTraitResponse(computed_trait=self.app.computed_trait(request.name))

    async def ListComputedTraits(self, request, context):
        traits = [self.app.computed.traits[n] for n in sorted(self.app.computed.traits)]
        return pb.ListComputedTraitsResponse(computed_traits=traits)

    async def SearchProfiles(self, request, context):
        await self._read_models_fresh()
        if self.search is None:
            raise NotFound("SearchProfiles: this profile service keeps no search read model")
        if not request.where_json:
            raise InvalidArgument("where_json", 'give a condition, e.g. {"trait": "plan", "op": "eq", "value": "pro"}')
        where = parse_where(request.where_json)
        limit = _page_size(request.page_size, 50)
        after = decode_token(request.page_token)
        person_ids, total = self.search.search(where, after, limit, self.may_see_personal(), self.clock.now())
        found = self.queries.many(person_ids)
        shown = await self._shown(found, request.purpose)  # masked as GetProfile masks; reads recorded
        next_token = encode_token(person_ids[-1]) if len(person_ids) == limit else ""
        return pb.SearchProfilesResponse(profiles=shown, next_page_token=next_token, total=total)
