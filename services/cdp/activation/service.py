"""The activation service, declared: follows segment, delivers to destinations."""

from __future__ import annotations

from cdp.activation.adapters import AudienceDirectory, ProfileReader, WebhookSender
from cdp.activation.application import SEGMENT_TOPICS, ActivationApp
from cdp.activation.servicer import ActivationServicer
from cdp.activation.webhook import DeliveryWorker
from cdp.api.activation.v1 import activation_pb2, activation_pb2_grpc
from cdp.platform.service import Declaration, Follow, Runtime, Servicer, full_name


def declare(runtime: Runtime) -> Declaration:
    segment = runtime.upstream("segment", SEGMENT_TOPICS)
    app = ActivationApp(
        runtime.uow,
        segment,
        ProfileReader(runtime.channel("profile")),
        AudienceDirectory(runtime.channel("segment")),
        runtime.vault,
        access=runtime.access,
    )
    sender = WebhookSender()
    worker = DeliveryWorker(app, sender)
    return Declaration(
        servicers=[
            Servicer(
                activation_pb2_grpc.add_ActivationServiceServicer_to_server,
                ActivationServicer(app),
                full_name(activation_pb2, "ActivationService"),
            )
        ],
        follows=[Follow(segment, app.handle_memberships, key=lambda n: n.originator_id)],
        tasks={"deliver": worker.run},
        on_stop=[sender.close],
    )
