"""`cdp bench policy`: what a policy decision costs, with the decision log on, and how fast
recorded decisions replay.

Measured in one run, on the repository's policies and a fresh SQLite store:
- raw: the embedded engine (regorus) evaluating distinct egress inputs;
- miss: the Decider on the same inputs, each recorded in the decision log (appended in batches,
  as services do), so the ratio to raw is what recording costs; of it, commit is the appending and
  committing of each batch (its records chained, the rows written, the transaction made durable,
  the chain's head signed and witnessed, as a service's Decider does). Raw and miss alternate
  batch by batch, which goes first too, so a neighbour's load falls on both; each run gives its
  own ratio (miss_over_raw), and the load average when it ended (load_1m). The same ratio in this
  thread's CPU time (miss_cpu_over_raw) leaves out what waiting costs: the commit's fsync, and the
  cores a neighbour holds while this thread waits for them;
- hit: the same input again, answered from the per-revision cache (with a cheap key, and keyed by
  the input's canonical JSON);
- replay: the recorded decisions re-evaluated against the policies, in one process and on every core.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cdp.api.policy.v1 import decision_pb2
from cdp.audit.evaluate import evaluate_all
from cdp.audit.replay import item_of
from cdp.platform.config import REPO_POLICIES, StoreConfig
from cdp.platform.decisions import Decider
from cdp.platform.heads import ensure_head_key
from cdp.platform.policy import load_bundle, make_engine
from cdp.platform.published import decode, topic_of
from cdp.platform.store import open_store
from cdp.platform.unit_of_work import UnitOfWork
from cdp.platform.witness import witness_path

EGRESS = "data.cdp.egress.decision"
TRAITS = ["plan", "email", "first_name", "company", "ltv", "phone", "city", "industry", "seats", "role"]
BATCH = 100


@dataclass
class PolicySettings:
    decisions: int = 20_000
    hits: int = 200_000
    repeat: int = 3
    data_dir: Path | None = None


def inputs(count: int) -> list[dict]:
    """Distinct egress questions as activation asks them: destinations by purpose, trait sets of
    three to six names, and the person's consent to the purpose's category (support needs none)."""
    purposes = ["analytics", "marketing", "support"]
    return [
        {
            "destination": {"id": f"d{i}", "type": "webhook", "purpose": purposes[i % 3]},
            "properties": sorted(TRAITS[(i + k) % len(TRAITS)] for k in range(3 + i % 4)),
            "consent": {} if i % 3 == 2 else {purposes[i % 3]: True},
        }
        for i in range(count)
    ]


def _per_decision_us(seconds: float, count: int) -> float:
    return seconds / count * 1e6


def measure_once(settings: PolicySettings, root: Path) -> dict:
    bundle = load_bundle(REPO_POLICIES)
    engine = make_engine("embedded", bundle)
    questions = inputs(settings.decisions)

    store = open_store(StoreConfig(kind="sqlite", data_dir=root), "policybench")
    decider = Decider(
        make_engine("embedded", bundle),
        store,
        "bench",
        bundle.sources(),
        witness=witness_path(root, "bench"),
        signing_key=ensure_head_key(root / "credentials", "bench"),
    )
    uow = UnitOfWork(store, decider)
    spent = {"raw": 0.0, "miss": 0.0, "commit": 0.0, "raw_cpu": 0.0, "miss_cpu": 0.0}

    def raw_batch(batch: list[dict]) -> None:
        started, cpu = time.perf_counter(), time.thread_time()
        for question in batch:
            engine.evaluate(EGRESS, question)
        spent["raw"] += time.perf_counter() - started
        spent["raw_cpu"] += time.thread_time() - cpu

    def miss_batch(batch: list[dict]) -> None:
        started, cpu = time.perf_counter(), time.thread_time()
        for question in batch:
            decider.decide(EGRESS, question)
        committing = time.perf_counter()
        uow.commit()
        spent["miss"] += time.perf_counter() - started
        spent["commit"] += time.perf_counter() - committing
        spent["miss_cpu"] += time.thread_time() - cpu

    for n, start in enumerate(range(0, len(questions), BATCH)):
        batch = questions[start : start + BATCH]
        for step in (raw_batch, miss_batch) if n % 2 == 0 else (miss_batch, raw_batch):
            step(batch)
    raw_s, miss_s, commit_s = spent["raw"], spent["miss"], spent["commit"]
    raw = _per_decision_us(raw_s, len(questions))
    miss = _per_decision_us(miss_s, len(questions))

    question = questions[0]
    key = (question["destination"]["id"], *question["properties"])
    started = time.perf_counter()
    for _ in range(settings.hits):
        decider.decide(EGRESS, question, key=key)
    hit_keyed = _per_decision_us(time.perf_counter() - started, settings.hits)
    started = time.perf_counter()
    for _ in range(settings.hits // 10):
        decider.decide(EGRESS, question)
    hit_canonical = _per_decision_us(time.perf_counter() - started, settings.hits // 10)

    records = [decode(n.topic, n.state) for n in store.replay(topic_of(decision_pb2.DecisionRecorded))]
    store.close()
    sources = {bundle.revision: bundle.sources()}
    replay = {}
    for workers in (1, 2):
        started = time.perf_counter()
        results = evaluate_all([item_of(r, bundle.revision) for r in records], sources, workers=workers)
        replay[workers] = len(records) / (time.perf_counter() - started)
        assert all(ok for ok, _ in results.values())
    return {
        "raw_us": raw,
        "miss_us": miss,
        "miss_commit_us": _per_decision_us(commit_s, len(questions)),
        "miss_over_raw": miss_s / raw_s,
        "miss_cpu_over_raw": spent["miss_cpu"] / spent["raw_cpu"],
        "hit_keyed_us": hit_keyed,
        "hit_canonical_us": hit_canonical,
        "replay_1_per_s": replay[1],
        "replay_2_per_s": replay[2],
        "recorded": len(records),
        "load_1m": os.getloadavg()[0],
    }


def run(settings: PolicySettings, log=print) -> dict:
    runs = []
    for i in range(settings.repeat):
        with tempfile.TemporaryDirectory(dir=settings.data_dir) as tmp:
            runs.append(measure_once(settings, Path(tmp)))
        r = runs[-1]
        log(
            f"run {i + 1}/{settings.repeat}: miss {r['miss_us']:.1f} µs, raw {r['raw_us']:.1f} µs "
            f"({r['miss_over_raw']:.3f}x; in CPU time {r['miss_cpu_over_raw']:.3f}x), hit {r['hit_keyed_us']:.2f} µs, "
            f"replay {r['replay_2_per_s']:,.0f}/s, load {r['load_1m']:.2f}"
        )
    return {
        name: {
            "median": statistics.median(r[name] for r in runs),
            "min": min(r[name] for r in runs),
            "max": max(r[name] for r in runs),
        }
        for name in runs[0]
    }
