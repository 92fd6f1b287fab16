"""One policy-engine interface, two backends: embedded regorus (default) and an OPA server.

The backends (regorus_engine, opa_engine) import what they share from here; backends.make_engine
chooses one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class PolicyError(Exception):
    """An evaluation failed or was undefined; the message names the entrypoint."""

    def __init__(self, entrypoint: str, message: str):
        super().__init__(f"{entrypoint}: {message}")
        self.entrypoint = entrypoint


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # not a pytest test class

    name: str  # e.g. data.cdp.pii_test.test_listed_names_are_personal
    passed: bool
    error: str | None = None


class PolicyEngine(Protocol):
    revision: str

    def evaluate(self, entrypoint: str, input: dict[str, Any]) -> Any: ...

    def evaluate_json(self, entrypoint: str, input_json: str) -> Any:
        """evaluate() of an input given as JSON text (as the Decider has it already)."""
        ...

    def evaluate_text(self, entrypoint: str, input_json: str) -> str:
        """evaluate_json()'s result as JSON text, as the engine wrote it (not canonical): equal
        texts are equal results, so a caller may keep what it made of a text before."""
        ...

    def run_tests(self) -> list[TestResult]: ...


def rule_path(entrypoint: str) -> list[str]:
    """["cdp", "egress", "decision"] from "data.cdp.egress.decision", "cdp.egress.decision" or
    "cdp/egress/decision"; anything else is a PolicyError (it never reaches a query string)."""
    parts = entrypoint.replace("/", ".").split(".")
    if parts and parts[0] == "data":
        parts = parts[1:]
    if len(parts) < 2 or not all(_SEGMENT.fullmatch(p) for p in parts):
        raise PolicyError(entrypoint, "not a rule path like data.cdp.egress.decision")
    return parts


_TEST_PACKAGE = re.compile(r"^package\s+([\w.]+)", re.MULTILINE)
_TEST_RULE = re.compile(r"^(test_\w+)", re.MULTILINE)


def find_test_rules(tests: dict[str, str]) -> list[str]:
    """The full names (data.<pkg>.test_x) of the test rules in test modules, in file order."""
    names: list[str] = []
    for path in sorted(tests):
        package = _TEST_PACKAGE.search(tests[path])
        if package is None:
            continue
        for rule in _TEST_RULE.findall(tests[path]):
            name = f"data.{package.group(1)}.{rule}"
            if name not in names:  # a test may have several bodies
                names.append(name)
    return names
