"""The embedded backend: regorus evaluating the bundle in-process.

A regorus Engine is bound to the thread that made it (pyo3 `unsendable`: touching it from another
thread panics, and so does cloning it there), so each thread gets its own engine, built once from the
bundle (about a millisecond) and reused for every decision after that. Input and data go in as JSON
text: the dict path of this build turns `true` into 1, so `input.x == true` would fail. Results come
back as JSON text too (~2 µs more than Python objects), so they are exactly what OPA returns: integers
stay integers and sets become sorted arrays, and a recorded decision reads the same from either backend.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import regorus

from cdp.platform.policy.bundle import PolicyBundle
from cdp.platform.policy.canonical import canonical, from_json
from cdp.platform.policy.engine import PolicyError, TestResult, find_test_rules, rule_path
from cdp.platform.policy.reads import cut_to, input_paths

# What eval_rule_as_json answers for an undefined rule (eval_rule's None would also mean null).
_UNDEFINED = '"<undefined>"'


def _message(error: BaseException) -> str:
    # regorus appends a Rust backtrace when RUST_BACKTRACE is set; the first part says what failed.
    return str(error).split("\nStack backtrace:")[0].strip()


class RegorusEngine:
    def __init__(self, bundle: PolicyBundle):
        self.bundle = bundle
        self.revision = bundle.revision
        self._data_json = json.dumps(bundle.data)
        self._local = threading.local()
        self._rules: dict[str, str] = {}  # entrypoint as given -> "data.a.b.rule"
        self._engine()  # fail now, not at the first decision, if a module does not compile

    def _build(self, modules: dict[str, str]) -> regorus.Engine:
        engine = regorus.Engine()
        try:
            for path, source in modules.items():
                engine.add_policy(path, source)
            engine.add_data_json(self._data_json)
        except RuntimeError as e:
            raise PolicyError("bundle", _message(e)) from None
        return engine

    def _engine(self) -> regorus.Engine:
        engine = getattr(self._local, "engine", None)
        if engine is None:
            engine = self._local.engine = self._build(self.bundle.modules)
        return engine

    def _rule(self, entrypoint: str) -> str:
        rule = self._rules.get(entrypoint)
        if rule is None:
            rule = self._rules[entrypoint] = "data." + ".".join(rule_path(entrypoint))
        return rule

    def evaluate(self, entrypoint: str, input: dict[str, Any]) -> Any:
        try:
            input_json = canonical(input)
        except (ValueError, TypeError) as e:  # not JSON
            raise PolicyError(entrypoint, _message(e)) from None
        return self.evaluate_json(entrypoint, input_json)

    def evaluate_json(self, entrypoint: str, input_json: str) -> Any:
        return from_json(self.evaluate_text(entrypoint, input_json))

    def evaluate_text(self, entrypoint: str, input_json: str) -> str:
        rule = self._rules.get(entrypoint) or self._rule(entrypoint)
        engine = getattr(self._local, "engine", None) or self._engine()
        try:
            engine.set_input_json(input_json)
            result = engine.eval_rule_as_json(rule)
        except (RuntimeError, ValueError, TypeError) as e:  # policy error, or input not JSON
            raise PolicyError(entrypoint, _message(e)) from None
        if result == _UNDEFINED:
            raise PolicyError(entrypoint, "undefined")
        return str(result)

    def input_reads(self) -> dict[str, Any] | None:
        """What of an input the policies can read, as a tree for reads.cut (None: all of it)."""
        paths = input_paths(self._engine().get_ast_as_json())
        return None if paths is None else cut_to(paths)

    def run_tests(self) -> list[TestResult]:
        # A separate engine: test modules must never be reachable from decisions.
        engine = self._build({**self.bundle.modules, **self.bundle.tests})
        engine.set_input_json("{}")
        results = []
        for name in find_test_rules(self.bundle.tests):
            try:
                passed = engine.eval_rule_as_json(name) == "true"
                results.append(TestResult(name, passed, None if passed else "false or undefined"))
            except RuntimeError as e:
                results.append(TestResult(name, False, _message(e)))
        return results
