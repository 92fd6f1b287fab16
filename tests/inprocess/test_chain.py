"""The whole chain in one process: calls in, a governed delivery out, with no sockets."""

from __future__ import annotations

import asyncio

import orjson

from cdp.activation.application import EGRESS_DECISION
from cdp.api.activation.v1 import activation_pb2
from cdp.api.policy.v1 import decision_pb2
from cdp.platform.published import decode, topic_of
from support.calls import event, event_condition, trait_condition
from support.harness import ADMIN, MARKETER, Harness

DECISIONS = topic_of(decision_pb2.DecisionRecorded)


def recorded(harness: Harness, service: str) -> list[decision_pb2.DecisionRecorded]:
    return [decode(n.topic, n.state) for n in harness.stores[service].read(0, 10_000, DECISIONS)]


def test_an_identify_and_two_tracks_reach_a_destination_with_their_decisions(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            audience = await h.segment.create_audience(
                "Repeat pro buyers",
                [trait_condition("plan", "eq", "pro"), event_condition("Order Completed", 2)],
                MARKETER,
                purpose="marketing",
            )
            await h.activation.create_destination(
                activation_pb2.CreateDestinationRequest(
                    name="Analytics hook",
                    url="http://127.0.0.1:9/cdp",
                    purpose="analytics",
                    audience_ids=[audience.audience_id],
                ),
                ADMIN,  # a marketer may build an audience but not activate it
            )
            ts = "2026-11-30T10:00:00Z"
            response = await h.ingest(
                key,
                [
                    event(
                        "identify",
                        "m1",
                        ts,
                        user_id="u-42",
                        anonymous_id="anon-1",
                        traits={"email": "ada@example.com", "plan": "pro"},
                        context={"consent": {"categoryPreferences": {"analytics": True}}},
                    ),
                    event("track", "m2", ts, user_id="u-42", event="Order Completed", properties={"total": 30}),
                    event("track", "m3", ts, anonymous_id="anon-1", event="Order Completed", properties={"total": 12}),
                ],
            )
            assert response.accepted == 3
            await h.settle()

            assert len(h.destination.received) == 1
            body = h.destination.received[0]["body"]
            assert body["type"] == "audience.entered" and body["audience"]["id"] == audience.audience_id
            assert body["traits"] == {"plan": "pro"}  # email may not leave for analytics
            assert "email" in body["withheld"]
            egress = [r for r in recorded(h, "activation") if r.entrypoint == EGRESS_DECISION]
            assert body["decision_id"] in {r.decision_id for r in egress}
            assert recorded(h, "collector") and recorded(h, "segment")
            # Every time the applications wrote came from their clock (a port), not the system's.
            h.clock.advance(90)
            assert body["at"] == "2026-11-30T12:00:00.000Z"
            (scheduled,) = h.activation.deliveries.values()
            assert orjson.loads(scheduled.payload)["at"] == "2026-11-30T12:00:00.000Z"
            (delivery,) = h.activation.list_deliveries("", 10)
            assert delivery.status == "delivered" and delivery.attempts == 1
            person = h.identity.resolve("user_id", "u-42")
            assert h.identity.resolve("anonymous_id", "anon-1") == person
            assert h.queries.get(person).event_counts["Order Completed"] == 2

    asyncio.run(scenario())
