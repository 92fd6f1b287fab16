"""Generate the Python stubs in cdp/api from protos/ (run: python -m cdp.platform.protogen).

protoc names modules after the proto package (cdp.common.v1); the stubs live under
cdp.api, so the generated imports are rewritten to match. Nothing else is changed.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PROTOS = ROOT / "protos"
API = ROOT / "services" / "cdp" / "api"

_IMPORT = re.compile(r"^from cdp\.(\w+)\.v1 import", re.MULTILINE)


def generate(out: Path) -> None:
    """Write the stubs for every proto under protos/ into out (a cdp/api tree)."""
    import grpc_tools
    from grpc_tools import protoc

    protos = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    include = Path(grpc_tools.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "protoc",
            f"-I{PROTOS}",
            f"-I{include}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            *protos,
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        generated = Path(tmp) / "cdp"
        for path in sorted(generated.rglob("*")):
            if path.is_dir():
                continue
            target = out / path.relative_to(generated)
            target.parent.mkdir(parents=True, exist_ok=True)
            text = _IMPORT.sub(r"from cdp.api.\1.v1 import", path.read_text())
            target.write_text(text)
    for directory in [out, *[d for d in out.rglob("*") if d.is_dir()]]:
        if directory.name != "__pycache__":
            (directory / "__init__.py").touch()


def main() -> None:
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else API)


if __name__ == "__main__":
    main()
