"""The timeline read model applies a page in a few statements: the rows must be those of applying
its notifications one by one, in log order, whatever the mix of calls, moves and repeats."""

from __future__ import annotations

import random
import uuid

import sqlalchemy as sa
from eventsourcing.persistence import Notification

from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.profile import timeline

KEYS = [("user_id", f"u{i}") for i in range(4)] + [("anonymous_id", f"a{i}") for i in range(3)]
PERSONS = [f"p{i}" for i in range(5)]


def notifications(messages) -> list[Notification]:
    return [
        Notification(
            id=i + 1,
            originator_id=uuid.uuid4(),
            originator_version=1,
            topic=m.DESCRIPTOR.full_name,
            state=m.SerializeToString(),
        )
        for i, m in enumerate(messages)
    ]


def history(rng: random.Random, length: int) -> list:
    """Calls (some of them sent again) and moves of keys between persons."""
    messages, event_ids = [], []
    for _ in range(length):
        if rng.random() < 0.4:
            key_type, key_value = rng.choice(KEYS)
            messages.append(pb.PartObserved(key_type=key_type, key_value=key_value, person_id=rng.choice(PERSONS)))
            continue
        calls = []
        for _ in range(rng.randint(1, 3)):
            key_type, key_value = rng.choice(KEYS)
            earlier = [e for e in event_ids if e not in {c.event.event_id for c in calls}]
            repeat = earlier and rng.random() < 0.2  # a call stored again (never twice in one message)
            event_id = rng.choice(earlier) if repeat else str(uuid.UUID(int=rng.getrandbits(128)))
            event_ids.append(event_id)
            calls.append(
                pb.ObservedCall(
                    key_type=key_type,
                    key_value=key_value,
                    person_id=rng.choice(PERSONS),
                    event=pb.TimelineEvent(
                        event_id=event_id, type="track", timestamp=f"2026-01-01T00:00:{len(event_ids):02d}Z"
                    ),
                )
            )
        messages.append(pb.CallsObserved(calls=calls))
    return messages


def rows(engine) -> set[tuple]:
    with engine.connect() as conn:
        t = timeline.events.c
        return set(conn.execute(sa.select(t.event_id, t.person_id, t.key_type, t.key_value, t.body)))


def applied(pages: list[list[Notification]]) -> set[tuple]:
    engine = sa.create_engine("sqlite://")
    timeline.metadata.create_all(engine)
    for page in pages:
        with engine.begin() as conn:
            timeline.apply(conn, page)
    return rows(engine)


def test_a_page_applied_at_once_equals_its_notifications_one_by_one():
    for seed in range(60):
        rng = random.Random(seed)
        log = notifications(history(rng, rng.randint(1, 30)))
        one_by_one = applied([[n] for n in log])
        cut = rng.randint(0, len(log))  # rows stored before the page, then the rest at once
        assert applied([log[:cut], log[cut:]]) == one_by_one, f"seed {seed}"
        assert applied([log]) == one_by_one, f"seed {seed}"


def test_a_move_gives_earlier_calls_to_the_new_person_and_later_ones_keep_theirs():
    call = lambda event_id, person: pb.CallsObserved(  # noqa: E731
        calls=[
            pb.ObservedCall(
                key_type="user_id",
                key_value="u1",
                person_id=person,
                event=pb.TimelineEvent(event_id=event_id, type="track", timestamp="2026-01-01T00:00:00Z"),
            )
        ]
    )
    log = notifications(
        [
            call("e1", "A"),
            pb.PartObserved(key_type="user_id", key_value="u1", person_id="B"),
            call("e2", "B"),
            call("e3", "C"),  # came with another person, and no move after it
        ]
    )
    persons = {event_id: person for event_id, person, *_ in applied([log])}
    assert persons == {"e1": "B", "e2": "B", "e3": "C"}
