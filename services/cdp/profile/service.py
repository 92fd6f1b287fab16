"""The profile service, declared: follows the collector and identity, keeps the profiles read model."""

from __future__ import annotations

from cdp.api.profile.v1 import profile_pb2, profile_pb2_grpc
from cdp.platform.auth import current_caller
from cdp.platform.personal import subject_of_call
from cdp.platform.readmodel import Projection, open_engine
from cdp.platform.service import Declaration, Follow, Runtime, Servicer, full_name
from cdp.profile import projections
from cdp.profile.adapters import IdentityResolver
from cdp.profile.application import COLLECTOR_TOPICS, IDENTITY_TOPICS, PUBLISHED, ProfileApp
from cdp.profile.servicer import ProfileServicer


def declare(runtime: Runtime) -> Declaration:
    app = ProfileApp(runtime.uow, IdentityResolver(runtime.channel("identity")))
    engine = open_engine(runtime.config.store, "profile")
    projection = Projection("profiles", runtime.store, engine, projections.metadata, projections.apply, PUBLISHED)
    projection.catch_up()
    servicer = ProfileServicer(
        app, projections.ProfileQueries(engine), runtime.vault, lambda: current_caller().pii_clear, runtime.access
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
        tasks={"project-profiles": projection.run},
        on_stop=[engine.dispose],
    )
