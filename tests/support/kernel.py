"""Building the platform kernel in a test: a store's unit of work over the repository's policies."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from cdp.platform.config import REPO_POLICIES
from cdp.platform.decisions import Decider
from cdp.platform.policy import load_bundle, make_engine
from cdp.platform.store import EventStore
from cdp.platform.unit_of_work import UnitOfWork


@cache
def _bundle():
    return load_bundle(REPO_POLICIES)


# The embedded engine must be dropped on the thread that made it; kept here, it never is dropped
# by a garbage collection that happens to run on a database driver's thread.
_engines: list = []


def unit_of_work(store: EventStore, service: str = "", policies: Path | None = None) -> UnitOfWork:
    """A unit of work over store, with a decider on the embedded engine and the repo's policies
    (or those of another policy directory)."""
    bundle = load_bundle(policies) if policies else _bundle()
    engine = make_engine("embedded", bundle)
    _engines.append(engine)
    return UnitOfWork(store, Decider(engine, store, service or store.name, bundle.sources()))
