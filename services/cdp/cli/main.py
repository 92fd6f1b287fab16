"""The `cdp` command."""

from __future__ import annotations

import click

from cdp.cli import (
    account,
    anomalies,
    audience,
    audit,
    bench,
    catalog,
    cert,
    destination,
    forget,
    identity,
    importer,
    keys,
    lineage,
    ops,
    plan,
    profile,
    quarantine,
    send,
    source,
    sync,
    token,
    trait,
    up,
    violations,
    warehouse,
    webhook,
)
from cdp.platform.files import private_umask


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """An event-sourced, policy-governed customer data platform."""
    private_umask()  # credentials, tokens and the write key the CLI writes are its user's alone


main.add_command(up.up)
main.add_command(send.send)
main.add_command(importer.import_csv)
main.add_command(source.source)
main.add_command(plan.plan)
main.add_command(quarantine.quarantine)
main.add_command(violations.violations)
main.add_command(catalog.catalog)
main.add_command(anomalies.anomalies)
main.add_command(profile.profile)
main.add_command(account.account)
main.add_command(audience.audience)
main.add_command(trait.trait)
main.add_command(destination.destination)
main.add_command(sync.sync)
main.add_command(webhook.webhook)
main.add_command(identity.identity)
main.add_command(forget.forget)
main.add_command(keys.keys)
main.add_command(audit.audit)
main.add_command(lineage.lineage)
main.add_command(token.token)
main.add_command(cert.cert)
main.add_command(bench.bench)
main.add_command(ops.status)
main.add_command(ops.parked)
main.add_command(warehouse.warehouse)


if __name__ == "__main__":
    main()
