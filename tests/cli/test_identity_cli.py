"""`cdp identity` and `cdp forget` driven with CliRunner against a fake IdentityService served with
the platform's mutual TLS on a real loopback port: the CLI connects as it does to the service
(the `cli` certificate of CDP_DATA_DIR, a token minted for --subject and --role, CDP_IDENTITY_ADDR).
The last tests run the same commands against the real collector and identity, as processes.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from cdp.cli.main import main
from cdp.platform.security import credentials
from client.test_identity_client import FakeIdentity, serving
from support.platform_fixture import Client, wait_until


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("identity-cli") / "data"
    credentials(directory)  # the CA, every certificate and the token signing key, as `cdp up` makes them
    return directory


@pytest.fixture
def fake(data_dir):
    return FakeIdentity(verifier=credentials(data_dir).verifier())


@pytest.fixture
def cdp(fake, data_dir):
    """cdp(*args) -> the result of running `cdp` against the fake."""
    with serving(fake, credentials(data_dir).server("identity")) as address:
        env = {"CDP_DATA_DIR": str(data_dir), "CDP_IDENTITY_ADDR": address, "CDP_TOKEN": "", "CDP_SUBJECT": "ops"}

        def run(*args: str):
            return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

        yield run


def ok(result):
    assert result.exit_code == 0, result.output
    return result.output


def test_show_a_person_by_any_identifier(cdp, fake):
    out = ok(cdp("identity", "show", "--email", " Ana@Example.com "))
    assert out.splitlines()[0] == "person p-1 (probabilistic)"
    assert "  email            bi:3f2a" in out and "  crm_id           c-9" in out and "merged from p-2" in out
    sent = fake.requests["GetPerson"][-1]
    assert (sent.identifier.type, sent.identifier.value) == ("email", "ana@example.com")

    ok(cdp("identity", "show", "--id", "crm_id=c-9"))
    assert fake.requests["GetPerson"][-1].identifier.type == "crm_id"
    person = json.loads(ok(cdp("identity", "show", "--person-id", "p-1", "--json")))
    assert person["personId"] == "p-1" and len(person["identifiers"]) == 5
    assert fake.roles[-1] == ("admin",), "acts as an admin by default"


def test_show_refuses_zero_or_two_identifiers_and_says_not_found(cdp, fake):
    for args in ((), ("--user-id", "u-1", "--email", "ana@example.com"), ("--id", "no-equals-sign")):
        result = cdp("identity", "show", *args)
        assert result.exit_code == 2, result.output
    assert "expected TYPE=VALUE" in cdp("identity", "show", "--id", "user_id=").output
    assert "GetPerson" not in fake.requests, "nothing sent for a wrong call"
    missing = cdp("identity", "show", "--user-id", "u-404")
    assert missing.exit_code == 1 and "Error: NOT_FOUND: no person u-404" in missing.output


def test_explain_prints_the_evidence_path_with_a_models_weights(cdp, fake):
    out = ok(cdp("identity", "explain", "--id", "user_id=u-1", "--email", "ana@example.com"))
    lines = out.splitlines()
    assert lines[0] == "email=ana@example.com (p-1) and user_id=u-1 (p-1): the same person"
    assert lines[1] == "path: 2 edge(s)"
    assert lines[2] == (
        "  e-1  user_id=u-1 -- anonymous_id=a-1  seen-together@policy-3  score 1.00  event ev-1  decision d-1  active"
    )
    assert lines[3].startswith("  e-2  anonymous_id=a-1 -- email=bi:3f2a  probabilistic@m-7  score 0.97  event -")
    assert lines[4].split() == ["email", "exact", "+8.25"]
    assert lines[5].split() == ["name", "jaro-winkler>0.9", "+3.50"]
    assert lines[6] == "not admitted: 1 edge(s)"
    assert lines[7].endswith("decision d-3  refused: two user ids in one call")
    sent = fake.requests["Explain"][-1]
    assert (sent.a.value, sent.b.value) == ("ana@example.com", "u-1"), "shorthands first, then --id"

    out = ok(cdp("identity", "explain", "--person-id", "p-1"))
    assert out.splitlines()[0] == "person p-1: 2 edge(s)"
    answer = json.loads(ok(cdp("identity", "explain", "--user-id", "u-1", "--json")))
    assert [e["edgeId"] for e in answer["path"]] == ["e-1", "e-2"] and answer["refused"][0]["reason"]
    assert cdp("identity", "explain", "--person-id", "p-1", "--user-id", "u-1").exit_code == 2


def test_history_says_when_what_and_why(cdp):
    lines = ok(cdp("identity", "history", "--person-id", "p-1")).splitlines()
    assert lines == [
        "2026-11-30T09:00:00Z  merged     p-1 with p-2  [edge e-1, event ev-1, decision d-1]",
        "2026-11-30T11:00:00Z  refused    p-1: two user ids in one call  [edge e-3, event ev-3, decision d-3]",
        "2026-12-01T07:00:00Z  split      p-1 with p-9: shared device  [by ops@example.com]",
    ]
    entries = json.loads(ok(cdp("identity", "history", "--user-id", "u-1", "--json")))
    assert [e["kind"] for e in entries] == ["merged", "refused", "split"]


def test_split_some_identifiers_off_or_all_of_them(cdp, fake):
    out = ok(cdp("identity", "split", "--person-id", "p-1", "--id", "anonymous_id=a-1", "--reason", "shared device"))
    assert out.splitlines() == [
        "split p-1 (shared device) by ops@example.com",
        "  p-1: user_id=u-1",
        "  p-9: anonymous_id=a-1",
    ]
    sent = fake.requests["Split"][-1]
    assert [(i.type, i.value) for i in sent.identifiers] == [("anonymous_id", "a-1")] and sent.reason == "shared device"
    ok(cdp("identity", "split", "--person-id", "p-1", "--all"))
    assert not fake.requests["Split"][-1].identifiers, "--all sends no identifiers: every one alone"
    for args in ((), ("--all", "--id", "user_id=u-1")):
        assert cdp("identity", "split", "--person-id", "p-1", *args).exit_code == 2
    assert len(fake.requests["Split"]) == 2


def test_retract_one_target_with_reason_and_basis(cdp, fake):
    out = ok(
        cdp(
            "identity",
            "retract",
            "--event-id",
            "ev-1",
            "--reason",
            "shared tablet",
            "--basis",
            "GDPR Art. 16 rectification",
        )
    )
    assert out.splitlines()[0] == "retracted 2 edge(s)" and "  p-9: anonymous_id=a-1" in out
    sent = fake.requests["Retract"][-1]
    assert (sent.event_id, sent.reason, sent.basis) == ("ev-1", "shared tablet", "GDPR Art. 16 rectification")
    ok(cdp("identity", "retract", "--id", "crm_id=c-9", "--reason", "typo"))
    assert fake.requests["Retract"][-1].identifier.value == "c-9"
    assert json.loads(ok(cdp("identity", "retract", "--edge-id", "e-2", "--reason", "x", "--json")))["retracted"] == 2
    assert cdp("identity", "retract", "--edge-id", "e-2", "--event-id", "ev-1", "--reason", "x").exit_code == 2
    assert cdp("identity", "retract", "--edge-id", "e-2").exit_code == 2, "a reason is required"
    assert len(fake.requests["Retract"]) == 3


def test_review_list_approve_reject(cdp, fake):
    out = ok(cdp("identity", "review", "list"))
    assert out.splitlines()[0] == "review r-1: p-1 ~ p-4  band 0.8-0.95  requested 2026-12-01T08:00:00Z"
    assert "  e-4  anonymous_id=a-1 -- email=bi:90d1  probabilistic@m-7  score 0.88  event -  decision d-4  " in out
    assert out.splitlines()[1].endswith("  held: score in the review band") and "+4.00" in out
    assert ok(cdp("identity", "review", "approve", "r-1")).splitlines() == [
        "approved r-1 (decision d-10)",
        "  merged p-4 into p-1",
    ]
    assert fake.requests["DecideReview"][-1].approve
    assert ok(cdp("identity", "review", "reject", "r-1", "--reason", "twins")) == "rejected r-1 (decision d-11)\n"
    assert (fake.requests["DecideReview"][-1].approve, fake.requests["DecideReview"][-1].reason) == (False, "twins")
    assert cdp("identity", "review", "reject", "r-1").exit_code == 2, "a rejection needs a reason"
    missing = cdp("identity", "review", "approve", "r-404")
    assert missing.exit_code == 1 and "NOT_FOUND: no review r-404" in missing.output


def test_train_prints_the_model_and_its_counts(cdp, fake):
    out = ok(cdp("identity", "train", "--max-pairs", "500"))
    assert out == "model m-8: 120 record(s), 4000 candidate pair(s), 37 link(s), 5 held for review\n"
    assert fake.requests["Train"][-1].max_pairs == 500
    answer = json.loads(ok(cdp("identity", "train", "--json")))
    assert answer["summary"]["email"]["exact"]["m"] == 0.9 and answer["candidatePairs"] == 4000


def test_lift_suppression(cdp, fake):
    out = ok(cdp("identity", "lift-suppression", "--id", "email=Ana@Example.com", "--reason", "consent again"))
    assert out == "lifted the suppression of email=ana@example.com\n"
    assert fake.requests["LiftSuppression"][-1].reason == "consent again"
    out = ok(cdp("identity", "lift-suppression", "--id", "email=never-forgotten", "--reason", "r"))
    assert out == "email=never-forgotten was not suppressed\n"
    assert cdp("identity", "lift-suppression", "--id", "email=a@b.c").exit_code == 2


def test_export_pages_through_every_identifier_as_csv(cdp, fake, tmp_path):
    result = cdp("identity", "export", "--page-size", "3")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["identifier_type", "identifier_value", "person_id"]
    assert [r[2] for r in rows[1:]] == [f"p-{i}" for i in range(7)]
    assert rows[3] == ["email", "bi:3f2a", "p-2"], "blind index unless --clear"
    assert result.stderr == "exported 7 row(s)\n", "the count is not part of the CSV"
    assert [r.page_token for r in fake.requests["ListIdentifiers"]] == ["", "3", "6"]

    out = tmp_path / "ids.csv"
    said = ok(cdp("identity", "export", "--clear", "--out", str(out), "--role", "privacy_officer"))
    assert said == f"exported 7 row(s) to {out}\n"
    rows = list(csv.reader(out.open()))
    assert rows[3] == ["email", "ana@example.com", "p-2"] and rows[4] == ["phone", "+61400000000", "p-3"]
    assert fake.requests["ListIdentifiers"][-1].clear_values
    blind = cdp("identity", "export", "--clear", "--role", "analyst")
    assert list(csv.reader(io.StringIO(blind.stdout)))[3] == ["email", "bi:3f2a", "p-2"], "not allowed: blind index"


def test_export_refused_leaves_no_file(cdp, tmp_path):
    out = tmp_path / "refused.csv"
    result = cdp("identity", "export", "--out", str(out), "--role", "marketer")
    assert result.exit_code == 1
    assert "PERMISSION_DENIED: ops may not call /cdp.identity.v1.IdentityService/ListIdentifiers" in result.output
    assert list(tmp_path.iterdir()) == [], "neither the file nor a partial one"


def test_forget_by_phone_or_any_identifier_prints_what_was_suppressed(cdp, fake):
    out = ok(cdp("forget", "--phone", "+61400000000", "--role", "privacy_officer"))
    assert out == "forgot person p-1: 5 key(s) destroyed across 5 identifier(s), 4 identifier(s) suppressed\n"
    sent = fake.requests["Forget"][-1]
    assert (sent.identifier.type, sent.identifier.value) == ("phone", "+61400000000")
    assert fake.roles[-1] == ("privacy_officer",)
    ok(cdp("forget", "--id", "crm_id=c-9"))
    assert fake.requests["Forget"][-1].identifier.type == "crm_id"
    ok(cdp("forget", "--person-id", "p-1"))
    assert fake.requests["Forget"][-1].person_id == "p-1"
    assert cdp("forget").exit_code == 2


# Against the real service -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """The collector and identity as processes; run(*args) runs `cdp` against them."""
    from cdp.client.local import addresses
    from support.platform_fixture import new_platform

    platform = new_platform(tmp_path_factory.mktemp("identity-cli-real") / "data")
    credentials(platform.data_dir)
    try:
        for service in ("collector", "identity"):
            platform.start(service)
        platform.wait_healthy(["collector", "identity"], timeout=60)
        with Client(platform) as client:
            source = client.create_source("identity-cli")
            env = {f"CDP_{s.upper()}_ADDR": a for s, a in addresses(platform).items()}
            env |= {"CDP_DATA_DIR": str(platform.data_dir), "CDP_TOKEN": "", "CDP_SUBJECT": "steward"}
            env["CDP_WRITE_KEY"] = source.write_key

            def run(*args: str):
                return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

            yield run
    finally:
        platform.stop()


@pytest.mark.e2e
def test_against_the_service_an_import_is_explained_retracted_and_exported(real, tmp_path):
    traits = '{"email": "Ana@Example.com", "plan": "pro"}'
    ok(real("send", "--type", "identify", "--user-id", "u-1", "--anonymous-id", "a-1", "--traits", traits))
    crm = tmp_path / "crm.csv"
    crm.write_text("crm_id,email,plan\nC-1,ana@example.com,pro\nC-2,bo@example.com,free\n")
    ok(real("import", str(crm), "--source", "crm", "--id-column", "crm_id", "--map", "email=email", "--quiet"))

    steward = ("--role", "data_steward")
    shown = wait_until(
        lambda: (
            (out := ok(real("identity", "show", "--id", "crm_id=C-1", "--role", "privacy_officer")))
            and "user_id          u-1" in out
            and out
        ),
        what="the imported row joined to u-1 by its email",
    )
    assert "anonymous_id     a-1" in shown

    out = ok(real("identity", "explain", "--user-id", "u-1", "--id", "crm_id=C-1", *steward))
    lines = out.splitlines()
    assert lines[0].endswith(": the same person") and lines[1] == "path: 2 edge(s)", out
    assert all("seen-together@" in line and line.endswith("  active") for line in lines[2:4]), out

    rows = list(csv.reader(io.StringIO(real("identity", "export", "--clear", "--role", "privacy_officer").stdout)))
    assert ["email", "ana@example.com"] in [r[:2] for r in rows]
    rows = list(csv.reader(io.StringIO(real("identity", "export", "--clear", "--role", "analyst").stdout)))
    assert "ana@example.com" not in {r[1] for r in rows} and len(rows) == 1 + 8, "blind indexes for an analyst"

    answer = json.loads(ok(real("identity", "explain", "--user-id", "u-1", "--json", *steward)))
    call_of_u1 = next(e["eventId"] for e in answer["path"] if e["a"]["value"] == "u-1")
    out = ok(real("identity", "retract", "--event-id", call_of_u1, "--reason", "shared device", *steward))
    assert out.startswith("retracted 2 edge(s)\nsplit "), out
    history = ok(real("identity", "history", "--user-id", "u-1", *steward))
    assert "retracted" in history and "split" in history and ": shared device" in history
    assert ok(real("identity", "show", "--user-id", "u-1", "--role", "privacy_officer")).count("\n  ") == 1


@pytest.mark.e2e
def test_against_the_service_a_forgotten_identifier_is_suppressed_until_lifted(real):
    ok(real("send", "--type", "identify", "--user-id", "u-9", "--traits", '{"email": "cy@example.com"}'))
    officer = ("--role", "privacy_officer")
    wait_until(lambda: real("identity", "show", "--user-id", "u-9", *officer).exit_code == 0, what="u-9 known")
    out = ok(real("forget", "--user-id", "u-9", *officer))
    assert out.startswith("forgot person ") and out.endswith(", 2 identifier(s) suppressed\n"), out
    out = ok(real("identity", "lift-suppression", "--id", "user_id=u-9", "--reason", "asked to be kept", *officer))
    assert out == "lifted the suppression of user_id=u-9\n"
    out = ok(real("identity", "lift-suppression", "--id", "user_id=u-9", "--reason", "again", *officer))
    assert out == "user_id=u-9 was not suppressed\n"


@pytest.mark.e2e
def test_against_the_service_a_person_split_by_a_retraction_can_be_forgotten(real):
    ok(real("send", "--type", "identify", "--user-id", "u-5", "--anonymous-id", "a-5"))
    steward, officer = ("--role", "data_steward"), ("--role", "privacy_officer")
    wait_until(lambda: "a-5" in real("identity", "show", "--user-id", "u-5", *officer).output, what="u-5 and a-5 one")
    answer = json.loads(ok(real("identity", "explain", "--user-id", "u-5", "--json", *steward)))
    ok(real("identity", "retract", "--event-id", answer["path"][0]["eventId"], "--reason", "wrong link", *steward))
    person = json.loads(ok(real("identity", "show", "--user-id", "u-5", "--json", *officer)))["personId"]
    refused = real("identity", "split", "--person-id", person, "--id", "anonymous_id=a-5", *steward)
    assert refused.exit_code == 1 and "is not one of this person's identifiers" in refused.output, refused.output
    out = ok(real("forget", "--user-id", "u-5", *officer))
    assert out.startswith(f"forgot person {person}: "), out
