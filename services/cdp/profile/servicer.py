"""gRPC adapter of profile."""

from __future__ import annotations

import grpc

from cdp.api.identity.v1 import identity_pb2, identity_pb2_grpc
from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.api.profile.v1 import profile_pb2_grpc
from cdp.platform.vault import Vault
from cdp.profile.projections import ProfileQueries
from cdp.profile.views import present

MAX_PAGE = 1000


class ProfileServicer(profile_pb2_grpc.ProfileServiceServicer):
    def __init__(
        self,
        queries: ProfileQueries,
        identity: identity_pb2_grpc.IdentityServiceStub,
        vault: Vault,
        may_see_personal=lambda context: False,
        current=None,
    ):
        self.queries = queries
        # Profiles as the service holds them now (GetProfiles): at least as fresh as its log.
        self.current = current or queries.many
        self.identity = identity
        self.vault = vault
        self.may_see_personal = may_see_personal  # (context) -> bool, from cdp.access

    def _view(self, profile: pb.Profile, context) -> pb.Profile:
        return present(profile, self.may_see_personal(context), self.vault)

    async def GetProfile(self, request, context):
        person_id = request.person_id
        if not person_id and request.identifier.value:
            response = await self.identity.Resolve(
                identity_pb2.ResolveRequest(identifiers=[request.identifier]), timeout=10
            )
            person_id = response.resolutions[0].person_id
            if not person_id:
                await context.abort(
                    grpc.StatusCode.NOT_FOUND,
                    f"identifier: no person has {request.identifier.type} {request.identifier.value!r}",
                )
        if not person_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "person_id: give a person id or an identifier")
        profile = self.queries.get(person_id)
        if profile is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"person_id: no profile for {person_id}")
        return pb.GetProfileResponse(profile=self._view(profile, context))

    async def GetProfiles(self, request, context):
        found = self.current(request.person_ids)
        if not request.encrypted:
            found = [self._view(p, context) for p in found]
        return pb.GetProfilesResponse(profiles=found)

    async def ListProfiles(self, request, context):
        limit = min(request.limit or 100, MAX_PAGE)
        page = [self._view(p, context) for p in self.queries.page(request.after_person_id, limit)]
        next_after = page[-1].person_id if len(page) == limit else ""
        return pb.ListProfilesResponse(profiles=page, next_after=next_after)
