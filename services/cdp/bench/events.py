"""Realistic tracking calls: Segment-style track and identify events with several fields."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import orjson

from cdp.api.collector.v1 import collector_pb2
from cdp.api.common.v1 import event_pb2

TRACK_EVENTS = ("Product Viewed", "Product Added", "Checkout Started", "Order Completed", "Page Scrolled")
CATEGORIES = ("shoes", "shirts", "outerwear", "accessories", "bags")
_EPOCH = datetime(2025, 3, 1, tzinfo=UTC)


def _iso(seconds: float) -> str:
    return (_EPOCH + timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _context(rng: random.Random) -> str:
    return orjson.dumps(
        {
            "ip": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            "library": {"name": "analytics.js", "version": "5.2.1"},
            "locale": "en-US",
        }
    ).decode()


# What an identify's person agreed to, as Segment's SDK says it: the benches' destinations are for
# analytics, which egress sends only with the person's consent.
CONSENT = {"categoryPreferences": {"analytics": True}}


def _identify_context(rng: random.Random) -> str:
    return orjson.dumps({**orjson.loads(_context(rng)), "consent": CONSENT}).decode()


def track(user_id: str, anonymous_id: str, n: int, rng: random.Random) -> event_pb2.Event:
    return event_pb2.Event(
        type="track",
        message_id=str(uuid.uuid4()),
        user_id=user_id,
        anonymous_id=anonymous_id,
        event=rng.choice(TRACK_EVENTS),
        properties=orjson.dumps(
            {
                "product_id": f"p-{rng.randrange(100000):05d}",
                "sku": f"SKU-{rng.randrange(10**8):08d}",
                "category": rng.choice(CATEGORIES),
                "price": round(rng.uniform(5, 300), 2),
                "currency": "USD",
                "quantity": rng.randrange(1, 4),
                "position": rng.randrange(1, 40),
            }
        ).decode(),
        context=_context(rng),
        timestamp=_iso(n),
    )


def identify(user_id: str, anonymous_id: str, n: int, rng: random.Random, plan: str) -> event_pb2.Event:
    return event_pb2.Event(
        type="identify",
        message_id=str(uuid.uuid4()),
        user_id=user_id,
        anonymous_id=anonymous_id,
        traits=orjson.dumps(
            {
                "email": f"{user_id}@example.com",
                "name": f"Person {user_id[-6:]}",
                "plan": plan,
                "company": f"Company {rng.randrange(1000)}",
                "logins": rng.randrange(1, 200),
                "created_at": _iso(-rng.randrange(10**7)),
            }
        ).decode(),
        context=_identify_context(rng),
        timestamp=_iso(n),
    )


def mixed(count: int, run: str, seed: int = 1, per_person: int = 5, pro_every: int = 2) -> list[event_pb2.Event]:
    """count calls: for each person an identify (with an email trait; plan "pro" for every
    pro_every-th person, else "free") followed by tracks, per_person calls a person."""
    rng = random.Random(seed)
    events: list[event_pb2.Event] = []
    person = 0
    while len(events) < count:
        user_id = f"{run}-u{person:07d}"
        anonymous_id = str(uuid.UUID(int=rng.getrandbits(128)))
        plan = "pro" if person % pro_every == 0 else "free"
        events.append(identify(user_id, anonymous_id, len(events), rng, plan))
        for _ in range(per_person - 1):
            if len(events) >= count:
                break
            events.append(track(user_id, anonymous_id, len(events), rng))
        person += 1
    return events


def requests(write_key: str, events: list[event_pb2.Event], batch: int) -> list[bytes]:
    """Serialised IngestRequests of batch events each (built before any timing)."""
    return [
        collector_pb2.IngestRequest(write_key=write_key, events=events[i : i + batch]).SerializeToString()
        for i in range(0, len(events), batch)
    ]
