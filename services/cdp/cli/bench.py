"""`cdp bench`: throughput and freshness, measured on this machine."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import click

from cdp.bench.report import Table


def _measure(run, settings):
    """Run a benchmark; a failure of the platform is a clean error that says where to look."""
    from cdp.client import CdpError

    try:
        return run(settings, progress=_echo_err)
    except CdpError as error:
        code, details = getattr(error, "code", type(error).__name__), getattr(error, "details", str(error))
        raise click.ClickException(f"a call failed: {code}: {details}") from None
    except (RuntimeError, TimeoutError) as error:
        raise click.ClickException(str(error)) from None


def _echo_err(message: str) -> None:
    click.echo(message, err=True)


def _json(result: dict) -> str:
    def clean(value):
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(result), indent=2)


def _made_dir(ctx, param, value: Path | None) -> Path | None:
    if value is not None:
        value.mkdir(parents=True, exist_ok=True)
    return value


def data_dir_option():
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        callback=_made_dir,
        help="Where to run (created if missing; default: the system temp dir).",
    )


@click.group()
def bench() -> None:
    """Benchmarks: ingest, the whole pipeline, policy decisions, key rotation, destinations."""


@bench.command("ingest")
@click.option("--events", default=100_000, show_default=True, help="Events a run.")
@click.option("--batch", default=100, show_default=True, help="Events an Ingest call (and a raw append transaction).")
@click.option("--clients", default=16, show_default=True, help="Concurrent clients, each on its own connection.")
@click.option("--repeat", default=3, show_default=True, help="Runs of each measurement; the median is reported.")
@data_dir_option()
@click.option("--keep", is_flag=True, help="Keep the stores and the service logs afterwards.")
@click.option("--http", is_flag=True, help="Also through the Segment-compatible HTTP API, beside gRPC.")
@click.option(
    "--collector-processes",
    type=click.IntRange(min=1),
    default=os.cpu_count() or 1,
    show_default="the number of cores",
    help="Collector processes sharing its ports and store.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def ingest(events, batch, clients, repeat, data_dir, keep, http, collector_processes, as_json):
    """Raw event-store appends, then acknowledged, durable ingest through the collector."""
    from cdp.bench.ingest import IngestSettings, run

    if events < 1 or batch < 1 or clients < 1 or repeat < 1:
        raise click.UsageError("--events, --batch, --clients and --repeat must be at least 1")
    result = _measure(run, IngestSettings(events, batch, clients, repeat, data_dir, keep, http, collector_processes))
    if as_json:
        click.echo(_json(result))
        return
    table = Table(["metric", "median", "min", "max", "unit"])
    for key, label in (
        ("raw_append_events_per_s", "raw event-store append"),
        ("ingest_events_per_s", "ingest over gRPC, acknowledged and durable"),
        ("http_ingest_events_per_s", "ingest over HTTP (/v1/batch), acknowledged and durable"),
    ):
        if key not in result:
            continue
        s = result[key]
        table.add(label, s["median"], s["min"], s["max"], "events/s")
    cpu = [r["cpu_percent"]["collector"] for r in result["runs"]]
    label = f"collector CPU while ingesting ({collector_processes} processes)"
    table.add(label, sorted(cpu)[len(cpu) // 2], min(cpu), max(cpu), "% of a core")
    r = result["ratio"]
    table.add("ratio ingest / raw append", r["of_medians"], r["min"], r["max"], "x")
    if "http_over_grpc" in result:
        table.add("ratio HTTP / gRPC ingest (medians)", result["http_over_grpc"], "", "", "x")
    click.echo(f"cdp bench ingest: {events} events, batches of {batch}, {clients} clients, {repeat} run(s)")
    click.echo(table.render())


@bench.command("pipeline")
@click.option("--events", default=20_000, show_default=True, help="Events of the throughput phase.")
@click.option("--rate", default=1000.0, show_default=True, help="Events/s of the freshness phase.")
@click.option("--batch", default=100, show_default=True, help="Events an Ingest call, at most.")
@click.option("--clients", default=4, show_default=True, help="Concurrent clients of the throughput phase.")
@click.option(
    "--freshness-seconds", default=10.0, show_default=True, help="Length of the freshness phase (0: skip it)."
)
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for the pipeline to drain.")
@data_dir_option()
@click.option("--keep", is_flag=True, help="Keep the stores and the service logs afterwards.")
@click.option(
    "--neighbour/--no-neighbour",
    default=True,
    show_default=True,
    help="Measure freshness again beside another platform's ingest bench on the same cores.",
)
@click.option("--store", type=click.Choice(["sqlite", "postgres"]), default="sqlite", show_default=True)
@click.option(
    "--postgres-dsn",
    default="",
    envvar="CDP_POSTGRES_DSN",
    help="With --store postgres: the server (the run uses schemas of its own, dropped afterwards).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def pipeline(
    events, rate, batch, clients, freshness_seconds, timeout, data_dir, keep, neighbour, store, postgres_dsn, as_json
):
    """The whole platform: ingest to audience membership to webhook, throughput and freshness."""
    from cdp.bench.pipeline import PipelineSettings, run

    if events < 1 or batch < 1 or clients < 1:
        raise click.UsageError("--events, --batch and --clients must be at least 1")
    if store == "postgres" and not postgres_dsn:
        raise click.UsageError("--store postgres needs --postgres-dsn (or CDP_POSTGRES_DSN)")
    settings = PipelineSettings(
        events, rate, batch, clients, freshness_seconds, timeout, data_dir, keep, neighbour, store, postgres_dsn
    )
    result = _measure(run, settings)
    if as_json:
        click.echo(_json(result))
        return
    t = result["throughput"]
    table = Table(["metric", "value", "unit"])
    table.add("ingest, acknowledged", t["ingest_events_per_s"], "events/s")
    table.add("pipeline, first send to last webhook", t["pipeline_events_per_s"], "events/s")
    table.add("all members in segment's log after", t["segment_seconds"], "s")
    table.add("last webhook after", t["pipeline_seconds"], "s")
    table.add("drain after ingest stopped", t["drain_seconds"], "s")
    for edge, lag in t["lag_max"].items():
        table.add(f"max lag {edge}", lag, "events")
    table.add("followers' backlog when ingest stopped", sum(t["lag_at_ingest_end"].values()), "events")
    f = result["freshness"]
    if f:
        table.add("freshness sent rate", f["sent_rate"], "events/s")
        table.add("freshness delivered", f"{f['delivered']}/{f['sent']}", "webhooks")
        for p in ("p50", "p90", "p99", "max"):
            table.add(f"freshness {p}, event in to webhook out", f["latency_ms"][p], "ms")
        for stage, figures in f.get("stages_ms", {}).items():
            table.add(f"  {stage} written after (p50 / p99)", f"{figures['p50']:.0f} / {figures['p99']:.0f}", "ms")
        for edge, lag in f["lag_max"].items():
            table.add(f"freshness max lag {edge}", lag, "events")
    n = result.get("freshness_beside_neighbour") or {}
    if n:
        lasted = "" if n["neighbour_sent_throughout"] else " (the neighbour finished early)"
        table.add(f"beside a neighbour{lasted}: delivered", f"{n['delivered']}/{n['sent']}", "webhooks")
        for p in ("p50", "p99"):
            table.add(f"beside a neighbour: freshness {p}", n["latency_ms"][p], "ms")
    for name, percent in t["cpu_percent"].items():
        fresh = f"{f['cpu_percent'][name]:.0f}" if f else "-"
        table.add(f"CPU {name}, throughput / freshness", f"{percent:.0f} / {fresh}", "% of a core")
    for name, micros in ((f or {}).get("cpu_us_per_event") or {}).items():
        table.add(f"CPU {name} an event, freshness", f"{micros:,.0f}", "µs")
    for name, rss in t["rss_mb"].items():
        table.add(f"RSS {name} after the throughput phase (peak)", f"{rss:.0f} ({t['peak_rss_mb'][name]:.0f})", "MiB")
    stored = sum(t["store_mb"].values())
    table.add("stores on disk after the throughput phase", f"{stored:.0f}", "MiB")
    table.add("  per million events sent", f"{stored / events * 1e6:.0f}", "MiB")
    for name, size in t["store_mb"].items():
        table.add(f"  {name}", f"{size:.1f}", "MiB")
    w = result["webhook"]
    table.add("webhook posts (repeated deliveries)", f"{w['posts']} ({w['repeated_deliveries']})", "")
    table.add("entered payloads without the plan trait", w["entered_without_plan_trait"], "")
    click.echo(
        f"cdp bench pipeline: {events} events for {t['persons']} persons ({t['members']} join the audience), "
        f"batches of {batch}, {clients} clients, on {store}"
    )
    click.echo(table.render())


@bench.command("policy")
@click.option("--decisions", default=20_000, show_default=True, help="Distinct decisions a run (each recorded).")
@click.option("--hits", default=200_000, show_default=True, help="Cache hits a run.")
@click.option("--repeat", default=3, show_default=True, help="Runs; the median is reported.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def policy(decisions, hits, repeat, as_json):
    """Decision cost with the decision log on (miss, hit) beside raw regorus, and replay rate."""
    from cdp.bench.policy import PolicySettings, run

    if decisions < 1 or hits < 10 or repeat < 1:
        raise click.UsageError("--decisions and --repeat must be at least 1, --hits at least 10")
    result = run(PolicySettings(decisions, hits, repeat), log=_echo_err)
    if as_json:
        click.echo(_json(result))
        return
    table = Table(["metric", "median", "min", "max", "unit"])
    for key, label, unit in (
        ("raw_us", "raw regorus evaluation (egress)", "µs"),
        ("miss_us", "decision, cache miss, recorded in the log", "µs"),
        ("miss_commit_us", "  of which appending and committing", "µs"),
        ("hit_keyed_us", "decision, cache hit (hot-path key)", "µs"),
        ("hit_canonical_us", "decision, cache hit (keyed by input JSON)", "µs"),
        ("replay_1_per_s", "replay, one process", "decisions/s"),
        ("replay_2_per_s", "replay, every core", "decisions/s"),
        ("miss_over_raw", "miss / raw, each run's own", "x"),
        ("miss_cpu_over_raw", "  the same in CPU time (no waits)", "x"),
        ("load_1m", "load average (1 min) at each run's end", ""),
    ):
        s = result[key]
        table.add(label, s["median"], s["min"], s["max"], unit)
    click.echo(f"cdp bench policy: {decisions} distinct decisions, {hits} hits, {repeat} run(s)")
    click.echo(table.render())


@bench.command("keys")
@click.option("--keys", "counts", multiple=True, type=int, default=(10_000, 100_000), show_default=True)
@click.option(
    "--store",
    "stores",
    multiple=True,
    type=click.Choice(["sqlite", "postgres"]),
    default=("sqlite",),
    show_default=True,
)
@click.option("--postgres-dsn", default="", envvar="CDP_POSTGRES_DSN", help="With --store postgres.")
@click.option("--batch", default=1000, show_default=True, help="Data keys re-wrapped a transaction.")
@click.option("--repeat", default=3, show_default=True, help="Rotations timed; the median is reported.")
@data_dir_option()
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def keys(counts, stores, postgres_dsn, batch, repeat, data_dir, as_json):
    """`cdp keys rotate` timed: re-wrapping every live data key under a new KEK."""
    from cdp.bench.keys import KeysSettings, run

    if any(c < 1 for c in counts) or batch < 1 or repeat < 1:
        raise click.UsageError("--keys, --batch and --repeat must be at least 1")
    if "postgres" in stores and not postgres_dsn:
        raise click.UsageError("--store postgres needs --postgres-dsn (or CDP_POSTGRES_DSN)")
    result = run(KeysSettings(tuple(counts), tuple(stores), postgres_dsn, repeat, batch, data_dir), log=_echo_err)
    if as_json:
        click.echo(_json(result))
        return
    table = Table(["store", "live keys", "rotation median", "min", "max", "keys/s"])
    for r in result["results"]:
        s = r["rotate_seconds"]
        table.add(
            r["store"], r["keys"], f"{s['median']:.2f} s", f"{s['min']:.2f} s", f"{s['max']:.2f} s", r["keys_per_s"]
        )
    click.echo(f"cdp bench keys: batches of {batch}, {repeat} rotation(s) each")
    click.echo(table.render())


@bench.command("identity")
@click.option("--held", default=100_000, show_default=True, help="Records held while timing incremental matching.")
@data_dir_option()
@click.option("--keep", is_flag=True, help="Keep the platform's directory afterwards.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def identity(held, data_dir, keep, as_json):
    """FEBRL4 linked through cdp import and the platform, beside Splink; incremental matching latency."""
    from cdp.bench.identity import run_identity_bench

    result = run_identity_bench(out=_echo_err if as_json else click.echo, held=held, data_dir=data_dir, keep=keep)
    if as_json:
        click.echo(_json(result))


@bench.command("matching")
@click.option("--repeat", default=3, show_default=True, help="Runs of the FEBRL4 timings; the median is reported.")
@click.option("--held", default=100_000, show_default=True, help="Records held while timing incremental add().")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def matching(repeat, held, as_json):
    """The identity record matcher against Splink on FEBRL4 and weak identifiers, and add() latency."""
    from cdp.bench.identity_matching import run_matching_bench

    if repeat < 1 or held < 1:
        raise click.UsageError("--repeat and --held must be at least 1")
    result = run_matching_bench(out=_echo_err if as_json else click.echo, repeat=repeat, held=held)
    if as_json:
        click.echo(_json(result))


@bench.command("audiences")
@click.option("--audiences", default=100, show_default=True, help="Audiences defined for the per-change cost.")
@click.option("--changes", default=2000, show_default=True, help="Profile changes measured.")
@click.option("--profiles", default=100_000, show_default=True, help="Profiles of the backfill.")
@click.option("--backfill-audiences", default=20, show_default=True, help="Audiences of the backfill.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def audiences(audiences, changes, profiles, backfill_audiences, as_json):
    """Audience evaluation per profile change (incremental and from scratch) and a backfill beside DuckDB."""
    from cdp.bench.audiences import AudienceSettings, run

    if audiences < 1 or changes < 1 or profiles < 1 or not 1 <= backfill_audiences <= audiences:
        raise click.UsageError("every count must be at least 1, and --backfill-audiences at most --audiences")
    result = run(AudienceSettings(audiences, changes, profiles, backfill_audiences))
    if as_json:
        click.echo(_json(result))
        return
    table = Table(["metric", "value", "unit"])
    for key, label, unit in (
        ("incremental_p50_us", "per change, incremental (indexed audiences), p50", "µs"),
        ("incremental_p99_us", "per change, incremental, p99", "µs"),
        ("scratch_p50_us", "per change, every audience from scratch, p50", "µs"),
        ("scratch_p99_us", "per change, from scratch, p99", "µs"),
        ("scratch_over_incremental", "from scratch / incremental (p50)", "x"),
        (
            "backfill_ours_s",
            f"backfill, {profiles} profiles x {backfill_audiences} audiences, segment's evaluator",
            "s",
        ),
        ("backfill_duckdb_s", "backfill, the same in DuckDB SQL", "s"),
        ("backfill_members", "backfill memberships", ""),
    ):
        table.add(label, result[key], unit)
    table.add("backfill answers equal", "yes" if result["backfill_equal"] else "NO", "")
    click.echo(f"cdp bench audiences: {audiences} audiences, {changes} changes")
    click.echo(table.render())
    if not result["backfill_equal"]:
        raise click.ClickException("segment's evaluator and DuckDB disagree on the backfill")


@bench.command("activation")
@click.option("--messages", default=2000, show_default=True, help="Deliveries a kind and batch size.")
@click.option("--batch", "batches", multiple=True, type=int, default=(1, 100), show_default=True)
@click.option("--kind", "kinds", multiple=True, help="Kinds to measure (default: all of them).")
@click.option("--postgres-dsn", default="postgresql://postgres@127.0.0.1:5432/test", show_default=True)
@click.option("--rabbitmq-url", default="amqp://127.0.0.1:5672/", show_default=True, help="As guest/guest.")
@click.option("--nats-url", default="nats://127.0.0.1:4222", show_default=True)
@click.option("--redis-url", default="redis://127.0.0.1:6379/0", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def activation(messages, batches, kinds, postgres_dsn, rabbitmq_url, nats_url, redis_url, as_json):
    """Each destination kind against its real server: deliveries/s and send() latency by batch size."""
    from cdp.bench.activation import ActivationSettings, kinds_of, run

    if messages < 1 or any(b < 1 for b in batches):
        raise click.UsageError("--messages and --batch must be at least 1")
    try:
        chosen = kinds_of(kinds)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    settings = ActivationSettings(messages, tuple(batches), chosen, postgres_dsn, rabbitmq_url, nats_url, redis_url)
    result = _measure(run, settings)
    if as_json:
        click.echo(_json(result))
        return
    table = Table(["kind", "batch", "deliveries/s", "send p50 ms", "send p99 ms"])
    for r in result["results"]:
        table.add(r["kind"], r["batch"], r["deliveries_per_s"], r["send_p50_ms"], r["send_p99_ms"])
    click.echo(f"cdp bench activation: {messages} deliveries a kind and batch size, sent one send() after another")
    click.echo(table.render())


@bench.command("restart")
@click.option(
    "--sizes",
    default="10000,100000",
    show_default=True,
    help="Stored events in each service's log, comma-separated (1000000 takes minutes to build and fold).",
)
@click.option(
    "--services",
    default="identity,profile,segment,activation",
    show_default=True,
    help="The services to restart, comma-separated.",
)
@click.option("--repeat", default=3, show_default=True, help="Starts timed per size and case; the median is reported.")
@click.option("--timeout", default=600.0, show_default=True, help="Seconds a start may take.")
@data_dir_option()
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def restart(sizes, services, repeat, timeout, data_dir, as_json):
    """Each service's start, by the size of its log, with and without a snapshot; memory per 100k persons."""
    from cdp.bench.restart import SERVICES, RestartSettings, run

    try:
        counts = tuple(int(s) for s in sizes.split(",") if s.strip())
    except ValueError:
        raise click.UsageError("--sizes: comma-separated event counts, e.g. 10000,100000") from None
    if not counts or any(c < 1 for c in counts) or repeat < 1:
        raise click.UsageError("--sizes and --repeat must be at least 1")
    chosen = tuple(s.strip() for s in services.split(",") if s.strip())
    unknown = [s for s in chosen if s not in SERVICES]
    if not chosen or unknown:
        raise click.UsageError(f"--services: some of {', '.join(SERVICES)}, comma-separated (not {unknown})")
    result = _measure(run, RestartSettings(counts, repeat, data_dir, timeout, chosen))
    if as_json:
        click.echo(_json(result))
        return
    columns = ["service", "events", "persons", "log built", "serving, no snapshot", "from a snapshot", "CPU", "state"]
    table = Table([*columns, "RSS at serving", "RSS warm"])
    for service, figures in result["services"].items():
        for r in figures["sizes"]:
            without, with_snapshot = r["without_snapshot"], r["with_snapshot"]
            case = with_snapshot or without
            state = f"{without['rebuild_s']:.2f} s"
            if with_snapshot:
                state += f" -> {with_snapshot['rebuild_s']:.2f} s"
            table.add(
                service,
                r["events"],
                r["persons"],
                f"{r['build_s']:.1f} s",
                f"{without['serving_s']:.2f} s",
                f"{with_snapshot['serving_s']:.2f} s" if with_snapshot else "no snapshots",
                f"{case['cpu_s']:.2f} s",
                state,
                f"{case['rss_mb']:.0f} MB",
                f"{case['warm_rss_mb']:.0f} MB",
            )
    click.echo(f"cdp bench restart: medians of {repeat} start(s), process start to SERVING")
    click.echo(table.render())
    click.echo("CPU: the process's CPU time by SERVING (from the snapshot where there is one)")
    click.echo("state: the rebuild inside the start, without -> with a snapshot (the rest is the process starting)")
    for service, figures in result["services"].items():
        memory = figures["rss_mb_per_100k_persons"]
        if math.isnan(memory["without_snapshot"]):
            click.echo(f"memory, {service}: per 100k persons needs two sizes (--sizes)")
            continue
        line = f"memory, {service}: {memory['without_snapshot']:.0f} MB per 100k persons folded from the log"
        if figures["snapshots"]:
            line += f", {memory['with_snapshot']:.0f} MB restored from a snapshot (warm)"
        click.echo(line)
