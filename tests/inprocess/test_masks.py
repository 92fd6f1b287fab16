"""A mask cannot be read around: a caller who sees a personal trait only masked cannot target it."""

from __future__ import annotations

import asyncio
import json

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
                    await h.segment.create_audience(
                        "Guess", [trait_condition("email", op, value)], MARKETER, purpose="marketing"
                    )
            # A caller who may see it in clear may target it.
            created = await h.segment.create_audience(
                "Ada", [trait_condition("email", "eq", "ada@x.io")], ADMIN, purpose="marketing"
            )
            assert created.audience_id

    asyncio.run(scenario())


def test_nested_personal_traits_are_masked_revealed_erased_and_withheld_at_every_depth(tmp_path):
    from cdp.api.activation.v1 import activation_pb2
    from cdp.profile.views import present

    email, street = "ada.nested@x.io", "1 Deep Street"
    traits = {
        "plan": "pro",
        "contact": {"email": email, "channel": "sms"},
        "addresses": [{"street": street}],
        "account": {"owner": {"street": street}, "tier": "gold"},  # a personal value under plain names
        "landing": f"https://x.io/?email={email}&utm=spring",
        "note": f"write to {email}",  # personal by value only
    }

    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            consent = {"consent": {"categoryPreferences": {"marketing": True}}}  # the marketing hook below needs it
            call = event("identify", "n1", "2026-11-30T10:00:00Z", user_id="u1", traits=traits, context=consent)
            await h.ingest(key, [call])
            await h.settle()
            person = h.identity.resolve("user_id", "u1")
            [stored] = h.profile.snapshots([person])
            # An analyst or marketer (no clear personal data) sees every nested value masked.
            masked = present(stored, False, h.vault)
            shown = {name: json.loads(t.value) for name, t in masked.traits.items()}
            assert shown == {
                "plan": "pro",
                "contact": {"email": "***", "channel": "sms"},
                "addresses": [{"street": "***"}],
                "account": {"owner": {"street": "***"}, "tier": "gold"},
                "landing": "https://x.io/?email=***&utm=spring",
                "note": "***",
            }
            assert masked.traits["contact"].masked and not masked.traits["plan"].masked
            # An admin sees them in clear, the URL byte for byte.
            clear = present(stored, True, h.vault)
            assert {name: json.loads(t.value) for name, t in clear.traits.items()} == traits

            # Marketing may receive contact data, not addresses; a value personal by value alone
            # goes to no purpose.
            audience = await h.segment.create_audience(
                "Pro", [trait_condition("plan", "eq", "pro")], MARKETER, purpose="marketing"
            )
            await h.settle()
            request = activation_pb2.CreateDestinationRequest(
                name="Hook", url="http://127.0.0.1:9/m", purpose="marketing", audience_ids=[audience.audience_id]
            )
            await h.activation.create_destination(request, ADMIN)
            await h.approve()  # four eyes on a sync of personal data
            await h.settle()
            (sent,) = h.destination.received
            body = sent["body"]
            assert body["traits"]["contact"] == {"email": email, "channel": "sms"}
            assert body["traits"]["landing"] == f"https://x.io/?email={email}&utm=spring"
            assert body["traits"]["account"] == {"owner": {"street": None}, "tier": "gold"}, "taken out at depth"
            assert "account.street" in body["withheld"]
            assert "addresses" not in body["traits"] and "note" not in body["traits"], "withheld whole"
            assert street not in json.dumps(body) and {"addresses", "note"} <= set(body["withheld"])

            # After forget, nested values read as erased.
            await h.identity.forget(person, "privacy@example.com")
            [after] = h.profile.snapshots([person])
            erased = {name: json.loads(t.value) for name, t in present(after, True, h.vault).traits.items()}
            assert erased["contact"] == {"email": None, "channel": "sms"}
            assert erased["landing"] == "https://x.io/?email=&utm=spring"

    asyncio.run(scenario())
