"""The file export kind: atomic files and manifests in a temporary export directory."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import os

import pytest

from cdp.activation.destinations.registry import check_config, open_destination
from cdp.platform.errors import InvalidArgument


def open_local(kind, config, secrets):
    # The servers are on this machine: the connect-time guard would refuse them.
    return open_destination(kind, config, secrets, local=True)


def _send(config, *batches):
    async def go():
        destination = open_local("file", config, {})
        try:
            return [await destination.send(b) for b in batches]
        finally:
            await destination.close()

    return asyncio.run(go())


def _manifests(folder):
    return sorted((json.loads(p.read_text()) for p in folder.glob("*.manifest.json")), key=lambda m: m["written_at"])


def test_one_jsonl_file_a_batch_with_its_manifest(tmp_path, message):
    batch = [message(f"p{i}", record={"plan": "pro", "i": i}) for i in range(3)]
    (outcomes,) = _send({"directory": str(tmp_path), "path": "audience/a1"}, batch)
    folder = tmp_path / "audience" / "a1"
    (manifest,) = _manifests(folder)
    data = (folder / manifest["file"]).read_bytes()
    assert all(o.ok and o.extra["file"] == manifest["file"] for o in outcomes)
    assert manifest["rows"] == 3 and manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert (manifest["first_delivery_id"], manifest["last_delivery_id"]) == (batch[0].delivery_id, batch[2].delivery_id)
    lines = [json.loads(line) for line in data.decode().splitlines()]
    assert lines[1] == {
        "delivery_id": batch[1].delivery_id,
        "action": "upsert",
        "person_key": "p1",
        "timestamp": batch[1].timestamp,
        "record": {"plan": "pro", "i": 1},
    }
    assert not [p for p in os.listdir(folder) if p.endswith(".tmp")]


def test_a_resent_batch_writes_no_second_copy(tmp_path, message):
    config = {"directory": str(tmp_path)}
    batch = [message(f"p{i}") for i in range(4)]
    first, again = _send(config, batch, batch)
    assert all(o.ok and not o.extra["duplicate"] for o in first)
    assert all(o.ok and o.extra["duplicate"] for o in again)
    # A new destination (after a restart) reads the index from the manifests; a mixed batch writes the new ones.
    newcomer = message("p9")
    (mixed,) = _send(config, [batch[0], newcomer])
    assert [o.extra["duplicate"] for o in mixed] == [True, False]
    manifests = _manifests(tmp_path)
    assert [m["rows"] for m in manifests] == [4, 1]
    assert len(list(tmp_path.glob("export-*.jsonl"))) == 2


def test_concurrent_sends_of_one_batch_write_it_once(tmp_path, message):
    batch = [message(f"p{i}") for i in range(10)]

    async def go():
        destination = open_local("file", {"directory": str(tmp_path)}, {})
        return await asyncio.gather(*(destination.send(batch) for _ in range(4)))

    results = asyncio.run(go())
    assert sorted(sum(not o.extra["duplicate"] for o in outcomes) for outcomes in results) == [0, 0, 0, 10]
    assert len(_manifests(tmp_path)) == 1


def test_a_retry_after_a_crash_before_the_manifest_rewrites_the_same_file(tmp_path, message):
    batch = [message("p1"), message("p2")]
    (first,) = _send({"directory": str(tmp_path)}, batch)
    name = first[0].extra["file"]
    (tmp_path / name.replace(".jsonl", ".manifest.json")).unlink()  # as if the process died before it
    (tmp_path / name).write_bytes(b"half a fi")
    (again,) = _send({"directory": str(tmp_path)}, batch)
    assert again[0].extra == {"file": name, "duplicate": False}
    assert len(list(tmp_path.glob("export-*.jsonl"))) == 1
    (manifest,) = _manifests(tmp_path)
    assert manifest["sha256"] == hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()


def test_csv_has_a_column_a_field_and_formulas_stay_text(tmp_path, message):
    batch = [message("p1", record={"plan": "pro", "seats": 3}), message("p2", record={"company": "=HYPERLINK(1)"})]
    (outcomes,) = _send({"directory": str(tmp_path), "format": "csv", "prefix": "members"}, batch)
    with open(tmp_path / outcomes[0].extra["file"], newline="") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == ["delivery_id", "action", "person_key", "timestamp", "company", "plan", "seats"]
    assert table[0]["plan"] == "pro" and table[0]["seats"] == "3" and table[0]["company"] == ""
    assert table[1]["company"] == "'=HYPERLINK(1)"


def test_an_unwritable_folder_is_a_retryable_outcome(tmp_path, message):
    folder = tmp_path / "exports"
    folder.mkdir()
    config = {"directory": str(folder), "path": "sub"}
    destination = open_local("file", config, {})
    (folder / "sub").write_text("a file where the folder should be")
    (outcome,) = asyncio.run(destination.send([message()]))
    assert not outcome.ok and outcome.retryable


def test_the_path_stays_inside_the_export_directory(tmp_path):
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "link").symlink_to(tmp_path)
    exports = str(tmp_path / "exports")
    for config, error in (
        ({"directory": exports, "path": "../elsewhere"}, "config.path: must stay inside config.directory"),
        ({"directory": exports, "path": "link/x"}, "config.path: must stay inside config.directory"),
        ({"directory": exports, "path": "/etc"}, "config.path: must be a relative path"),
        ({"directory": "exports"}, "config.directory: must be an absolute path"),
        ({"directory": str(tmp_path / "missing")}, "config.directory: must be an existing directory"),
        ({"directory": exports, "format": "xml"}, "config.format: must be one of jsonl, csv"),
        ({"directory": exports, "prefix": "../x"}, "config.prefix: must be letters"),
    ):
        with pytest.raises(InvalidArgument) as refused:
            check_config("file", config)
        assert str(refused.value).startswith(error), config
    check_config("file", {"directory": exports, "path": "a/b"})
