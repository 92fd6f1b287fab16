"""Identity's evidence as lineage shows it: the admitted links from one identifier to a person's
oldest identifier (whose id the person carries), found over the person's evidence."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

Node = tuple[str, str]


def path(edges: Iterable[Any], start: Node, goal: Node) -> list[Any] | None:
    """The admitted edges (cdp.identity.v1.Evidence) from start to goal, shortest first found;
    [] when they are the same identifier, None when no admitted evidence joins them."""
    if start == goal:
        return []
    around: dict[Node, list[tuple[Node, Any]]] = {}
    for edge in sorted(edges, key=lambda e: (e.at, e.edge_id)):
        if not edge.active:
            continue
        a, b = (edge.a.type, edge.a.value), (edge.b.type, edge.b.value)
        around.setdefault(a, []).append((b, edge))
        around.setdefault(b, []).append((a, edge))
    previous: dict[Node, tuple[Node, Any] | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            steps = []
            while (step := previous[node]) is not None:
                node, edge = step
                steps.append(edge)
            return list(reversed(steps))
        for neighbour, edge in around.get(node, ()):
            if neighbour not in previous:
                previous[neighbour] = (node, edge)
                queue.append(neighbour)
    return None


def edge_json(edge: Any) -> dict[str, Any]:
    return {
        "edge_id": edge.edge_id,
        "a": {"type": edge.a.type, "value": edge.a.value},
        "b": {"type": edge.b.type, "value": edge.b.value},
        "event_id": edge.event_id,
        "rule": edge.rule,
        "rule_version": edge.rule_version,
        "decision_id": edge.decision_id,
        "score": edge.score,
        "at": edge.at,
    }
