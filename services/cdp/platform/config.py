"""Service configuration: read once, from the environment and command-line flags.

Every setting has an environment variable (CDP_*) and a flag; a flag wins. The
embedded defaults run everything on one machine: SQLite files in a data
directory, the embedded policy engine, services on loopback ports.

Directories, which a deployment keeps apart:
- the data directory: SQLite stores and read models (unused on PostgreSQL);
- the credentials directory: tls/ and tokens/, only read when they are all there (a read-only
  secret mount); default: the data directory;
- the state directory: what a service writes beside its store (its decision-log witness);
  default: the data directory;
- the key directory: the master key (unless CDP_MASTER_KEY or --master-key-file says otherwise)
  and the key-encryption keys (cdp.platform.keystore); never inside the data directory, by
  default <data dir>-keys beside it.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path

SERVICES = ("collector", "identity", "profile", "segment", "activation")
DEFAULT_PORTS = {"collector": 50051, "identity": 50052, "profile": 50053, "segment": 50054, "activation": 50055}
DEFAULT_HTTP_PORT = 8088
# Each service's plain-HTTP port (/healthz, /readyz, /metrics) as `cdp up` starts them.
DEFAULT_PROBE_PORTS = {"collector": 9151, "identity": 9152, "profile": 9153, "segment": 9154, "activation": 9155}
REPO_POLICIES = Path(__file__).resolve().parents[3] / "policies"
MASTER_KEY_FILE = "master.key"


def default_key_dir(data_dir: str | Path) -> Path:
    """<data dir>-keys: beside the data directory, never in it (a copy of the data directory
    takes no key with it), and found the same way by every process of one install."""
    resolved = Path(data_dir).absolute()
    return resolved.with_name(resolved.name + "-keys")


@dataclass(frozen=True)
class StoreConfig:
    kind: str = "sqlite"  # sqlite | postgres
    data_dir: Path = Path(".cdp")
    postgres_dsn: str = ""  # e.g. postgresql://postgres@127.0.0.1:5432/cdp
    schema_prefix: str = "cdp_"
    key_dir: Path | None = None  # the KEKs (and master.key); None = <data_dir>-keys
    master_key_file: Path | None = None  # None = <key dir>/master.key

    @property
    def key_path(self) -> Path:
        return self.key_dir if self.key_dir is not None else default_key_dir(self.data_dir)

    @property
    def master_key_path(self) -> Path:
        return self.master_key_file if self.master_key_file is not None else self.key_path / MASTER_KEY_FILE


@dataclass(frozen=True)
class ServiceConfig:
    service: str
    host: str = "127.0.0.1"
    port: int = 0
    store: StoreConfig = field(default_factory=StoreConfig)
    policies_dir: Path = REPO_POLICIES
    policy_engine: str = "embedded"  # embedded | opa
    opa_url: str = ""
    peers: dict[str, str] = field(default_factory=dict)  # service -> host:port
    http_port: int = 0  # collector's HTTP tracking API; 0 = off
    probe_port: int = 0  # plain-HTTP /healthz and /readyz; 0 = off
    credentials_dir: Path | None = None  # tls/, tokens/; None = the data dir
    state_dir: Path | None = None  # the decision-log witness; None = the data dir
    key_rotation_interval_s: float = 86400.0  # identity re-wraps every data key under a new KEK this often; 0 = off

    def __post_init__(self) -> None:
        if self.credentials_dir is None:
            object.__setattr__(self, "credentials_dir", self.store.data_dir)
        if self.state_dir is None:
            object.__setattr__(self, "state_dir", self.store.data_dir)

    @property
    def credentials_path(self) -> Path:
        """credentials_dir as __post_init__ resolved it (the data dir unless given)."""
        assert self.credentials_dir is not None
        return self.credentials_dir

    @property
    def state_path(self) -> Path:
        """state_dir as __post_init__ resolved it (the data dir unless given)."""
        assert self.state_dir is not None
        return self.state_dir

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def peer(self, service: str) -> str:
        try:
            return self.peers[service]
        except KeyError:
            raise SystemExit(
                f"{self.service}: no address for {service} (set --{service}-addr or CDP_{service.upper()}_ADDR)"
            ) from None


def _env(name: str, default: str = "") -> str:
    return os.environ.get(f"CDP_{name}", default)


def parser(service: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"cdp-{service}", description=f"The {service} service.")
    p.add_argument("--host", default=_env("HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(_env(f"{service.upper()}_PORT", str(DEFAULT_PORTS[service]))))
    p.add_argument("--data-dir", default=_env("DATA_DIR", ".cdp"))
    p.add_argument("--credentials-dir", default=_env("CREDENTIALS_DIR"), help="default: the data dir")
    p.add_argument("--state-dir", default=_env("STATE_DIR"), help="default: the data dir")
    p.add_argument("--key-dir", default=_env("KEY_DIR"), help="default: <data dir>-keys")
    p.add_argument("--master-key-file", default=_env("MASTER_KEY_FILE"), help="default: <key dir>/master.key")
    p.add_argument(
        "--key-rotation-interval",
        type=float,
        default=float(_env("KEY_ROTATION_INTERVAL", "86400")),
        help="seconds between scheduled key rotations (identity runs them); 0 = only after a forget",
    )
    p.add_argument("--store", choices=["sqlite", "postgres"], default=_env("STORE", "sqlite"))
    p.add_argument("--postgres-dsn", default=_env("POSTGRES_DSN"))
    p.add_argument("--schema-prefix", default=_env("SCHEMA_PREFIX", "cdp_"))
    p.add_argument("--policies", default=_env("POLICIES", str(REPO_POLICIES)))
    p.add_argument("--policy-engine", choices=["embedded", "opa"], default=_env("POLICY_ENGINE", "embedded"))
    p.add_argument("--opa-url", default=_env("OPA_URL"))
    p.add_argument("--http-port", type=int, default=int(_env("HTTP_PORT", "0")))
    p.add_argument(
        "--probe-port", type=int, default=int(_env("PROBE_PORT", "0")), help="/healthz, /readyz, /metrics; 0 = off"
    )
    for peer in SERVICES:
        if peer != service:
            default = _env(f"{peer.upper()}_ADDR", f"127.0.0.1:{DEFAULT_PORTS[peer]}")
            p.add_argument(f"--{peer}-addr", default=default)
    return p


def load(service: str, argv: list[str] | None = None) -> ServiceConfig:
    args = parser(service).parse_args(argv)
    peers = {s: getattr(args, f"{s}_addr") for s in SERVICES if s != service}
    return ServiceConfig(
        service=service,
        host=args.host,
        port=args.port,
        store=StoreConfig(
            kind=args.store,
            data_dir=Path(args.data_dir),
            postgres_dsn=args.postgres_dsn,
            schema_prefix=args.schema_prefix,
            key_dir=Path(args.key_dir) if args.key_dir else None,
            master_key_file=Path(args.master_key_file) if args.master_key_file else None,
        ),
        policies_dir=Path(args.policies),
        policy_engine=args.policy_engine,
        opa_url=args.opa_url,
        peers=peers,
        http_port=args.http_port,
        probe_port=args.probe_port,
        credentials_dir=Path(args.credentials_dir) if args.credentials_dir else None,
        state_dir=Path(args.state_dir) if args.state_dir else None,
        key_rotation_interval_s=args.key_rotation_interval,
    )
