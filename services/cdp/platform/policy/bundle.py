"""A policy bundle: the Rego modules and data one revision is made of.

The revision hashes the modules and the data (not the tests: they do not change a decision), so the
same files always give the same revision and any change to a policy or to data gives a new one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POLICY_DIR = "cdp"
DATA_DIR = "data"
# sources() holds the merged data under this one name; rebuilding from it gives the same data.
MERGED_DATA = f"{DATA_DIR}/data.json"


@dataclass(frozen=True)
class PolicyBundle:
    root: Path
    modules: dict[str, str]  # relative path -> source (the .rego files, tests excluded)
    tests: dict[str, str]  # relative path -> source of the *_test.rego files
    data: dict[str, Any]
    revision: str

    def sources(self) -> dict[str, str]:
        """Every file of the revision (modules, tests, merged data as JSON), to record and rebuild it."""
        return {
            **self.modules,
            **self.tests,
            MERGED_DATA: json.dumps(self.data, sort_keys=True, indent=2, ensure_ascii=False) + "\n",
        }


def load_bundle(root: str | Path) -> PolicyBundle:
    """Read root/cdp/**/*.rego and deep-merge root/data/*.json (in file-name order)."""
    root = Path(root)
    sources = {
        path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
        for pattern in (f"{POLICY_DIR}/**/*.rego", f"{DATA_DIR}/*.json")
        for path in sorted(root.glob(pattern))
        if path.is_file()
    }
    if not any(name.endswith(".rego") for name in sources):
        raise FileNotFoundError(f"no Rego modules under {root / POLICY_DIR}")
    return bundle_from_sources(sources, root=root)


def bundle_from_sources(sources: Mapping[str, str], root: str | Path = ".") -> PolicyBundle:
    """Rebuild a bundle from PolicyBundle.sources() (or any {relative path: text})."""
    modules: dict[str, str] = {}
    tests: dict[str, str] = {}
    data: dict[str, Any] = {}
    for name in sorted(sources):
        text = sources[name]
        if name.endswith("_test.rego"):
            tests[name] = text
        elif name.endswith(".rego"):
            modules[name] = text
        elif name.startswith(f"{DATA_DIR}/") and name.endswith(".json"):
            document = json.loads(text)
            if not isinstance(document, dict):
                raise ValueError(f"{name}: policy data must be a JSON object")
            _deep_merge(data, document)
        else:
            raise ValueError(f"{name}: not a policy module or data file")
    return PolicyBundle(Path(root), modules, tests, data, _revision(modules, data))


def _deep_merge(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    # Objects merge key by key; anything else from a later file replaces the earlier value, so a
    # deployment file (e.g. data/zz-site.json) can add classified names or override a purpose.
    for key, value in other.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = json.loads(json.dumps(value))  # a private copy


def _revision(modules: Mapping[str, str], data: Mapping[str, Any]) -> str:
    canonical = json.dumps(
        {"modules": sorted(modules.items()), "data": data},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
