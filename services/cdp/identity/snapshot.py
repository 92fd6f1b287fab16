"""The evidence graph as plain JSON-able data: to compare two graphs, and the rows its snapshot's
pages are written in (cdp.identity.pages).

Identifiers are written once, in first-seen order, and named everywhere else by their place in
that list; edges likewise by their place in the graph's evidence (the order a fold adds them in).
The indexes by identifier are written in identifiers' order, whatever order their dicts were
filled in, so two graphs that hold the same write the same.

What is written is what identity's log holds: identifiers as the graph holds them (emails and
phones as opaque node ids, never a value or a blind index), and no keys.
"""

from __future__ import annotations

from typing import Any

from cdp.identity.domain import Edge, HistoryItem, Identifier, IdentityGraph


def _edge(edge: Edge, n: dict[Identifier, int]) -> list[Any]:
    return [
        edge.edge_id,
        n[edge.a],
        n[edge.b],
        edge.event_id,
        edge.rule,
        edge.rule_version,
        edge.score,
        edge.active,
        edge.decision_id,
        edge.reason,
        edge.retracted,
        edge.at,
        [list(w) for w in edge.weights],
        edge.held,
    ]


def _edge_back(row: list[Any], nodes: list[Identifier]) -> Edge:
    (edge_id, a, b, event_id, rule, version, score, active, decision, reason, retracted, at, weights, held) = row
    return Edge(
        edge_id,
        nodes[a],
        nodes[b],
        event_id,
        rule,
        version,
        float(score),
        active,
        decision,
        reason,
        retracted,
        at,
        tuple((str(k), str(level), float(w)) for k, level, w in weights),
        held,
    )


def _item(item: HistoryItem) -> list[Any]:
    return [
        item.kind,
        item.at,
        list(item.others),
        item.edge_id,
        item.event_id,
        item.decision_id,
        item.reason,
        item.actor,
    ]


def _item_back(row: list[Any]) -> HistoryItem:
    kind, at, others, edge_id, event_id, decision_id, reason, actor = row
    return HistoryItem(kind, at, tuple(others), edge_id, event_id, decision_id, reason, actor)


def graph_data(graph: IdentityGraph) -> dict[str, Any]:
    nodes = list(graph.order)  # first-seen order is insertion order: order[i] == its place
    n = {node: i for i, node in enumerate(nodes)}
    edge_ids = list(graph.edges)
    e = {edge_id: i for i, edge_id in enumerate(edge_ids)}
    return {
        "nodes": [list(node) for node in nodes],
        "born_in": [graph.born_in[node] for node in nodes],
        "person_of": [graph.person_of[node] for node in nodes],
        "edges": [_edge(edge, n) for edge in graph.edges.values()],
        "by_pair": sorted([n[a], n[b], [e[i] for i in ids]] for (a, b), ids in graph.by_pair.items()),
        "by_event": {event: [e[i] for i in ids] for event, ids in graph.by_event.items()},
        "by_node": sorted([n[node], [e[i] for i in ids]] for node, ids in graph.by_node.items()),
        "adjacency": sorted(
            [n[node], [[n[other], sorted(e[i] for i in ids)] for other, ids in neighbours.items()]]
            for node, neighbours in graph.adjacency.items()
        ),
        "members": {person: sorted(n[m] for m in members) for person, members in graph.members.items()},
        "anchor": {person: n[node] for person, node in graph.anchor.items()},
        "reviews": dict(graph.reviews),
        "review_of": dict(graph.review_of),
        "merged_ids": {person: sorted(ids) for person, ids in graph.merged_ids.items()},
        "absorbed_into": dict(graph.absorbed_into),
        "id_anchor": {person: n[node] for person, node in graph.id_anchor.items()},
        "history": {person: [_item(i) for i in items] for person, items in graph.history.items()},
    }
