"""The profile service, declared: follows the collector and identity, keeps the profiles read model."""

from __future__ import annotations

from cdp.api.profile.v1 import profile_pb2, profile_pb2_grpc
from cdp.client.resolver import IdentityResolver
from cdp.platform.auth import current_caller
from cdp.platform.personal import subject_of_call
from cdp.platform.readmodel import Projection, open_engine
from cdp.platform.service import Declaration, Follow, Runtime, Servicer, full_name
from cdp.platform.vault import load_master_key
from cdp.profile import accounts, projections, search, timeline
from cdp.profile.application import COLLECTOR_TOPICS, IDENTITY_TOPICS, PUBLISHED, ProfileApp
from cdp.profile.servicer import ProfileServicer


def declare(runtime: Runtime) -> Declaration:
    app = ProfileApp(
        runtime.uow, IdentityResolver(runtime.channel("identity")), vault=runtime.vault, snapshots=runtime.snapshots
    )
    index_key = load_master_key(runtime.config.store)  # the blind index of personal traits searched
    engine = open_engine(runtime.config.store, "profile")
    projection = Projection("profiles", runtime.store, engine, projections.metadata, projections.apply, PUBLISHED)
    account_projection = Projection(
        "accounts", runtime.store, engine, accounts.metadata, accounts.apply, accounts.TOPICS
    )
    timeline_projection = Projection(
        "timeline", runtime.store, engine, timeline.metadata, timeline.apply, timeline.TOPICS
    )
    search.upgrade_indexes(engine)
    search_model = search.SearchModel(runtime.vault, index_key)
    search_projection = Projection("search", runtime.store, engine, search.metadata, search_model.apply, search.TOPICS)
    read_models = (projection, account_projection, timeline_projection, search_projection)
    for each in read_models:
        each.catch_up()

    async def fresh() -> None:
        for each in read_models:
            await each.fresh()

    servicer = ProfileServicer(
        app,
        projections.ProfileQueries(engine),
        runtime.vault,
        lambda: current_caller().pii_clear,
        runtime.access,
        accounts.AccountQueries(engine),
        timeline.TimelineQueries(engine),
        search.SearchQueries(engine, index_key),
        fresh=fresh,
    )
    return Declaration(
        servicers=[
            Servicer(
                profile_pb2_grpc.add_ProfileServiceServicer_to_server,
                servicer,
                full_name(profile_pb2, "ProfileService"),
            )
        ],
        follows=[
            # Each batch asks identity once (a round trip): at a low rate, gather a few more calls.
            Follow(
                runtime.upstream("collector", COLLECTOR_TOPICS),
                app.handle_collected,
                key=subject_of_call,
                linger_ms=10,
            ),
            Follow(runtime.upstream("identity", IDENTITY_TOPICS), app.handle_identity),
        ],
        tasks={
            "project-profiles": projection.run,
            "project-accounts": account_projection.run,
            "project-timeline": timeline_projection.run,
            "project-search": search_projection.run,
            "computed-timers": app.run_timers,
            "warm-state": app.warm,
        },
        on_stop=[engine.dispose],
    )
