"""Candidate policy directories for tests: the repository's policies with some data changed."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cdp.platform.config import REPO_POLICIES


def with_identity_data(target: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the repository's policies at target, with cdp.identity's data changed in place."""
    shutil.copytree(REPO_POLICIES, target)
    data_file = target / "data" / "identity.json"
    data = json.loads(data_file.read_text())
    change(data["cdp"]["identity"])
    data_file.write_text(json.dumps(data))
    return target
