"""A state's large mappings and lists in a snapshot: written as pages of encoded entries, read back a
page at a time the first time one of its keys is touched, so a restart decodes nothing per entry
before it serves, however long its log.

A mapping's entries are sorted by a 64-bit hash of their key and cut into pages of PAGE entries,
each compressed on its own; the first hash of each page says which page holds a key. A restored
mapping (Held) reads a key's page before the key is read or written (a key of no page is simply
new), and iterating it reads every page. Each entry keeps its place in the mapping's order, so once
every page is read the mapping is a plain dict in the order a fold gives it. A list (HeldList) is
cut into pages of consecutive items in the same way.

Warm reads what is left in slices of a few milliseconds after the service serves, and then puts
the plain dicts and lists in place of the held ones.
"""

from __future__ import annotations

import asyncio
import hashlib
import struct
import time
import zlib
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import orjson

from cdp.platform.heap import no_collection

PAGE = 256  # entries a page
HASH = np.dtype("<u8")
OFFSET = np.dtype("<u8")
_NONE = np.zeros(0, dtype=OFFSET)
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class Codec(Generic[K, V]):
    """How a mapping's keys and values are written as bytes, and read back."""

    key_bytes: Callable[[K], bytes]
    key_of: Callable[[bytes], K]
    value_bytes: Callable[[V], bytes]
    value_of: Callable[[bytes], V]


def text_key(key: str) -> bytes:
    return key.encode()


def key_text(raw: bytes) -> str:
    return raw.decode()


def pair_key(key: tuple[str, str]) -> bytes:
    return key[0].encode() + b"\x00" + key[1].encode()


def key_pair(raw: bytes) -> tuple[str, str]:
    first, _, second = raw.decode().partition("\x00")
    return first, second


def places_bytes(places: Sequence[int]) -> bytes:
    return np.asarray(places, dtype="<u4").tobytes()


def places_of(raw: bytes) -> list[int]:
    places: list[int] = np.frombuffer(raw, dtype="<u4").tolist()
    return places


def proto_codec(
    message: Any, key_bytes: Callable[[Any], bytes] = text_key, key_of: Callable[[bytes], Any] = key_text
) -> Codec[Any, Any]:
    """A mapping whose values are protobuf messages of this type, written as they are serialised."""
    return Codec(key_bytes, key_of, lambda m: m.SerializeToString(), message.FromString)


def json_codec(
    to_data: Callable[[Any], Any],
    from_data: Callable[[Any], Any],
    key_bytes: Callable[[Any], bytes] = text_key,
    key_of: Callable[[bytes], Any] = key_text,
) -> Codec[Any, Any]:
    """A mapping whose values are written as JSON (to_data) and read back (from_data)."""
    return Codec(key_bytes, key_of, lambda v: orjson.dumps(to_data(v)), lambda raw: from_data(orjson.loads(raw)))


TEXT = Codec(text_key, key_text, str.encode, bytes.decode)  # str -> str
PAIR_TEXT = Codec(pair_key, key_pair, str.encode, bytes.decode)  # (str, str) -> str


def _digest(raw: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little")


def _page(entries: Sequence[tuple[int, bytes, bytes]]) -> bytes:
    """(rank, key, value) entries as one compressed page: their count, their sizes, their bytes."""
    head = np.array([(rank, len(k), len(v)) for rank, k, v in entries], dtype="<u4").reshape(-1)
    body = b"".join(part for _, k, v in entries for part in (k, v))
    return zlib.compress(struct.pack("<I", len(entries)) + head.tobytes() + body, 1)


def _entries(blob: bytes) -> Iterator[tuple[int, bytes, bytes]]:
    raw = zlib.decompress(blob)
    (count,) = struct.unpack_from("<I", raw)
    head = np.frombuffer(raw, dtype="<u4", count=3 * count, offset=4).reshape(-1, 3).tolist()
    at = 4 + 12 * count
    for rank, key_size, value_size in head:
        key = raw[at : at + key_size]
        at += key_size
        yield rank, key, raw[at : at + value_size]
        at += value_size
    if at != len(raw):
        raise ValueError("held: a page's entries do not match its bytes")


def _laid_out(blobs: list[bytes]) -> tuple[bytes, bytes]:
    offsets = np.zeros(len(blobs) + 1, dtype=OFFSET)
    np.cumsum([len(b) for b in blobs], out=offsets[1:])
    return b"".join(blobs), offsets.tobytes()


def written(
    mapping: MutableMapping[Any, Any] | dict[Any, Any], codec: Codec[Any, Any], page: int = PAGE
) -> dict[str, Any]:
    """The mapping as pages (bytes sections): call it on a mapping every page of which is read."""
    if isinstance(mapping, Held):
        mapping = mapping.plain()
    rows = []
    for rank, (key, value) in enumerate(mapping.items()):
        raw = codec.key_bytes(key)
        rows.append((_digest(raw), rank, raw, codec.value_bytes(value)))
    rows.sort(key=lambda row: row[0])
    blobs = [_page([(rank, k, v) for _, rank, k, v in rows[i : i + page]]) for i in range(0, len(rows), page)]
    firsts = np.array([rows[i][0] for i in range(0, len(rows), page)], dtype=HASH)
    pages, offsets = _laid_out(blobs)
    return {"pages": pages, "offsets": offsets, "firsts": firsts.tobytes(), "count": len(rows)}


def _offsets(data: dict[str, Any]) -> tuple[Any, np.ndarray, int]:
    blob = data["pages"]
    offsets = np.frombuffer(data["offsets"], dtype=OFFSET)
    pages = len(offsets) - 1
    if (
        pages < 0
        or int(offsets[0]) != 0
        or int(offsets[-1]) != len(blob)
        or np.any(np.diff(offsets.astype(np.int64)) < 0)
    ):
        raise ValueError("held: offsets do not match the pages")
    return blob, offsets, pages


class Faulting(MutableMapping[K, V]):
    """A mapping whose entries are read in, a page at a time, before a key is read or written:
    _touch(key) reads the key's page into data (a key of no page is simply new)."""

    data: dict[K, V]

    def _touch(self, key: Any) -> None:
        raise NotImplementedError

    def __getitem__(self, key: K) -> V:
        self._touch(key)
        return self.data[key]

    def get(self, key: K, default: Any = None) -> Any:
        self._touch(key)
        return self.data.get(key, default)

    def __contains__(self, key: object) -> bool:
        self._touch(key)
        return key in self.data

    def __setitem__(self, key: K, value: V) -> None:
        self._touch(key)
        self.data[key] = value

    def __delitem__(self, key: K) -> None:
        self._touch(key)
        del self.data[key]

    def pop(self, key: K, *default: Any) -> Any:
        self._touch(key)
        return self.data.pop(key, *default)

    def setdefault(self, key: K, default: Any = None) -> Any:
        self._touch(key)
        return self.data.setdefault(key, default)


class Held(Faulting[K, V]):
    """A mapping restored from written(): a key's page is read before the key is."""

    def __init__(self, data: dict[str, Any], codec: Codec[K, V]):
        if set(data) != {"pages", "offsets", "firsts", "count"}:
            raise ValueError("held: unexpected fields")
        self.codec = codec
        self.blob, self.offsets, self.pages = _offsets(data)
        self.firsts = np.frombuffer(data["firsts"], dtype=HASH)
        if len(self.firsts) != self.pages or (self.pages > 1 and not bool(np.all(self.firsts[:-1] <= self.firsts[1:]))):
            raise ValueError("held: the page index does not match the pages")
        self.data: dict[K, V] = {}
        self.rank: dict[K, int] = {}  # entries read from pages: their place in the written order
        self.read = bytearray(self.pages)
        self.unread = int(data["count"])  # entries in pages not read yet
        self.left = self.pages  # pages not read yet
        self.complete = self.pages == 0
        if self.complete and self.unread:
            raise ValueError("held: entries without pages")

    # Pages ------------------------------------------------------------------------------------

    def _touch(self, key: Any) -> None:
        if self.complete or key in self.data:
            return
        try:
            wanted = np.uint64(_digest(self.codec.key_bytes(key)))
        except (AttributeError, TypeError, IndexError, UnicodeError):
            return  # a key of no kind written: in no page
        first = max(int(np.searchsorted(self.firsts, wanted, "left")) - 1, 0)
        last = int(np.searchsorted(self.firsts, wanted, "right")) - 1
        for page in range(first, last + 1):
            self.load(page)

    def load(self, page: int) -> None:
        if self.complete or self.read[page]:
            return
        start, end = int(self.offsets[page]), int(self.offsets[page + 1])
        key_of, value_of = self.codec.key_of, self.codec.value_of
        count = 0
        for rank, raw_key, raw_value in _entries(self.blob[start:end]):
            key = key_of(raw_key)
            self.data[key] = value_of(raw_value)
            self.rank[key] = rank
            count += 1
        self.read[page] = 1
        self.unread -= count
        self.left -= 1
        if self.left == 0:
            if self.unread != 0:
                raise ValueError("held: the pages hold another count of entries")
            self._finish()

    def read_some(self, pages: int) -> bool:
        """Read up to this many more pages; whether all are read."""
        at = self.read.find(0) if not self.complete else -1
        while pages > 0 and at >= 0 and not self.complete:
            self.load(at)
            pages -= 1
            at = self.read.find(0, at + 1)
        return self.complete

    def plain(self) -> dict[K, V]:
        """Every page read: the entries as a plain dict, in the order of the mapping written."""
        self.read_some(self.pages)
        return self.data

    def _finish(self) -> None:
        rank = self.rank
        ordered = sorted(rank, key=rank.__getitem__)
        later = [k for k in self.data if k not in rank]  # written since the restore, in their order
        data = self.data
        self.data = {k: data[k] for k in ordered}
        self.data.update((k, data[k]) for k in later)
        self.complete = True
        # Let the snapshot's row go (its arrays are views of it).
        self.blob, self.rank, self.offsets, self.firsts = b"", {}, _NONE, _NONE

    def __delitem__(self, key: K) -> None:
        super().__delitem__(key)
        self.rank.pop(key, None)

    def pop(self, key: K, *default: Any) -> Any:
        found = super().pop(key, *default)
        self.rank.pop(key, None)
        return found

    def __iter__(self) -> Iterator[K]:
        return iter(self.plain())

    def __len__(self) -> int:
        return len(self.data) + self.unread

    def __eq__(self, other: object) -> bool:
        return dict(self.plain()) == (dict(other.plain()) if isinstance(other, Held) else other)

    __hash__ = None  # type: ignore[assignment]


def written_list(items: Sequence[Any], to_bytes: Callable[[Any], bytes], page: int = PAGE) -> dict[str, Any]:
    """A list as pages of consecutive items."""
    blobs = [
        _page([(i, b"", to_bytes(item)) for i, item in enumerate(items[at : at + page], at)])
        for at in range(0, len(items), page)
    ]
    pages, offsets = _laid_out(blobs)
    return {"pages": pages, "offsets": offsets, "count": len(items), "page": page}


class HeldList(Sequence[V]):
    """A list restored from written_list(): an item's page is read when the item is; appends are kept
    after the written items."""

    def __init__(self, data: dict[str, Any], of_bytes: Callable[[bytes], V]):
        if set(data) != {"pages", "offsets", "count", "page"}:
            raise ValueError("held list: unexpected fields")
        self.blob, self.offsets, self.pages = _offsets(data)
        self.size, self.page = int(data["count"]), int(data["page"])
        if self.page <= 0 or self.pages != -(-self.size // self.page):
            raise ValueError("held list: pages do not match the count")
        self.of_bytes = of_bytes
        self.loaded: list[list[V] | None] = [None] * self.pages
        self.left = self.pages
        self.tail: list[V] = []

    @property
    def complete(self) -> bool:
        return self.left == 0

    def load(self, page: int) -> list[V]:
        found = self.loaded[page]
        if found is None:
            start, end = int(self.offsets[page]), int(self.offsets[page + 1])
            found = [self.of_bytes(raw) for _, _, raw in _entries(self.blob[start:end])]
            expected = min(self.page, self.size - page * self.page)
            if len(found) != expected:
                raise ValueError("held list: a page holds another count of items")
            self.loaded[page] = found
            self.left -= 1
            if self.left == 0:
                self.blob, self.offsets = b"", _NONE  # let the snapshot's row go
        return found

    def read_some(self, pages: int) -> bool:
        for page in range(self.pages):
            if pages <= 0:
                break
            if self.loaded[page] is None:
                self.load(page)
                pages -= 1
        return self.complete

    def plain(self) -> list[V]:
        out: list[V] = []
        for page in range(self.pages):
            out.extend(self.load(page))
        out.extend(self.tail)
        return out

    def __len__(self) -> int:
        return self.size + len(self.tail)

    def __getitem__(self, at: Any) -> Any:
        if isinstance(at, slice):
            return [self[i] for i in range(*at.indices(len(self)))]
        at = int(at)
        if at < 0:
            at += len(self)
        if at >= self.size:
            return self.tail[at - self.size]
        if at < 0:
            raise IndexError(at)
        return self.load(at // self.page)[at % self.page]

    def append(self, item: V) -> None:
        self.tail.append(item)

    def __eq__(self, other: object) -> bool:
        return self.plain() == (other.plain() if isinstance(other, HeldList) else other)

    __hash__ = None  # type: ignore[assignment]


class Warm:
    """The held mappings and lists of a state, each where the state keeps it: read in slices after
    serving, then put back as plain dicts and lists."""

    def __init__(self) -> None:
        self.places: list[tuple[Any, str, Held[Any, Any] | HeldList[Any]]] = []

    def hold(self, owner: Any, name: str, held: Held[Any, Any] | HeldList[Any]) -> None:
        setattr(owner, name, held)
        self.places.append((owner, name, held))

    def clear(self) -> None:
        self.places = []

    def read_some(self, pages: int) -> bool:
        """Read up to this many pages; whether every held part is read (and put back)."""
        while self.places and pages > 0:
            owner, name, held = self.places[0]
            if not held.complete:
                held.read_some(1)
                pages -= 1
            if held.complete:
                if getattr(owner, name) is held:
                    setattr(owner, name, held.plain())
                self.places.pop(0)
        return not self.places

    def read_all(self) -> None:
        while not self.read_some(1 << 30):
            pass

    async def run(self, name: str, log: Any, slice_s: float = 0.005) -> None:
        """Read what is left in slices of a few milliseconds, the event loop left idle as long
        again after each (a request that needs an entry first reads its page itself); say once
        when all is read (at once when nothing was held)."""
        began, warm = time.monotonic(), False
        while True:
            if not self.places:
                if not warm:
                    log.info("%s: state warm, %.1fs after the warm-up began", name, time.monotonic() - began)
                    warm = True
                await asyncio.sleep(1.0)
                continue
            if warm:  # held again (a rebuild after a failed commit restored a snapshot)
                began, warm = time.monotonic(), False
            start = time.monotonic()
            with no_collection():  # what a slice reads is kept: frozen, not walked again and again
                while self.places and time.monotonic() - start < slice_s:
                    self.read_some(1)
            await asyncio.sleep(max(slice_s, time.monotonic() - start))
