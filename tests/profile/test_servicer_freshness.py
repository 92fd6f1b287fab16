"""Which profile queries wait for the read models: those that read them. GetProfiles answers from
the profiles held in memory (at least as fresh as the log), so it waits for none: activation asks
it before each batch it schedules, and waiting for the read models there held every delivery."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.profile.servicer import ProfileServicer


class Held:
    """The profiles in memory, as ProfileApp.snapshots gives them."""

    def snapshots(self, person_ids):
        return [pb.Profile(person_id=p) for p in person_ids if p != "unknown"]


def servicer(fresh) -> ProfileServicer:
    none = cast(Any, None)
    return ProfileServicer(cast(Any, Held()), none, none, lambda: False, none, none, none, fresh=fresh)


async def read_models_behind() -> None:
    await asyncio.Event().wait()  # a catch-up that has not ended


def test_get_profiles_answers_from_memory_while_the_read_models_catch_up():
    request = pb.GetProfilesRequest(person_ids=["p1", "unknown", "p2"], encrypted=True)
    response = asyncio.run(asyncio.wait_for(servicer(read_models_behind).GetProfiles(request, None), 2))
    assert [p.person_id for p in response.profiles] == ["p1", "p2"]


def test_a_query_of_a_read_model_still_waits_for_it():
    request = pb.ListProfilesRequest(limit=10)
    with pytest.raises(TimeoutError):
        asyncio.run(asyncio.wait_for(servicer(read_models_behind).ListProfiles(request, None), 0.2))
