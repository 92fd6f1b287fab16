"""The server backend: an OPA server (central, or a sidecar) through opa-python-client 3.x.

The bundle's modules and data are pushed on construction, so the server decides with exactly the
revision this engine reports. Policy ids are the modules' relative paths ("cdp/pii/pii.rego").
"""

from __future__ import annotations

import contextlib
import json
from typing import Any
from urllib.parse import urlsplit

import requests
from opa_client import OpaClient
from opa_client.errors import RegoParseError

from cdp.platform.policy.bundle import POLICY_DIR, PolicyBundle
from cdp.platform.policy.canonical import canonical
from cdp.platform.policy.engine import PolicyError, TestResult, find_test_rules, rule_path


class OpaServerEngine:
    def __init__(self, bundle: PolicyBundle, url: str, *, timeout: float = 5.0):
        parts = urlsplit(url if "//" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"OPA url must be http(s)://host[:port], got {url!r}")
        self.bundle = bundle
        self.revision = bundle.revision
        # An evaluation error is a 500 that would fail the same way again: retry only once.
        self.client = OpaClient(
            host=parts.hostname,
            port=parts.port or 8181,
            ssl=parts.scheme == "https",
            timeout=timeout,
            retries=1,
        )
        self._push()

    def _push(self) -> None:
        try:
            # Drop our modules that this revision no longer has (or tests left by a broken run).
            for stale in set(self.client.get_policies_list()) - set(self.bundle.modules):
                if stale.startswith(f"{POLICY_DIR}/"):
                    self.client.delete_policy(stale)
            for path, source in sorted(self.bundle.modules.items()):
                self.client.update_policy_from_string(source, path, rego_compat=False)
            for key, value in self.bundle.data.items():
                if isinstance(value, dict):
                    self.client.update_or_create_data(value, key)
                else:  # update_or_create_data takes objects only
                    self.client.patch_data("", [{"op": "add", "path": f"/{key}", "value": value}])
        except RegoParseError as e:
            raise PolicyError("bundle", f"OPA rejected the bundle: {e}") from None
        except requests.RequestException as e:
            raise PolicyError("bundle", f"OPA unreachable: {e}") from None

    def _query(self, entrypoint: str, path: list[str], input: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = self.client.query_rule(input, ".".join(path[:-1]), path[-1])
            return response
        except requests.RequestException as e:
            body = getattr(e.response, "text", "") if getattr(e, "response", None) is not None else ""
            raise PolicyError(entrypoint, f"OPA query failed: {e} {body}".strip()) from None

    def evaluate(self, entrypoint: str, input: dict[str, Any]) -> Any:
        response = self._query(entrypoint, rule_path(entrypoint), input)
        if "result" not in response:  # OPA answers {} for an undefined document
            raise PolicyError(entrypoint, "undefined")
        return response["result"]

    def evaluate_json(self, entrypoint: str, input_json: str) -> Any:
        return self.evaluate(entrypoint, json.loads(input_json))

    def evaluate_text(self, entrypoint: str, input_json: str) -> str:
        return canonical(self.evaluate_json(entrypoint, input_json))

    def run_tests(self) -> list[TestResult]:
        results = []
        try:
            for path, source in sorted(self.bundle.tests.items()):
                try:
                    self.client.update_policy_from_string(source, path, rego_compat=False)
                except RegoParseError as e:
                    raise PolicyError(path, f"OPA rejected the test module: {e}") from None
            for name in find_test_rules(self.bundle.tests):
                try:
                    result = self._query(name, rule_path(name), {}).get("result")
                    passed = result is True
                    results.append(TestResult(name, passed, None if passed else "false or undefined"))
                except PolicyError as e:
                    results.append(TestResult(name, False, str(e)))
        finally:
            # Tests never stay loaded next to the policies that decide.
            for path in self.bundle.tests:
                with contextlib.suppress(Exception):  # not uploaded (an earlier upload failed)
                    self.client.delete_policy(path)
        return results

    def close(self) -> None:
        self.client.close_connection()
