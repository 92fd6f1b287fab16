"""`cdp import FILE.csv`: rows as identify calls carrying an external id and the mapped traits.

End to end against the collector alone (a real process, real gRPC, the CLI's own connection):
what it stores is read back from its published log, counted per event, not per distinct id.
The batching's failure path runs in process, against a collector stub.
"""

from __future__ import annotations

import json
import uuid

import click
import pytest
from click.testing import CliRunner

from cdp.api.collector.v1 import collector_pb2
from cdp.cli.importer import IMPORT_NAMESPACE
from cdp.cli.main import main
from cdp.cli.send import ingest_all
from cdp.client import Unavailable
from cdp.platform.security import credentials
from cdp.platform.vault import is_token
from support.platform_fixture import Client, new_platform

ACCEPTED_TOPIC = collector_pb2.EventAccepted.DESCRIPTOR.full_name
CRM = """crm_id,first_name,plan,suburb,postcode,notes
C-1,Ana,pro,Fitzroy,3065,likes cats
C-2,Bo,free,,3000,
,Cy,pro,Carlton,3053,no id
C-4,Di,pro,Brunswick
C-5,"Ed, Jr.",team,Parkville,3052,"two
lines"

C-6,,,,,
,,,,,
"""


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    platform = new_platform(tmp_path_factory.mktemp("import") / "data")
    credentials(platform.data_dir)  # the `cli` certificate the CLI connects with, as `cdp up` makes it
    try:
        platform.start("collector")
        platform.wait_healthy(["collector"], timeout=60)
        yield platform
    finally:
        platform.stop()


@pytest.fixture(scope="module")
def client(platform):
    with Client(platform) as c:
        yield c


@pytest.fixture
def source(client):
    """A fresh collector source per test: its stored events are this test's alone."""
    return client.create_source(f"import-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def cdp(platform, source):
    env = {
        "CDP_DATA_DIR": str(platform.data_dir),
        "CDP_COLLECTOR_ADDR": platform.address("collector"),
        "CDP_WRITE_KEY": source.write_key,
        "CDP_TOKEN": "",
    }

    def run(*args: str):
        return CliRunner().invoke(main, ["import", *args], env=env, catch_exceptions=False)

    return run


def stored(client: Client, source) -> list[collector_pb2.EventAccepted]:
    """Every event the collector stored for the source, in order (one per stored event)."""
    events = (collector_pb2.EventAccepted.FromString(n.payload) for n in client.read_log("collector", [ACCEPTED_TOPIC]))
    return [e for e in events if e.source_id == source.source_id]


def crm_file(tmp_path, text: str = CRM):
    path = tmp_path / "crm.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


MAPS = ("--map", "first_name=first_name", "--map", "plan=plan", "--map", "membership.suburb=suburb")
MAPS += ("--map", "membership.postcode=postcode")


@pytest.mark.e2e
def test_each_row_is_an_identify_call_with_its_external_id_and_nested_traits(cdp, client, source, tmp_path):
    result = cdp(crm_file(tmp_path), "--source", "crm", "--id-column", "crm_id", *MAPS, "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        "sent 4 row(s): 4 accepted, 0 duplicates, 0 rejected; skipped 2 row(s) (1 empty id, 1 malformed); in "
    )
    assert result.stderr.splitlines() == [
        "line 4: skipped: empty 'crm_id'",
        "line 5: skipped: 4 cell(s), the header has 6",
    ], "bad rows by the line they start on; a blank line (or one of empty cells) is no row"

    accepted = {json.loads(e.event.context)["externalIds"][0]["id"]: e for e in stored(client, source)}
    assert sorted(accepted) == ["C-1", "C-2", "C-5", "C-6"]
    events = {row_id: e.event for row_id, e in accepted.items()}
    first = events["C-1"]
    assert first.type == "identify"
    assert json.loads(first.context) == {
        "externalIds": [{"id": "C-1", "type": "crm_id", "collection": "users", "encoding": "none"}]
    }
    traits = json.loads(first.traits)
    assert is_token(traits.pop("first_name")) and is_token(traits["membership"].pop("postcode")), "personal: sealed"
    assert accepted["C-1"].encrypted_fields == ["traits.first_name", "traits.membership.postcode"]
    assert traits == {"plan": "pro", "membership": {"suburb": "Fitzroy"}}, (
        "only the mapped columns (notes is not), dotted traits nested"
    )
    expected_anonymous = uuid.uuid5(IMPORT_NAMESPACE, json.dumps(["anonymousId", "crm", "C-1"]))
    assert (first.anonymous_id, first.user_id) == (str(expected_anonymous), "")
    second = json.loads(events["C-2"].traits)
    assert second["plan"] == "free" and list(second["membership"]) == ["postcode"], "an empty cell left out"
    assert json.loads(events["C-5"].traits)["membership"]["suburb"] == "Parkville", "quoted cells, across lines"
    assert not events["C-6"].traits, "no traits at all: every mapped cell empty"


@pytest.mark.e2e
def test_a_nested_personal_trait_is_sealed_in_place(cdp, client, source, tmp_path):
    result = cdp(
        crm_file(tmp_path), "--source", "crm", "--id-column", "crm_id", "--map", "address.city=suburb", "--quiet"
    )
    assert result.exit_code == 0, result.output
    first = stored(client, source)[0]
    address = json.loads(first.event.traits)["address"]
    assert first.encrypted_fields == ["traits.address.city"] and is_token(address["city"]), "the shape stays"


@pytest.mark.e2e
def test_importing_the_same_file_twice_stores_each_row_once(cdp, client, source, tmp_path):
    path = crm_file(tmp_path)
    first = cdp(path, "--source", "crm", "--id-column", "crm_id", *MAPS, "--quiet")
    assert first.exit_code == 0, first.output
    again = cdp(path, "--source", "crm", "--id-column", "crm_id", *MAPS, "--quiet")
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("sent 4 row(s): 0 accepted, 4 duplicates, 0 rejected; skipped 2 row(s)")
    assert len(stored(client, source)) == 4, "four stored events, not eight"

    # A row whose content changed is a new call; the same id from another source is another id.
    changed = crm_file(tmp_path, CRM.replace("C-2,Bo,free", "C-2,Bo,pro"))
    result = cdp(changed, "--source", "crm", "--id-column", "crm_id", *MAPS, "--quiet")
    assert result.stdout.startswith("sent 4 row(s): 1 accepted, 3 duplicates")
    result = cdp(path, "--source", "shop", "--id-column", "crm_id", *MAPS, "--quiet")
    assert result.stdout.startswith("sent 4 row(s): 4 accepted, 0 duplicates")
    events = stored(client, source)
    assert len(events) == 9
    shop = [json.loads(e.event.context)["externalIds"][0] for e in events[5:]]
    assert {x["type"] for x in shop} == {"shop_id"}


@pytest.mark.e2e
def test_a_column_not_in_the_file_is_named_before_anything_is_sent(cdp, client, source, tmp_path):
    path = crm_file(tmp_path)
    cases = {
        ("--id-column", "customer"): "no column 'customer' (named by --id-column)",
        ("--id-column", "crm_id", "--map", "city=town"): "no column 'town' (named by --map)",
        ("--id-column", "crm_id", "--user-id-column", "uid"): "no column 'uid' (named by --user-id-column)",
    }
    for args, message in cases.items():
        result = cdp(path, "--source", "crm", *args)
        assert result.exit_code == 1, result.output
        assert message in result.output and "its columns: crm_id, first_name, plan" in result.output
    for maps, message in (
        (("--map", "plan"), "expected TRAIT=COLUMN"),
        (("--map", "a..b=plan"), "expected TRAIT=COLUMN"),
        (("--map", "address=suburb", "--map", "address.city=suburb"), "clashes with"),
    ):
        result = cdp(path, "--source", "crm", "--id-column", "crm_id", *maps)
        assert result.exit_code == 2 and message in result.output, result.output
    assert cdp(path, "--source", "Bad Name", "--id-column", "crm_id").exit_code == 2
    assert stored(client, source) == []


@pytest.mark.e2e
def test_a_user_id_column_gives_the_user_id_and_a_rejected_row_is_named_by_its_line(cdp, client, source, tmp_path):
    path = crm_file(tmp_path, "id,uid,plan\nA-1,u-1,pro\nA-2,,free\nA-3,u\x01bad,pro\n")
    result = cdp(path, "--source", "erp", "--id-column", "id", "--user-id-column", "uid", "--map", "plan=plan")
    assert result.exit_code == 1, "a row the collector rejected fails the import"
    assert "line 4: rejected: userId: must not contain control characters" in result.stderr
    assert result.stdout.startswith("sent 3 row(s): 2 accepted, 0 duplicates, 1 rejected; skipped 0 row(s); in ")
    events = {json.loads(e.event.context)["externalIds"][0]["id"]: e.event for e in stored(client, source)}
    assert sorted(events) == ["A-1", "A-2"]
    assert (events["A-1"].user_id, events["A-1"].anonymous_id) == ("u-1", "")
    assert not events["A-2"].user_id and events["A-2"].anonymous_id, "an empty user id: the derived anonymousId"


@pytest.mark.e2e
def test_many_rows_go_in_batches_with_a_progress_bar(cdp, client, source, tmp_path):
    path = crm_file(tmp_path, "id,plan\n" + "".join(f"R-{i},p{i % 3}\n" for i in range(345)))
    result = cdp(path, "--source", "crm", "--id-column", "id", "--map", "plan=plan")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("sent 345 row(s): 345 accepted")
    assert "importing" in result.stderr, "the progress bar, on stderr (its bar drawn only on a terminal)"
    assert len(stored(client, source)) == 345


class FlakyCollector:
    """Acknowledges the first `good` batches, then is unavailable."""

    def __init__(self, good: int):
        self.good = good
        self.batches: list[int] = []

    def ingest(self, write_key, events):
        if len(self.batches) >= self.good:
            raise Unavailable("collector answered UNAVAILABLE")
        self.batches.append(len(events))
        return collector_pb2.IngestResponse(accepted=len(events))


def test_a_batch_not_acknowledged_stops_the_sending_and_says_which_were():
    from cdp.api.common.v1 import event_pb2

    events = [(f"line {i + 2}", event_pb2.Event(message_id=str(i))) for i in range(250)]
    collector = FlakyCollector(good=2)
    sent: list[int] = []
    with pytest.raises(click.ClickException) as raised:
        ingest_all(collector, "wk", events, sent.append)
    assert collector.batches == [100, 100] and sent == [100, 100], "nothing after the failed batch"
    assert raised.value.message.endswith(
        "the batch of line 202 to line 251 was not acknowledged, the 200 event(s) before it were acknowledged"
    ), raised.value.message
    with pytest.raises(click.ClickException, match="none was sent"):
        ingest_all(FlakyCollector(good=0), "wk", events)


def test_batches_close_before_the_collectors_byte_limit():
    from cdp.api.common.v1 import event_pb2
    from cdp.cli.send import BATCH_BYTES, batches

    big = [(str(i), event_pb2.Event(message_id=str(i), traits=json.dumps({"x": "y" * 20_000}))) for i in range(60)]
    sizes = [sum(e.ByteSize() for _, e in b) for b in batches(big)]
    assert all(size <= BATCH_BYTES for size in sizes) and sum(len(b) for b in batches(big)) == 60
    assert len(sizes) == 3
