"""Personal literals in audience definitions are forgotten with the person they name, end to end,
on SQLite and on PostgreSQL.

An admin defines audiences, through the real CLI, on a person's email, phone and city (and on
another person's email); the person is forgotten through the real CLI. Then no byte of storage (the
data directory with its logs, and on PostgreSQL a dump of the schemas) holds their email or phone in
any clear form, the audiences still exist, hold nobody and show the literal erased, and the other
person's audience is unaffected.
"""

from __future__ import annotations

import json
import re

import pytest

from support.calls import event
from support.governance import (
    ingest_accepted,
    profile_by,
    run_cli,
    storage_search,
)
from support.platform_fixture import Client, wait_until

pytestmark = pytest.mark.e2e

USER, OTHER_USER = "user-literal-5c1e", "user-keep-5c1e"
EMAIL, PHONE, CITY = "Literal.Me-5c1e@Example.com", "+44 7700 900789", "Quillhaven"
OTHER_EMAIL = "keep-literal-5c1e@example.com"
ADMIN = ("--subject", "ops@example.com", "--role", "admin")
MARKETER = ("--subject", "mia@example.com", "--role", "marketer")


def clear_forms(*values: str) -> list[str]:
    """As given, lower-cased, JSON-escaped, and a phone's normalised digits."""
    out: set[str] = set()
    for v in values:
        out |= {v, v.lower(), json.dumps(v)[1:-1], json.dumps(v.lower())[1:-1]}
        if any(c.isdigit() for c in v) and "@" not in v:
            out.add("".join(c for c in v if c.isdigit() or c == "+"))
    return sorted(out)


NEEDLES = clear_forms(EMAIL, PHONE)


def cli(platform, *args: str) -> str:
    done = run_cli(platform, *args)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def create(platform, name: str, trait: str) -> str:
    out = cli(platform, "audience", "create", "--purpose", "marketing", name, "--trait", trait, *ADMIN)
    match = re.match(r"^(\S+)  ", out)
    assert match, out
    return match.group(1)


def test_literals_naming_a_forgotten_person_leave_no_trace_and_match_nobody(platform):
    with Client(platform) as client:
        source = client.create_source("literals-e2e", server_side=True)
        ingest_accepted(
            client,
            source,
            [
                event(
                    "identify",
                    "lt-1",
                    "2024-05-01T10:00:00Z",
                    user_id=USER,
                    traits={"email": EMAIL, "phone": PHONE, "city": CITY},
                ),
                event("identify", "lt-2", "2024-05-01T10:01:00Z", user_id=OTHER_USER, traits={"email": OTHER_EMAIL}),
            ],
        )
        person = wait_until(lambda: profile_by(client, "user_id", USER), timeout=30, what="the person's profile")
        other = wait_until(lambda: profile_by(client, "user_id", OTHER_USER), timeout=30, what="the other's profile")

        # The email spelt otherwise than it was sent: the literal is matched and forgotten normalised.
        audiences = {
            "email": create(platform, "By email (literals)", f'email eq "{EMAIL}"'),
            "phone": create(platform, "By phone (literals)", f'phone eq "{PHONE}"'),
            "city": create(platform, "By city (literals)", f'city eq "{CITY}"'),
            "other": create(platform, "Other (literals)", f'email eq "{OTHER_EMAIL}"'),
        }
        for name in ("email", "phone", "city"):
            wait_until(
                lambda a=audiences[name]: client.segment.list_members(a, timeout=10) == [person.person_id],
                timeout=30,
                what=f"the person in the audience by {name}",
            )
        assert client.segment.list_members(audiences["other"], timeout=10) == [other.person_id]

        # Shown in clear to an admin, masked to a marketer; stored sealed (the search can fail: the
        # audience names are there in clear).
        assert f"email eq {json.dumps(EMAIL)}" in cli(platform, "audience", "show", audiences["email"], *ADMIN)
        assert "email eq (masked)" in cli(platform, "audience", "show", audiences["email"], *MARKETER)
        names = ["By email (literals)", "Other (literals)"]
        assert set(storage_search(platform, names)) == set(names)
        assert storage_search(platform, clear_forms(EMAIL, PHONE, CITY, OTHER_EMAIL)) == {}

        # A marketer, who sees the email masked, may not target it, and the refusal does not echo it.
        for trait in (f'email lt "{EMAIL[:8]}"', f'contact eq {{"email": "{EMAIL}"}}'):
            refused = run_cli(
                platform,
                "audience",
                "create",
                "--purpose",
                "marketing",
                "Guess (literals)",
                "--trait",
                trait,
                *MARKETER,
            )
            said = refused.stderr + refused.stdout
            assert refused.returncode != 0 and "PERMISSION_DENIED" in said, said
            assert "is pii.contact: mia@example.com may see it only masked" in said, said
            assert EMAIL not in said and EMAIL[:8] not in said, said

        done = run_cli(
            platform, "forget", "--user-id", USER, "--subject", "dpo@example.com", "--role", "privacy_officer"
        )
        assert done.returncode == 0, done.stderr + done.stdout

        for name in ("email", "phone", "city"):
            wait_until(
                lambda a=audiences[name]: client.segment.list_members(a, timeout=10) == [],
                timeout=10,
                what=f"nobody in the audience by {name}",
            )
        assert storage_search(platform, NEEDLES) == {}
        # The audiences are still there; the literals naming the person show erased, to anyone.
        listed = cli(platform, "audience", "list")
        assert all(a in listed for a in audiences.values()), listed
        for name in ("email", "phone"):
            for caller in (ADMIN, MARKETER):
                # Erased once segment has applied the forget: soon after the members exit, not at once.
                wait_until(
                    lambda n=name, c=caller: f"{n} eq (erased)" in cli(platform, "audience", "show", audiences[n], *c),
                    timeout=10,
                    what=f"the {name} literal shown erased",
                )
        assert f"city eq {json.dumps(CITY)}" in cli(platform, "audience", "show", audiences["city"], *ADMIN)
        # The other person, not forgotten, is unaffected.
        assert client.segment.list_members(audiences["other"], timeout=10) == [other.person_id]
        assert f"email eq {json.dumps(OTHER_EMAIL)}" in cli(platform, "audience", "show", audiences["other"], *ADMIN)
