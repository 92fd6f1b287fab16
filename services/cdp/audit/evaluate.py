"""Evaluating many recorded inputs again, on every core.

Inputs are cut to what the revision's policies can read (cdp.platform.policy.reads), so records
that differ only in what no rule looks at (a destination's id, say) are one question, evaluated
once. Each worker process builds its own engine per revision from the revision's recorded sources
(an engine cannot cross threads or processes) and evaluates chunks of questions, each as the JSON
text it is; small runs stay in this process, where starting workers would cost more than it saves.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import orjson

from cdp.platform.policy import bundle_from_sources, make_engine
from cdp.platform.policy.canonical import canonical
from cdp.platform.policy.reads import cut

Item = tuple[str, str, str]  # (revision, entrypoint, input JSON)
CHUNK = 2000
IN_PROCESS_BELOW = 4000

_sources: dict[str, dict[str, str]] = {}
_engines: dict[str, Any] = {}


def _init(sources: dict[str, dict[str, str]]) -> None:
    global _sources, _engines
    _sources, _engines = sources, {}


def _engine(revision: str) -> Any:
    engine = _engines.get(revision)
    if engine is None:
        if revision not in _sources:
            raise LookupError(f"revision {revision[:12]} was never recorded as activated")
        bundle = bundle_from_sources(_sources[revision])
        engine = _engines[revision] = make_engine("embedded", bundle)
    return engine


def _evaluate_chunk(chunk: Sequence[Item]) -> list[tuple[bool, str]]:
    """(ok, canonical result) or (False, error) for each item."""
    out = []
    for revision, entrypoint, input_json in chunk:
        try:
            out.append((True, canonical(_engine(revision).evaluate_json(entrypoint, input_json))))
        except Exception as error:
            out.append((False, str(error)))
    return out


def _questions(unique: Sequence[Item], sources: dict[str, dict[str, str]]) -> list[Item]:
    """Each item as the question its revision's policies see: its input cut to what they read."""
    trees: dict[str, Any] = {}
    out = []
    for item in unique:
        revision, entrypoint, input_json = item
        if revision not in trees:
            try:
                trees[revision] = _engine(revision).input_reads()
            except Exception:  # a revision that does not build fails each item where it is evaluated
                trees[revision] = None
        tree = trees[revision]
        if tree is None:
            out.append(item)
            continue
        try:
            value = orjson.loads(input_json)
        except orjson.JSONDecodeError:  # not JSON, or numbers orjson does not read: asked as it is
            out.append(item)
            continue
        out.append((revision, entrypoint, canonical(cut(value, tree))) if isinstance(value, dict) else item)
    return out


def evaluate_all(
    items: Iterable[Item],
    sources: dict[str, dict[str, str]],
    *,
    workers: int | None = None,
    progress: Callable[[int], None] = lambda n: None,
) -> dict[Item, tuple[bool, str]]:
    """Every distinct item evaluated once: item -> (ok, canonical result or error)."""
    unique = list(dict.fromkeys(items))
    _init(sources)
    asked = _questions(unique, sources)
    questions = list(dict.fromkeys(asked))
    answers: dict[Item, tuple[bool, str]] = {}
    chunks = [questions[i : i + CHUNK] for i in range(0, len(questions), CHUNK)]
    workers = workers or os.cpu_count() or 1
    done = 0  # progress in items, each chunk its share of them

    def answered(chunk: Sequence[Item], outcome: list[tuple[bool, str]]) -> None:
        nonlocal done
        answers.update(zip(chunk, outcome, strict=True))
        share = len(answers) * len(unique) // len(questions) - done
        done += share
        progress(share)

    if len(questions) < IN_PROCESS_BELOW or workers < 2:
        for chunk in chunks:
            answered(chunk, _evaluate_chunk(chunk))
    else:
        with ProcessPoolExecutor(max_workers=workers, initializer=_init, initargs=(sources,)) as pool:
            for chunk, outcome in zip(chunks, pool.map(_evaluate_chunk, chunks), strict=True):
                answered(chunk, outcome)
    return {item: answers[question] for item, question in zip(unique, asked, strict=True)}
