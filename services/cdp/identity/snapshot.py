"""The evidence graph as plain JSON-able data, for snapshots (and back).

Identifiers are written once, in first-seen order, and named everywhere else by their place in
that list; edges likewise by their place in the graph's evidence. Everything else is written as
the graph holds it, in its dicts' order, so a restored graph answers exactly as the folded one.

What is written is what identity's log holds: identifiers as the graph holds them (emails and
phones as opaque node ids, never a value or a blind index), and no keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cdp.identity.domain import Edge, HistoryItem, Identifier, IdentityGraph

FIELDS = (
    "nodes",
    "born_in",
    "person_of",
    "edges",
    "by_pair",
    "by_event",
    "by_node",
    "adjacency",
    "members",
    "anchor",
    "reviews",
    "review_of",
    "merged_ids",
    "absorbed_into",
    "id_anchor",
    "history",
)


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
        "by_pair": [[n[a], n[b], [e[i] for i in ids]] for (a, b), ids in graph.by_pair.items()],
        "by_event": {event: [e[i] for i in ids] for event, ids in graph.by_event.items()},
        "by_node": [[n[node], [e[i] for i in ids]] for node, ids in graph.by_node.items()],
        "adjacency": [
            [n[node], [[n[other], sorted(e[i] for i in ids)] for other, ids in neighbours.items()]]
            for node, neighbours in graph.adjacency.items()
        ],
        "members": {person: sorted(n[m] for m in members) for person, members in graph.members.items()},
        "anchor": {person: n[node] for person, node in graph.anchor.items()},
        "reviews": dict(graph.reviews),
        "review_of": dict(graph.review_of),
        "merged_ids": {person: sorted(ids) for person, ids in graph.merged_ids.items()},
        "absorbed_into": dict(graph.absorbed_into),
        "id_anchor": {person: n[node] for person, node in graph.id_anchor.items()},
        "history": {person: [_item(i) for i in items] for person, items in graph.history.items()},
    }


def graph_from(data: dict[str, Any], person_id_for: Callable[[Identifier], str]) -> IdentityGraph:
    if set(data) != set(FIELDS):
        raise ValueError("identity snapshot: unexpected fields")
    nodes: list[Identifier] = [(str(kind), str(value)) for kind, value in data["nodes"]]
    edges = [_edge_back(row, nodes) for row in data["edges"]]
    ids = [edge.edge_id for edge in edges]
    graph = IdentityGraph(person_id_for)
    graph.order = {node: i for i, node in enumerate(nodes)}
    graph.born_in = dict(zip(nodes, data["born_in"], strict=True))
    graph.person_of = dict(zip(nodes, data["person_of"], strict=True))
    graph.edges = {edge.edge_id: edge for edge in edges}
    graph.by_pair = {(nodes[a], nodes[b]): [ids[i] for i in edge_ids] for a, b, edge_ids in data["by_pair"]}
    graph.by_event = {event: [ids[i] for i in edge_ids] for event, edge_ids in data["by_event"].items()}
    graph.by_node = {nodes[node]: [ids[i] for i in edge_ids] for node, edge_ids in data["by_node"]}
    graph.adjacency = {
        nodes[node]: {nodes[other]: {ids[i] for i in edge_ids} for other, edge_ids in neighbours}
        for node, neighbours in data["adjacency"]
    }
    graph.members = {person: {nodes[m] for m in members} for person, members in data["members"].items()}
    graph.anchor = {person: nodes[node] for person, node in data["anchor"].items()}
    graph.reviews = dict(data["reviews"])
    graph.review_of = dict(data["review_of"])
    graph.merged_ids = {person: set(absorbed) for person, absorbed in data["merged_ids"].items()}
    graph.absorbed_into = dict(data["absorbed_into"])
    graph.id_anchor = {person: nodes[node] for person, node in data["id_anchor"].items()}
    graph.history = {person: [_item_back(i) for i in items] for person, items in data["history"].items()}
    return graph
