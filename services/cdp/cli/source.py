"""`cdp source`: sources and their write keys."""

from __future__ import annotations

import click

from cdp.api.collector.v1 import collector_pb2, collector_pb2_grpc
from cdp.cli.client import call, channel


@click.group()
def source() -> None:
    """Sources that send events, each with a write key."""


@source.command("create")
@click.argument("name")
@click.option("--client-side", is_flag=True, help="Events come from browsers or apps (default: server-side).")
def create(name: str, client_side: bool) -> None:
    stub = collector_pb2_grpc.CollectorServiceStub(channel("collector"))
    created = call(stub.CreateSource, collector_pb2.CreateSourceRequest(name=name, server_side=not client_side)).source
    click.echo(f"{created.source_id}  {created.name}  write key: {created.write_key}")


@source.command("list")
def list_() -> None:
    stub = collector_pb2_grpc.CollectorServiceStub(channel("collector"))
    for s in call(stub.ListSources, collector_pb2.ListSourcesRequest()).sources:
        side = "server-side" if s.server_side else "client-side"
        plan = f"  plan {s.plan_name} ({s.plan_mode})" if s.plan_name else ""
        click.echo(
            f"{s.source_id}  {s.name:<20} {side:<12} {'disabled' if s.disabled else 'enabled'}  {s.write_key}{plan}"
        )


@source.command("disable")
@click.argument("name")
def disable(name: str) -> None:
    """Refuse the source's write key from now on (401 over HTTP, UNAUTHENTICATED over gRPC)."""
    stub = collector_pb2_grpc.CollectorServiceStub(channel("collector"))
    disabled = call(stub.DisableSource, collector_pb2.DisableSourceRequest(name=name)).source
    click.echo(f"{disabled.name} disabled")
