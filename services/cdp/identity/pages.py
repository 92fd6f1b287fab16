"""The evidence graph in pages, for snapshots: written whole, read back a page at a time as first
touched, so identity serves soon after it starts however large its graph.

Identifiers joined by any evidence (admitted, refused, held or retracted: evidence is never removed)
form a component, and everything the graph keeps of them (first-seen order, persons, edges, their
indexes, histories, merges) lies in that component's page; a page holds whole components, at least
PAGE_NODES identifiers, compressed on its own. Four sorted arrays of 64-bit hashes (of identifiers,
edge ids, event ids, person ids) say which page holds a key. A graph restored from pages holds
Paged mappings in place of its dicts: a key's page is loaded the first time the key is read or
written; iterating one loads every page. Once all are loaded the graph holds plain dicts again,
its first-seen order and its edges in the order a fold gives them.

Personal identifiers are in pages as the graph holds them (opaque node ids): no value, no blind
index, no key; tokens stay outside (the application writes them).
"""

from __future__ import annotations

import hashlib
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import orjson

from cdp.identity.domain import Edge, Identifier, IdentityGraph
from cdp.identity.snapshot import _edge, _edge_back, _item, _item_back
from cdp.platform.held import Faulting

PAGE_NODES = 256
KINDS = ("node", "edge", "event", "person")
# Each paged mapping of the graph, by the kind of key that names its page ("pair": its first node).
PAGED = {
    "order": "node",
    "born_in": "node",
    "person_of": "node",
    "by_node": "node",
    "adjacency": "node",
    "edges": "edge",
    "by_pair": "pair",
    "by_event": "event",
    "members": "person",
    "anchor": "person",
    "merged_ids": "person",
    "absorbed_into": "person",
    "id_anchor": "person",
    "history": "person",
}
PERSONS = ("members", "anchor", "merged_ids", "absorbed_into", "id_anchor", "history")
HASH = np.dtype("<u8")
PAGE = np.dtype("<u4")


def _digest(raw: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little")


def _node_bytes(node: Identifier) -> bytes:
    return node[0].encode() + b"\x00" + node[1].encode()


def key_hash(kind: str, key: Any) -> int | None:
    """The hash a key is indexed by; None for a key of no page's kind (None itself, say)."""
    try:
        if kind == "node":
            return _digest(_node_bytes(key))
        if kind == "pair":
            return _digest(_node_bytes(key[0]))
        return _digest(key.encode())
    except (AttributeError, TypeError, IndexError):
        return None


class _Components:
    """Union-find over identifiers' places."""

    def __init__(self, size: int):
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


# Writing ----------------------------------------------------------------------------------------


def copied(graph: IdentityGraph) -> IdentityGraph:
    """A copy that shares nothing mutable with the graph (edges, history items and identifiers are
    immutable: shared), made in a few seconds for a million events, to be written meanwhile."""
    out = IdentityGraph(graph.person_id_for)
    out.order = dict(graph.order)
    out.born_in = dict(graph.born_in)
    out.edges = dict(graph.edges)
    out.by_pair = {k: list(v) for k, v in graph.by_pair.items()}
    out.by_event = {k: list(v) for k, v in graph.by_event.items()}
    out.by_node = {k: list(v) for k, v in graph.by_node.items()}
    out.adjacency = {k: {o: set(ids) for o, ids in v.items()} for k, v in graph.adjacency.items()}
    out.person_of = dict(graph.person_of)
    out.members = {k: set(v) for k, v in graph.members.items()}
    out.anchor = dict(graph.anchor)
    out.reviews = dict(graph.reviews)
    out.review_of = dict(graph.review_of)
    out.merged_ids = {k: set(v) for k, v in graph.merged_ids.items()}
    out.absorbed_into = dict(graph.absorbed_into)
    out.id_anchor = dict(graph.id_anchor)
    out.history = {k: list(v) for k, v in graph.history.items()}
    return out


def written(graph: IdentityGraph, page_nodes: int = PAGE_NODES) -> dict[str, Any]:
    """The graph as pages and indexes (bytes sections) and its few global parts (JSON)."""
    nodes = sorted(graph.order, key=graph.order.__getitem__)
    n = {node: i for i, node in enumerate(nodes)}
    components = _Components(len(nodes))
    edges = graph.edges
    for edge in edges.values():
        components.union(n[edge.a], n[edge.b])
    for ids in graph.by_event.values():
        for edge_id in ids[1:]:
            components.union(n[edges[ids[0]].a], n[edges[edge_id].a])
    home: dict[str, int] = {}  # person id -> a place in its component

    def place(person: str, i: int) -> None:
        j = home.setdefault(person, i)
        if j != i:
            components.union(i, j)

    for person, members in graph.members.items():
        for member in members:
            place(person, n[member])
            break
    for mapping in (graph.anchor, graph.id_anchor):
        for person, node in mapping.items():
            place(person, n[node])
    for absorbed, person in graph.absorbed_into.items():
        if person in home:
            place(absorbed, home[person])
    for person, merged in graph.merged_ids.items():
        for absorbed in merged:
            if person in home:
                place(absorbed, home[person])
    roots = [components.find(i) for i in range(len(nodes))]
    sizes = Counter(roots)
    page_of_root: dict[int, int] = {}
    filled, count = 0, 0
    for root in roots:
        if root not in page_of_root:
            if filled >= page_nodes:
                count, filled = count + 1, 0
            page_of_root[root] = count
            filled += sizes[root]
    node_page = [page_of_root[r] for r in roots]
    pages = count + 1 if nodes else 0
    # What each page holds, by place: identifiers, edges, persons (then laid out a page at a time,
    # so that no more than one page's rows are held beside the graph).
    held_nodes: list[list[int]] = [[] for _ in range(pages)]
    local: list[int] = []
    for i in range(len(nodes)):
        held = held_nodes[node_page[i]]
        local.append(len(held))
        held.append(i)
    page_edges: list[list[Edge]] = [[] for _ in range(pages)]
    edge_rank: list[tuple[int, int]] = []
    for edge in edges.values():
        page = node_page[n[edge.a]]
        edge_rank.append((page, len(page_edges[page])))
        page_edges[page].append(edge)
    page_persons: list[list[str]] = [[] for _ in range(pages)]
    orphans: dict[str, dict[str, Any]] = {}
    for person in sorted({p for name in PERSONS for p in getattr(graph, name)}):
        if person in home:
            page_persons[node_page[home[person]]].append(person)
        else:  # a person id no identifier is known by: with the graph's global parts
            for name in PERSONS:
                mapping = getattr(graph, name)
                if person in mapping:
                    orphans.setdefault(name, {})[person] = _person_value(name, mapping[person], lambda node: -1)

    def ln(node: Identifier) -> int:
        return local[n[node]]

    blobs: list[bytes] = []
    pairs_written = events_written = 0
    for page in range(pages):
        edge_local = {edge.edge_id: j for j, edge in enumerate(page_edges[page])}
        rows: dict[str, list[Any]] = {name: [] for name in (*PAGED, "nodes")}
        for i in held_nodes[page]:
            node, at = nodes[i], local[i]
            rows["nodes"].append([node[0], node[1]])
            rows["order"].append([at, graph.order[node]])
            if node in graph.born_in:
                rows["born_in"].append([at, graph.born_in[node]])
            if node in graph.person_of:
                rows["person_of"].append([at, graph.person_of[node]])
            if node in graph.by_node:
                rows["by_node"].append([at, [edge_local[e] for e in graph.by_node[node]]])
            if node in graph.adjacency:
                neighbours = [[ln(o), sorted(edge_local[e] for e in ids)] for o, ids in graph.adjacency[node].items()]
                rows["adjacency"].append([at, neighbours])
        seen_pairs: set[tuple[Identifier, Identifier]] = set()
        seen_events: set[str] = set()
        for edge in page_edges[page]:
            rows["edges"].append(_edge(edge, {edge.a: ln(edge.a), edge.b: ln(edge.b)}))
            for key in ((edge.a, edge.b), (edge.b, edge.a)):
                paired = graph.by_pair.get(key)
                if paired is not None and key not in seen_pairs:
                    seen_pairs.add(key)
                    rows["by_pair"].append([ln(key[0]), ln(key[1]), [edge_local[e] for e in paired]])
            if edge.event_id in graph.by_event and edge.event_id not in seen_events:
                seen_events.add(edge.event_id)
                rows["by_event"].append([edge.event_id, [edge_local[e] for e in graph.by_event[edge.event_id]]])
        pairs_written += len(seen_pairs)
        events_written += len(seen_events)
        for person in page_persons[page]:
            for name in PERSONS:
                mapping = getattr(graph, name)
                if person in mapping:
                    rows[name].append([person, _person_value(name, mapping[person], ln)])
        blobs.append(zlib.compress(orjson.dumps({k: v for k, v in rows.items() if v}), 1))
    if pairs_written != len(graph.by_pair) or events_written != len(graph.by_event):
        raise ValueError("identity pages: an index names an edge the graph does not hold")
    offsets = np.zeros(len(blobs) + 1, dtype="<u8")
    np.cumsum([len(b) for b in blobs], out=offsets[1:])
    keys = {
        "node": [(_digest(_node_bytes(node)), node_page[i]) for i, node in enumerate(nodes)],
        "edge": [(_digest(e.edge_id.encode()), node_page[n[e.a]]) for e in edges.values()],
        "event": [(_digest(ev.encode()), node_page[n[edges[ids[0]].a]]) for ev, ids in graph.by_event.items()],
        "person": [(_digest(p.encode()), node_page[i]) for p, i in home.items()],
    }
    index: dict[str, Any] = {}
    for kind, pairs in keys.items():
        hashes = np.array([h for h, _ in pairs], dtype=HASH)
        places = np.array([p for _, p in pairs], dtype=PAGE)
        order = np.argsort(hashes, kind="stable")
        index[kind] = {"hashes": hashes[order].tobytes(), "pages": places[order].tobytes()}
    return {
        "pages": b"".join(blobs),
        "offsets": offsets.tobytes(),
        "index": index,
        "edge_rank": np.array(edge_rank, dtype=PAGE).reshape(-1).tobytes(),
        "counts": {name: len(getattr(graph, name)) - len(orphans.get(name, {})) for name in PAGED},
        "reviews": dict(graph.reviews),
        "review_of": dict(graph.review_of),
        "orphans": orphans,
    }


def _person_value(name: str, value: Any, ln: Callable[[Identifier], int]) -> Any:
    if name == "members":
        return sorted(ln(m) for m in value)
    if name in ("anchor", "id_anchor"):
        return ln(value)
    if name == "merged_ids":
        return sorted(value)
    if name == "history":
        return [_item(i) for i in value]
    return value  # absorbed_into: a person id


def _person_back(name: str, value: Any, nodes: list[Identifier]) -> Any:
    if name == "members":
        return {nodes[m] for m in value}
    if name in ("anchor", "id_anchor"):
        return nodes[value]
    if name == "merged_ids":
        return set(value)
    if name == "history":
        return [_item_back(i) for i in value]
    return str(value)


# Reading ----------------------------------------------------------------------------------------


class Paged(Faulting[Any, Any]):
    """One of a restored graph's dicts while pages are still unread: a key's page is read before
    the key is (a key of no page is simply new); iterating reads them all."""

    def __init__(self, pager: Pager, kind: str, unread: int):
        self.data: dict[Any, Any] = {}
        self.pager = pager
        self.kind = kind
        self.unread = unread  # entries in pages not read yet

    def _touch(self, key: Any) -> None:
        if key not in self.data and not self.pager.complete:
            self.pager.fault(self.kind, key)

    def __iter__(self) -> Iterator[Any]:
        self.pager.read_all()
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data) + self.unread


class Pager:
    """The pages a graph was restored from, and which of them are read."""

    def __init__(self, graph: IdentityGraph, data: dict[str, Any]):
        self.graph = graph
        self.blob = data["pages"]
        self.offsets = np.frombuffer(data["offsets"], dtype="<u8")
        self.pages = len(self.offsets) - 1
        if self.pages < 0 or int(self.offsets[-1]) != len(self.blob):
            raise ValueError("identity pages: offsets do not match the pages")
        self.index: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for kind in KINDS:
            hashes = np.frombuffer(data["index"][kind]["hashes"], dtype=HASH)
            pages = np.frombuffer(data["index"][kind]["pages"], dtype=PAGE)
            if len(hashes) != len(pages) or (len(pages) and int(pages.max()) >= self.pages):
                raise ValueError(f"identity pages: the {kind} index does not match the pages")
            self.index[kind] = (hashes, pages)
        self.edge_rank = np.frombuffer(data["edge_rank"], dtype=PAGE).reshape(-1, 2)
        self.read = bytearray(self.pages)
        self.unread = self.pages
        self.page_edges: list[list[str] | None] = [None] * self.pages
        self.complete = False
        counts = data["counts"]
        self.mappings = {name: Paged(self, kind, int(counts[name])) for name, kind in PAGED.items()}
        for name, mapping in self.mappings.items():
            setattr(graph, name, mapping)
        graph.reviews = dict(data["reviews"])
        graph.review_of = dict(data["review_of"])
        for name, entries in data["orphans"].items():
            if name not in PERSONS:
                raise ValueError("identity pages: unexpected orphans")
            for person, value in entries.items():
                self.mappings[name].data[person] = _person_back(name, value, [])
        if self.pages == 0:
            self._finish()

    def fault(self, kind: str, key: Any) -> None:
        """Read the pages that may hold key (a hash shared by two keys reads both pages)."""
        hashes, pages = self.index["node" if kind == "pair" else kind]
        wanted = key_hash(kind, key)
        if wanted is None:
            return
        at = int(np.searchsorted(hashes, np.uint64(wanted)))
        while at < len(hashes) and int(hashes[at]) == wanted:
            self.load(int(pages[at]))
            at += 1

    def load(self, page: int) -> None:
        if self.complete or self.read[page]:
            return
        start, end = int(self.offsets[page]), int(self.offsets[page + 1])
        data = orjson.loads(zlib.decompress(self.blob[start:end]))
        m = self.mappings
        nodes: list[Identifier] = [(str(kind), str(value)) for kind, value in data["nodes"]]
        edges: list[Edge] = [_edge_back(row, nodes) for row in data.get("edges", ())]
        ids = [e.edge_id for e in edges]
        fills: list[tuple[str, list[tuple[Any, Any]]]] = [
            ("edges", [(e.edge_id, e) for e in edges]),
            ("order", [(nodes[i], int(v)) for i, v in data.get("order", ())]),
            ("born_in", [(nodes[i], v) for i, v in data.get("born_in", ())]),
            ("person_of", [(nodes[i], v) for i, v in data.get("person_of", ())]),
            ("by_node", [(nodes[i], [ids[e] for e in es]) for i, es in data.get("by_node", ())]),
            (
                "adjacency",
                [
                    (nodes[i], {nodes[o]: {ids[e] for e in es} for o, es in neighbours})
                    for i, neighbours in data.get("adjacency", ())
                ],
            ),
            ("by_pair", [((nodes[a], nodes[b]), [ids[e] for e in es]) for a, b, es in data.get("by_pair", ())]),
            ("by_event", [(event, [ids[e] for e in es]) for event, es in data.get("by_event", ())]),
            *((name, [(p, _person_back(name, v, nodes)) for p, v in data.get(name, ())]) for name in PERSONS),
        ]
        for name, entries in fills:
            mapping = m[name]
            mapping.data.update(entries)
            mapping.unread -= len(entries)
        self.page_edges[page] = ids
        self.read[page] = 1
        self.unread -= 1
        if self.unread == 0:
            self._finish()

    def read_some(self, pages: int) -> bool:
        """Read up to this many more pages; whether all are read."""
        if not self.complete:
            at = self.read.find(0)
            while pages > 0 and at >= 0:
                self.load(at)
                pages -= 1
                at = self.read.find(0, at + 1) if not self.complete else -1
        return self.complete

    def read_all(self) -> None:
        while not self.read_some(1 << 30):
            pass

    def _finish(self) -> None:
        """All read: the graph's dicts as a fold leaves them (first-seen order, edges in log order
        and after them those added since), and the pages let go."""
        m = self.mappings
        edges = m["edges"].data
        ordered: dict[str, Edge] = {}
        for page, j in self.edge_rank.tolist():
            page_ids = self.page_edges[page]
            assert page_ids is not None
            ordered[page_ids[j]] = edges[page_ids[j]]
        for edge_id, edge in edges.items():
            ordered.setdefault(edge_id, edge)
        m["edges"].data = ordered
        order = m["order"].data
        m["order"].data = dict(sorted(order.items(), key=lambda item: item[1]))
        for name, mapping in m.items():
            setattr(self.graph, name, mapping.data)
        self.complete = True
        self.blob = b""
        self.index = {}
        self.page_edges = []


def restored(data: dict[str, Any], person_id_for: Callable[[Identifier], str]) -> tuple[IdentityGraph, Pager]:
    """A graph from written(): its pages read as they are touched (or by the pager, in the background)."""
    if set(data) != {"pages", "offsets", "index", "edge_rank", "counts", "reviews", "review_of", "orphans"}:
        raise ValueError("identity pages: unexpected fields")
    graph = IdentityGraph(person_id_for)
    return graph, Pager(graph, data)
