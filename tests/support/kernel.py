"""Building the platform kernel in a test: a store's unit of work over the repository's policies."""

from __future__ import annotations

from functools import cache

from cdp.platform.config import REPO_POLICIES
from cdp.platform.decisions import Decider
from cdp.platform.policy import load_bundle, make_engine
from cdp.platform.store import EventStore
from cdp.platform.unit_of_work import UnitOfWork


@cache
def _bundle():
    return load_bundle(REPO_POLICIES)


def unit_of_work(store: EventStore, service: str = "") -> UnitOfWork:
    """A unit of work over store, with a decider on the embedded engine and the repo's policies."""
    bundle = _bundle()
    return UnitOfWork(store, Decider(make_engine("embedded", bundle), store, service or store.name, bundle.sources()))
