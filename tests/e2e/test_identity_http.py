"""An identity corpus sent as an SDK would, over the HTTP tracking API, to the five services as real
processes: the joins that must happen, the ones that must not, and forgetting exactly one person."""

from __future__ import annotations

import uuid

import pytest
import requests

from cdp.api.collector.v1 import collector_pb2
from support.calls import ident
from support.platform_fixture import Client, free_ports, log_tails, new_platform, wait_until

pytestmark = pytest.mark.e2e

JUNK = ["undefined", "null", "0", "-1", "anonymous", "[object Object]", "00000000-0000-0000-0000-000000000000"]


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    platform = new_platform(tmp_path_factory.mktemp("identity-http"))
    platform.http_port = free_ports(1)[0]
    try:
        platform.start_all(timeout=60)
    except (RuntimeError, TimeoutError) as error:
        platform.stop()
        raise RuntimeError(f"{error}\n{log_tails(platform)}") from None
    yield platform
    platform.stop()


@pytest.fixture(scope="module")
def client(platform):
    with Client(platform) as c:
        yield c


def send(platform, write_key: str, batch: list[dict]) -> None:
    for call in batch:
        call.setdefault("messageId", str(uuid.uuid4()))
    response = requests.post(
        f"http://127.0.0.1:{platform.http_port}/v1/batch", json={"batch": batch}, auth=(write_key, ""), timeout=10
    )
    assert response.status_code == 200, response.text


def identify(user_id=None, anonymous_id=None, **traits) -> dict:
    call: dict = {"type": "identify", "traits": traits}
    if user_id is not None:
        call["userId"] = user_id
    if anonymous_id is not None:
        call["anonymousId"] = anonymous_id
    return call


def person(client: Client, kind: str, value: str) -> str:
    found = client.identity.resolve([(kind, value)], timeout=10).resolutions[0].person_id
    return found


def user_ids_of(client: Client, person_id: str) -> list[str]:
    found = client.identity.get_person(person_id=person_id, timeout=10)
    return [i.value for i in found.identifiers if i.type == "user_id"]


def test_identity_corpus_over_http(platform, client):
    source = client.create_source("identity-corpus", server_side=True)
    batch = [
        identify("alice", "kiosk", email="alice@corp.io", name="Alice"),
        identify("bob", "kiosk", email="bob@corp.io", name="Bob"),
        identify("carol", "c-laptop", email="team@corp.io"),
        identify("dave", "d-laptop", email="Team@Corp.io"),
        *[identify(f"qa-{n}", "qa-fixed-device") for n in range(30)],
        *[identify(f"junk-{n}", junk) for n, junk in enumerate(JUNK)],
        identify(12345678901234567890),
        identify(12345678901234567891),
        identify("007"),
        identify("7"),
        {"type": "page", "anonymousId": "browse-1", "name": "Pricing"},
        identify("erin", "browse-1", email="Erin@Mail.io"),
        {"type": "track", "anonymousId": "erin-phone", "event": "Opened App"},
        {"type": "alias", "userId": "erin", "previousId": "erin-phone"},
        identify(None, "erin-tablet", email=" erin@mail.IO"),
    ]
    send(platform, source.write_key, batch)
    users = ["alice", "bob", "carol", "dave", *[f"qa-{n}" for n in range(30)], *[f"junk-{n}" for n in range(len(JUNK))]]
    users += ["12345678901234567890", "12345678901234567891", "007", "7", "erin"]
    wait_until(lambda: person(client, "anonymous_id", "erin-tablet") or None, what="identity following the corpus")
    persons = {u: person(client, "user_id", u) for u in users}
    assert all(persons.values())
    # No person ever holds two user ids; every user id is a person of its own.
    assert len(set(persons.values())) == len(users)
    for person_id in set(persons.values()):
        assert len(user_ids_of(client, person_id)) == 1
    # Junk anonymous ids join nobody.
    for junk in JUNK:
        assert person(client, "anonymous_id", junk) == ""
    # Legitimate joins: anonymous browsing then sign-in, an alias, a known email in any case.
    erin = persons["erin"]
    for kind, value in [
        ("anonymous_id", "browse-1"),
        ("anonymous_id", "erin-phone"),
        ("anonymous_id", "erin-tablet"),
        ("email", "ERIN@mail.io"),
    ]:
        assert person(client, kind, value) == erin, (kind, value)

    def erins_profile():
        found = client.profile.get_profile(identifier=ident("user_id", "erin"), timeout=10)
        return found if found.event_counts["Opened App"] == 1 and found.event_counts["$page"] == 1 else None

    wait_until(erins_profile, what="erin's profile with her calls from before sign-in")

    # Forget alice: bob, who shared her kiosk, keeps his data.
    officer = client.as_user("olga@corp.io", ["privacy_officer"])
    done = officer.identity.forget(identifier=("user_id", "alice"), timeout=10)
    assert done.person_id == persons["alice"] and done.suppressed == 2

    def erased():
        found = officer.profile.get_profile(person_id=persons["alice"], timeout=10)
        return found if found.traits["email"].erased else None

    assert wait_until(erased, what="alice's profile erased").traits["name"].erased
    bob = officer.profile.get_profile(person_id=persons["bob"], timeout=10)
    assert bob.traits["email"].value == '"bob@corp.io"' and bob.traits["name"].value == '"Bob"'

    # Alice's next calls are dropped at the door; bob's, on the shared kiosk, are not.
    def suppressed():
        send(platform, source.write_key, [identify("alice", None, plan="pro")])
        dropped = client.read_messages("collector", collector_pb2.EventSuppressed)
        return dropped or None

    assert wait_until(suppressed, what="the collector dropping alice's calls")[0].identifier_type == "user_id"
    send(platform, source.write_key, [{**identify("bob", "kiosk", plan="team"), "messageId": "bob-after"}])
    wait_until(
        lambda: (
            any(
                m.event.message_id == "bob-after"
                for m in client.read_messages("collector", collector_pb2.EventAccepted)
            )
            or None
        ),
        what="bob's call accepted",
    )
