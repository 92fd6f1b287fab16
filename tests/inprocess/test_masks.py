"""A mask cannot be read around: a caller who sees a personal trait only masked cannot target it."""

from __future__ import annotations

import asyncio

import pytest

from cdp.platform.errors import PermissionDenied
from support.calls import event, trait_condition
from support.harness import ADMIN, MARKETER, Harness


def test_a_marketer_cannot_read_a_masked_email_through_audiences(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(
                key, [event("identify", "i1", "2026-11-30T10:00:00Z", user_id="u1", traits={"email": "ada@x.io"})]
            )
            await h.settle()
            # The attack: bisect the email with "lt" audiences and read the answer off membership.
            for op, value in (("lt", "m"), ("eq", "ada@x.io"), ("exists", True)):
                with pytest.raises(PermissionDenied, match=r"trait email is pii\.contact"):
                    await h.segment.create_audience("Guess", [trait_condition("email", op, value)], MARKETER)
            # A caller who may see it in clear may target it.
            created = await h.segment.create_audience("Ada", [trait_condition("email", "eq", "ada@x.io")], ADMIN)
            assert created.audience_id

    asyncio.run(scenario())
