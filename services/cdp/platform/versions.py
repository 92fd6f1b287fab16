"""Each originator's newest version, as a state has folded them: what next_event counts from.

A log of a million events has about as many originators. Restored from a snapshot they stay in
two sorted arrays (originator ids as fixed-width bytes, their versions) copied whole, searched
when asked; only originators folded or written since are held in a dict. So a restart costs
nothing per originator, and a snapshot writes them as two arrays, not a million JSON strings.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import numpy as np

VERSION = np.dtype("<u4")


class Versions(MutableMapping[str, int]):
    def __init__(self, keys: np.ndarray | None = None, values: np.ndarray | None = None):
        self.recent: dict[str, int] = {}
        self.held_keys = keys if keys is not None else np.array([], dtype="S1")  # sorted
        self.held_values = values if values is not None else np.array([], dtype=VERSION)
        self._hidden = 0  # keys of the arrays the dict holds a newer version of

    def _find(self, key: str) -> int:
        """The place of key in the arrays, or -1."""
        if not len(self.held_keys):
            return -1
        probe = key.encode()
        if len(probe) > self.held_keys.dtype.itemsize:
            return -1
        at = int(np.searchsorted(self.held_keys, probe))
        return at if at < len(self.held_keys) and self.held_keys[at] == probe else -1

    def __getitem__(self, key: str) -> int:
        found = self.recent.get(key)
        if found is not None:
            return found
        at = self._find(key)
        if at < 0:
            raise KeyError(key)
        return int(self.held_values[at])

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (key in self.recent or self._find(key) >= 0)

    def __setitem__(self, key: str, version: int) -> None:
        if key not in self.recent and self._find(key) >= 0:
            self._hidden += 1
        self.recent[key] = version

    def __delitem__(self, key: str) -> None:
        raise TypeError("an originator's version is never forgotten")

    def __iter__(self) -> Iterator[str]:
        yield from self.recent
        for raw in self.held_keys:
            key = raw.decode()
            if key not in self.recent:
                yield key

    def __len__(self) -> int:
        return len(self.recent) + len(self.held_keys) - self._hidden

    def snapshot(self) -> dict[str, Any]:
        """The arrays merged with the dict, as data: {width, keys, values} (bytes)."""
        old_keys, old_values = self.held_keys, self.held_values
        if self.recent:
            new_keys = np.array([k.encode() for k in self.recent])
            new_values = np.array(list(self.recent.values()), dtype=VERSION)
            width = max(old_keys.dtype.itemsize, new_keys.dtype.itemsize)
            kept = ~np.isin(old_keys.astype(f"S{width}"), new_keys.astype(f"S{width}"))
            keys = np.concatenate([old_keys[kept].astype(f"S{width}"), new_keys.astype(f"S{width}")])
            values = np.concatenate([old_values[kept], new_values])
            order = np.argsort(keys, kind="stable")
            old_keys, old_values = keys[order], values[order]
        return {
            "width": int(old_keys.dtype.itemsize),
            "keys": old_keys.tobytes(),
            "values": old_values.astype(VERSION).tobytes(),
        }

    @classmethod
    def restored(cls, data: dict[str, Any]) -> Versions:
        """Back from snapshot(): the arrays as written (checked, and copied out of the snapshot's row
        in one move each, so that the row goes once the state has read the rest of it)."""
        width = int(data["width"])
        keys = np.frombuffer(data["keys"], dtype=f"S{width}").copy()
        values = np.frombuffer(data["values"], dtype=VERSION).copy()
        if len(keys) != len(values):
            raise ValueError("versions: as many versions as originators")
        if len(keys) > 1 and not bool(np.all(keys[:-1] < keys[1:])):
            raise ValueError("versions: originators in order, each once")
        return cls(keys, values)
