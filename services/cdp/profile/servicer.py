"""gRPC adapter of profile."""

from __future__ import annotations

from collections.abc import Callable

from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.api.profile.v1 import profile_pb2_grpc
from cdp.platform.errors import NotFound
from cdp.platform.vault import Vault
from cdp.profile.application import ProfileApp
from cdp.profile.projections import ProfileQueries
from cdp.profile.views import present

MAX_PAGE = 1000


class ProfileServicer(profile_pb2_grpc.ProfileServiceServicer):
    def __init__(self, app: ProfileApp, queries: ProfileQueries, vault: Vault, may_see_personal: Callable[[], bool]):
        self.app = app
        self.queries = queries
        self.vault = vault
        self.may_see_personal = may_see_personal  # from cdp.access, for the call being served

    def _view(self, profile: pb.Profile) -> pb.Profile:
        return present(profile, self.may_see_personal(), self.vault)

    async def GetProfile(self, request, context):
        identifier = (request.identifier.type, request.identifier.value) if request.HasField("identifier") else None
        person_id = await self.app.person_of(request.person_id, identifier)
        profile = self.queries.get(person_id)
        if profile is None:
            raise NotFound(f"person_id: no profile for {person_id}")
        return self._view(profile)

    async def GetProfiles(self, request, context):
        # Profiles as the service holds them now: at least as fresh as its log.
        found = self.app.snapshots(request.person_ids)
        if not request.encrypted:
            found = [self._view(p) for p in found]
        return pb.GetProfilesResponse(profiles=found)

    async def ListProfiles(self, request, context):
        limit = min(request.limit or 100, MAX_PAGE)
        page = [self._view(p) for p in self.queries.page(request.after_person_id, limit)]
        next_after = page[-1].person_id if len(page) == limit else ""
        return pb.ListProfilesResponse(profiles=page, next_after=next_after)
