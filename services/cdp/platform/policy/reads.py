"""What of the input a bundle's policies can read, so that inputs alike in all of it are one question.

Read from regorus' syntax tree of the modules (tests left out): every reference rooted at `input`
is cut at its first part that is not a literal name (`input.sync[k]` reads `input.sync`, whole). A
bare `input` anywhere but as the target of `with input as` (an argument, an iteration, an import
of all of it) reads everything, and then no input is cut. Evaluation can only see what some
reference names, so an input cut to those paths decides exactly as the whole input does.
"""

from __future__ import annotations

import json
from typing import Any

_WHOLE: dict[str, Any] = {}  # a path read whole; below it nothing is cut


class _ReadsAll(Exception):
    pass


def input_paths(ast_json: str) -> list[tuple[str, ...]] | None:
    """The paths into input the modules read (cut at their first computed part), or None when
    they may read all of it."""
    paths: set[tuple[str, ...]] = set()
    try:
        for module in json.loads(ast_json):
            _walk(module.get("ast"), paths)
    except _ReadsAll:
        return None
    return sorted(paths)


def _chain(node: Any) -> tuple[str | None, list[Any], list[Any]]:
    """A reference's root variable name, its parts from the root (a name, or None once computed)
    and the expressions of its computed parts."""
    parts: list[Any] = []
    computed: list[Any] = []
    while isinstance(node, dict) and len(node) == 1:
        ((kind, body),) = node.items()
        if kind == "RefDot":
            parts.append(body["field"][-1])
        elif kind == "RefBrack":
            index = body["index"]
            literal = index.get("String") if isinstance(index, dict) else None
            parts.append(literal["value"] if isinstance(literal, dict) else None)
            if literal is None:
                computed.append(index)
        elif kind == "Var":
            parts.reverse()
            return body.get("value"), parts, computed
        else:
            break
        node = body["refr"]
    return None, [], []


def _walk(node: Any, paths: set[tuple[str, ...]]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, paths)
        return
    if not isinstance(node, dict):
        return
    if len(node) == 1:
        ((kind, body),) = node.items()
        if kind == "Var" and isinstance(body, dict) and body.get("value") == "input":
            raise _ReadsAll
        if kind in ("RefDot", "RefBrack"):
            root, parts, computed = _chain(node)
            if root == "input":
                static = []
                for part in parts:
                    if part is None:
                        break
                    static.append(part)
                if not static:
                    raise _ReadsAll
                paths.add(tuple(static))
                _walk(computed, paths)
                return
    for key, value in node.items():
        if key == "with_mods":
            for mod in value:
                target = mod.get("refr")
                # `with input as x` replaces the input: it reads none of it (x is read as usual).
                if not (isinstance(target, dict) and target.get("Var", {}).get("value") == "input"):
                    _walk(target, paths)
                _walk(mod.get("as"), paths)
        else:
            _walk(value, paths)


def cut_to(paths: list[tuple[str, ...]]) -> dict[str, Any]:
    """The paths as a tree: name -> subtree, _WHOLE where a path ends (read whole)."""
    tree: dict[str, Any] = {}
    for path in sorted(paths, key=len):
        node = tree
        for name in path[:-1]:
            child = node.setdefault(name, {})
            if child is _WHOLE:
                break
            node = child
        else:
            node[path[-1]] = _WHOLE
    return tree


def cut(value: Any, tree: dict[str, Any]) -> Any:
    """value with only what tree names kept (a value that is not an object is kept whole)."""
    if tree is _WHOLE or not isinstance(value, dict):
        return value
    return {name: cut(value[name], sub) for name, sub in tree.items() if name in value}
