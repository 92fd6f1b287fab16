"""Identity seals a batch's new emails and phones in one go: one key lookup for the batch, however
long the batch takes beside the key cache's lifetime (sealing each as it was first seen once cost a
key-table statement per identifier, on a loaded machine every time)."""

from __future__ import annotations

import asyncio

from support.calls import event
from support.harness import Harness

TS = "2026-11-30T10:00:00Z"


def test_a_batch_of_new_emails_takes_one_key_lookup_and_each_resolves(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            calls = [
                event("identify", f"m{i}", TS, user_id=f"u{i}", traits={"email": f"person{i}@example.com"})
                for i in range(20)
            ]
            await h.ingest(key, calls)
            h.vault.cache_ttl = 0  # every key the batch needs is stale by the time it is used
            lookups: list[int] = []
            real = h.vault.table.get_or_create
            h.vault.table.get_or_create = lambda subjects, make: lookups.append(len(subjects)) or real(subjects, make)
            await h.settle()
            assert len(lookups) <= 2, f"a key lookup an identifier: {lookups}"
            for i in range(20):
                person = h.identity.resolve("user_id", f"u{i}")
                assert person and h.identity.resolve("email", f"PERSON{i}@example.com") == person

    asyncio.run(scenario())
