"""Probabilistic matching on weak identifiers through the identity application: records from two
sources with typos, a model trained on the records held, links made and explained, a new record
matched incrementally, and the features of a forgotten person dropped."""

from __future__ import annotations

import asyncio
import random

from cdp.identity.application import IdentityApp
from support.calls import event
from support.harness import Harness

TS = "2026-11-30T10:00:00Z"
FIRST = ["olivia", "liam", "emma", "noah", "amelia", "oliver", "ava", "elijah", "sophia", "lucas", "mia", "mason"]
LAST = ["smith", "jones", "taylor", "brown", "williams", "wilson", "johnson", "davies", "robinson", "wright"]
CITIES = ["leeds", "york", "bath", "derby", "hull", "wells", "ely", "truro"]


def typo(text: str, rng: random.Random) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(len(text) - 1)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def people(n: int, seed: int = 7):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        out.append(
            {
                "first_name": rng.choice(FIRST),
                "last_name": rng.choice(LAST) + str(i % 37),
                "birthday": f"19{rng.randrange(50, 99)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
                "address": {"city": rng.choice(CITIES), "postal_code": f"{rng.randrange(1000, 9999)}"},
            }
        )
    return out


def record(source: str, key: str, traits: dict, n: int):
    return event(
        "identify",
        f"{source}-{key}-{n}",
        TS,
        anonymous_id=f"{source}-anon-{key}",
        traits=traits,
        context={"externalIds": [{"id": key, "type": f"{source}_id"}]},
    )


def noisy(traits: dict, rng: random.Random) -> dict:
    changed = {**traits, "address": dict(traits["address"])}
    roll = rng.random()
    if roll < 0.3:
        changed["first_name"] = typo(changed["first_name"], rng)
    elif roll < 0.5:
        changed["last_name"] = typo(changed["last_name"], rng)
    elif roll < 0.6:
        y, m, d = changed["birthday"].split("-")
        changed["birthday"] = f"{y}-{d}-{m}" if int(d) <= 12 else f"{y}-{m}-{int(d) - 1:02d}"
    elif roll < 0.7:
        del changed["address"]
    return changed


def run(scenario):
    return asyncio.run(scenario())


def test_weak_identifiers_link_by_a_trained_model_and_incrementally(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key("crm", server_side=True)
            rng = random.Random(11)
            base = people(240)
            crm = [record("crm", f"c{i}", p, 0) for i, p in enumerate(base)]
            shop = [record("shop", f"s{i}", noisy(p, rng), 0) for i, p in enumerate(base[:200])]
            strangers = [record("shop", f"x{i}", p, 0) for i, p in enumerate(people(40, seed=99))]
            for start in range(0, len(crm), 100):
                await h.ingest(key, crm[start : start + 100])
            for batch in (shop[:100], shop[100:], strangers):
                await h.ingest(key, batch)
            await h.settle()
            assert len(h.identity.matcher) == 240 + 200 + 40

            trained = await h.identity.train(0, "steward")
            assert trained.model_version.startswith("fs-") and trained.records == 480
            truth = {(f"c{i}", f"s{i}") for i in range(200)}
            found = set()
            for i in range(240):
                person = h.identity.resolve("crm_id", f"c{i}")
                for kind, value in h.identity.graph.members[person]:
                    if kind == "shop_id":
                        found.add((f"c{i}", value))
            true_positives = len(found & truth)
            precision, recall = true_positives / max(len(found), 1), true_positives / len(truth)
            assert precision >= 0.97 and recall >= 0.9, (precision, recall, len(found))
            # A person never holds two records of one source.
            for members in h.identity.graph.members.values():
                assert sum(1 for t, _ in members if t == "shop_id") <= 1

            # Explained: the model, its version, the score and the weight of each field.
            linked = next(iter(found & truth))
            path = h.identity.explain(("crm_id", linked[0]), ("shop_id", linked[1])).path
            model_edges = [e for e in path if e.rule == "probabilistic"]
            assert model_edges and model_edges[0].rule_version == trained.model_version
            assert model_edges[0].score >= 0.95 and {w.field for w in model_edges[0].weights} >= {"first_name"}

            # A new record is matched as it arrives, against the model trained.
            late = base[230]
            await h.ingest(key, [record("shop", "late", noisy(late, rng), 0)])
            await h.settle()
            assert h.identity.resolve("shop_id", "late") == h.identity.resolve("crm_id", "c230")

            # A restart: the model comes back from identity's log, the records from the collector's.
            again = IdentityApp(h.uows["identity"], h.vault, h.identity._index_key, h.identity.collector)
            await again.load_records()
            assert again.matcher.model.version == trained.model_version
            assert len(again.matcher) == len(h.identity.matcher)

            # Forgotten: the person's records leave the matcher.
            person = h.identity.resolve("crm_id", "c230")
            await h.identity.forget(person, "privacy@x.io")
            assert "crm_id\x00c230" not in h.identity.record_node and "crm_id\x00c230" not in h.identity.matcher

    run(scenario)
