"""Ids whose values are personal (an email as the userId, a phone as the anonymousId), end to end on
SQLite and PostgreSQL: stored nowhere in clear, found by their clear value, forgotten with the person.
"""

from __future__ import annotations

import uuid

import pytest

from cdp.api.collector.v1 import collector_pb2
from cdp.client import NotFound
from cdp.platform.pseudonyms import PREFIX
from support.calls import event, ident
from support.governance import ingest_accepted, profile_by, restart, run_cli, storage_search
from support.platform_fixture import Client, wait_until

pytestmark = pytest.mark.e2e

EMAIL_ID = "Ida.Pseudo-4c1e@Example.com"  # ids are case-sensitive: kept (and found) exactly as sent
PHONE_ID = "+44 7700 900461"
OTHER_ID = "carl.keep-4c1e@example.com"
NEEDLES = (EMAIL_ID, EMAIL_ID.lower(), PHONE_ID, "+447700900461", "Ida.Pseudo-4c1e")


def in_clear(platform) -> dict[str, list[str]]:
    return storage_search(platform, NEEDLES)


def test_personal_ids_are_pseudonyms_found_by_value_and_forgotten(platform):
    with Client(platform) as client:
        source = client.create_source("ids", server_side=True)
        ingest_accepted(
            client,
            source,
            [
                event("identify", "pi-1", "2024-05-01T09:00:00Z", anonymous_id=PHONE_ID, traits={"plan": "pro"}),
                event("identify", "pi-2", "2024-05-01T09:01:00Z", user_id=EMAIL_ID, anonymous_id=PHONE_ID),
                event("track", "pi-3", "2024-05-01T09:02:00Z", user_id=EMAIL_ID, event="Order Completed"),
                event("identify", "pi-4", "2024-05-01T09:03:00Z", user_id=OTHER_ID, traits={"plan": "free"}),
            ],
        )
        accepted = client.read_messages("collector", collector_pb2.EventAccepted)
        ours = [a.event for a in accepted if a.event.message_id in ("pi-1", "pi-2", "pi-3")]
        assert all(e.user_id.startswith(PREFIX) for e in ours if e.user_id)
        assert all(e.anonymous_id.startswith(PREFIX) for e in ours if e.anonymous_id)
        assert len({e.user_id for e in ours if e.user_id}) == 1  # one value, one pseudonym
        assert set(ours[1].sealed_identifiers) == {"user_id", "anonymous_id"}

        # Found by the clear value, through identity's blind index: one person, the phone's calls
        # from before sign-in joined to the email's.
        person = wait_until(
            lambda: client.identity.get_person(identifier=ident("user_id", EMAIL_ID), timeout=10),
            what="the person found by the email used as their user id",
        )
        assert client.identity.get_person(identifier=ident("anonymous_id", PHONE_ID), timeout=10).person_id == (
            person.person_id
        )
        with pytest.raises(NotFound):  # ids are exact: another spelling is another id
            client.identity.get_person(identifier=ident("user_id", EMAIL_ID.lower()), timeout=10)
        wait_until(
            lambda: profile_by(client, "user_id", EMAIL_ID).event_counts["Order Completed"] == 1 or None,
            what="the profile found by the clear id",
        )
        # Identity rebuilt from its log (a restart) still finds them by the clear value.
        restart(platform, "identity")
        client.reconnect("identity")
        assert client.identity.get_person(identifier=ident("user_id", EMAIL_ID), timeout=10).person_id == (
            person.person_id
        )
        shown = run_cli(platform, "identity", "show", "--user-id", EMAIL_ID)
        assert shown.returncode == 0 and person.person_id in shown.stdout, shown.stderr + shown.stdout
        # Nothing holds the ids in clear, even before any forget: not the calls, the graph, the
        # profiles, the key table, the decision logs or the logs.
        assert in_clear(platform) == {}

        done = run_cli(
            platform, "forget", "--user-id", EMAIL_ID, "--subject", "dpo@example.com", "--role", "privacy_officer"
        )
        assert done.returncode == 0, done.stderr + done.stdout
        assert person.person_id in done.stdout

        # Their next call is dropped at the door (by the clear value, before any pseudonym is made).
        def dropped():
            ingest_accepted(
                client,
                source,
                [
                    event(
                        "track", f"pi-x-{uuid.uuid4().hex[:6]}", "2024-05-02T09:00:00Z", user_id=EMAIL_ID, event="Back"
                    )
                ],
            )
            return list(client.read_messages("collector", collector_pb2.EventSuppressed)) or None

        assert (
            wait_until(dropped, timeout=5, interval=0.1, what="a forgotten id's call dropped")[0].identifier_type
            == "user_id"
        )
        # The clear value no longer leads to them (a call taken in the moment before the collector
        # heard of the forget would be a new person, under a new pseudonym).
        try:
            found = client.identity.get_person(identifier=ident("user_id", EMAIL_ID), timeout=10).person_id
        except NotFound:
            found = ""
        assert found != person.person_id
        assert in_clear(platform) == {}
        # Signed up again, and let in: a new person under a new pseudonym, nothing joined to the old.
        officer = client.as_user("dpo@example.com", ["privacy_officer"])
        assert officer.identity.lift_suppression(("user_id", EMAIL_ID), "signed up again", timeout=10)
        old_pseudonym = ours[1].user_id

        def back():
            ingest_accepted(
                client,
                source,
                [event("identify", f"pi-b-{uuid.uuid4().hex[:6]}", "2024-05-03T09:00:00Z", user_id=EMAIL_ID)],
            )
            return client.identity.get_person(identifier=ident("user_id", EMAIL_ID), timeout=10)

        again = wait_until(back, timeout=10, interval=0.3, what="the id taken again")
        assert again.person_id != person.person_id
        assert old_pseudonym not in {i.value for i in again.identifiers}
        # Someone else is untouched.
        assert client.identity.get_person(identifier=ident("user_id", OTHER_ID), timeout=10).person_id


def test_callers_cannot_name_a_pseudonym_or_bring_sealed_ids(platform):
    with Client(platform) as client:
        source = client.create_source("ids", server_side=True)
        named = event("identify", "pi-bad-1", "2024-05-01T09:00:00Z", user_id=PREFIX + "0" * 32)
        sealed = event("identify", "pi-bad-2", "2024-05-01T09:00:00Z", user_id="u-1")
        sealed.sealed_identifiers["user_id"] = "pii:v1:forged"
        acks = client.ingest(source.write_key, [named, sealed]).acks
        rejected = collector_pb2.ACK_STATUS_REJECTED
        assert [(a.status, a.field) for a in acks] == [(rejected, "user_id"), (rejected, "sealed_identifiers")]
        assert "pseudonyms' prefix" in acks[0].error
