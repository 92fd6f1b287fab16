"""Where each service's decision chain had got to, kept outside its event store.

A hash chain shows a record edited or removed from its middle, but not its newest records
removed: the chain is simply shorter. So after each commit the service writes its chain head
(sequence and hash) to a small file beside, not inside, its store; `cdp audit verify` compares
the store's chain with it, and a service that starts behind its witness continues the chain
from the witness, so the gap stays visible in the log itself.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def witness_path(data_dir: str | Path, service: str) -> Path:
    return Path(data_dir) / "witness" / f"{service}.json"


def read_head(path: Path) -> tuple[int, str] | None:
    try:
        head = json.loads(path.read_text())
        return int(head["sequence"]), str(head["hash"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def write_head(path: Path, sequence: int, hash: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"sequence": sequence, "hash": hash}))
    os.replace(tmp, path)


def read_heads(data_dir: str | Path) -> dict[str, tuple[int, str]]:
    heads = {}
    for path in sorted((Path(data_dir) / "witness").glob("*.json")):
        head = read_head(path)
        if head is not None:
            heads[path.stem] = head
    return heads
