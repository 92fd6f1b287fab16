"""Evaluating many recorded inputs again, on every core.

Each worker process builds its own engine per revision from the revision's recorded sources
(an engine cannot cross threads or processes) and evaluates chunks of inputs; small runs stay
in this process, where starting workers would cost more than it saves.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor

from cdp.platform.policy import bundle_from_sources, make_engine
from cdp.platform.policy.canonical import canonical

Item = tuple[str, str, str]  # (revision, entrypoint, input JSON)
CHUNK = 2000
IN_PROCESS_BELOW = 4000

_sources: dict[str, dict[str, str]] = {}
_engines: dict[str, object] = {}


def _init(sources: dict[str, dict[str, str]]) -> None:
    global _sources, _engines
    _sources, _engines = sources, {}


def _engine(revision: str):
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
            out.append((True, canonical(_engine(revision).evaluate(entrypoint, json.loads(input_json)))))
        except Exception as error:
            out.append((False, str(error)))
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
    chunks = [unique[i : i + CHUNK] for i in range(0, len(unique), CHUNK)]
    workers = workers or os.cpu_count() or 1
    results: dict[Item, tuple[bool, str]] = {}
    if len(unique) < IN_PROCESS_BELOW or workers < 2:
        _init(sources)
        for chunk in chunks:
            results.update(zip(chunk, _evaluate_chunk(chunk), strict=True))
            progress(len(chunk))
        return results
    with ProcessPoolExecutor(max_workers=workers, initializer=_init, initargs=(sources,)) as pool:
        for chunk, outcome in zip(chunks, pool.map(_evaluate_chunk, chunks), strict=True):
            results.update(zip(chunk, outcome, strict=True))
            progress(len(chunk))
    return results
