"""The activation service, declared: follows segment (memberships) and profile (changed records
of upsert syncs' members), delivers to destinations through their queues."""

from __future__ import annotations

from cdp.activation.adapters import AudienceDirectory, ProfileReader, destination_opener, local_destinations_allowed
from cdp.activation.application import PROFILE_TOPICS, SEGMENT_TOPICS, ActivationApp
from cdp.activation.queues import DeliveryWorker, DestinationFactory
from cdp.activation.servicer import ActivationServicer
from cdp.api.activation.v1 import activation_pb2, activation_pb2_grpc
from cdp.platform.service import Declaration, Follow, Runtime, Servicer, full_name


def declare(runtime: Runtime, open_destination: DestinationFactory | None = None) -> Declaration:
    local = local_destinations_allowed()
    segment = runtime.upstream("segment", SEGMENT_TOPICS)
    profile = runtime.upstream("profile", PROFILE_TOPICS)
    app = ActivationApp(
        runtime.uow,
        segment,
        ProfileReader(runtime.channel("profile")),
        AudienceDirectory(runtime.channel("segment")),
        runtime.vault,
        access=runtime.access,
        allow_local=local,
        snapshots=runtime.snapshots,
    )
    worker = DeliveryWorker(app, open_destination or destination_opener(local))
    return Declaration(
        servicers=[
            Servicer(
                activation_pb2_grpc.add_ActivationServiceServicer_to_server,
                ActivationServicer(app),
                full_name(activation_pb2, "ActivationService"),
            )
        ],
        follows=[
            Follow(segment, app.handle_memberships, key=lambda n: n.originator_id),
            Follow(profile, app.handle_profiles, key=lambda n: n.originator_id),
        ],
        tasks={"deliver": worker.run, "warm-state": app.warm},
    )
