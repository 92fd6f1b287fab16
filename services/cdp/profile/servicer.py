"""gRPC adapter of profile."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import orjson

from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.api.profile.v1 import profile_pb2_grpc
from cdp.platform.accesslog import AccessLog, Read, purpose_of, revealed
from cdp.platform.auth import current_caller
from cdp.platform.errors import NotFound
from cdp.platform.vault import Vault
from cdp.profile.application import ProfileApp
from cdp.profile.projections import ProfileQueries
from cdp.profile.views import present

MAX_PAGE = 1000


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
    ):
        self.app = app
        self.queries = queries
        self.vault = vault
        self.may_see_personal = may_see_personal  # from cdp.access, for the call being served
        self.access = access  # where each read in clear is recorded before it is answered

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
        identifier = (request.identifier.type, request.identifier.value) if request.HasField("identifier") else None
        person_id = await self.app.person_of(request.person_id, identifier)
        profile = self.queries.get(person_id)
        if profile is None:
            raise NotFound(f"person_id: no profile for {person_id}")
        [shown] = await self._shown([profile], request.purpose)
        return pb.GetProfileResponse(profile=shown)

    async def GetProfiles(self, request, context):
        # Profiles as the service holds them now: at least as fresh as its log.
        found = self.app.snapshots(request.person_ids)
        if not request.encrypted:  # as stored (tokens), for a service that decrypts under policy
            found = await self._shown(found, request.purpose)
        return pb.GetProfilesResponse(profiles=found)

    async def ListProfiles(self, request, context):
        limit = min(request.limit or 100, MAX_PAGE)
        page = await self._shown(self.queries.page(request.after_person_id, limit), request.purpose)
        next_after = page[-1].person_id if len(page) == limit else ""
        return pb.ListProfilesResponse(profiles=page, next_after=next_after)
