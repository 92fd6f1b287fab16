"""Why a delivery carries what it does, from what activation recorded: the delivery's scheduled
event (its cause, the sync and audience versions, the consent and approval it was decided with)
and its sync's events (the approval state it was sent under). Names and ids only, never values."""

from __future__ import annotations

import uuid

import orjson

from cdp.activation.application import NESTED, SEALED, ActivationApp, as_proto
from cdp.api.activation.v1 import activation_pb2 as pb
from cdp.platform.errors import InvalidArgument, NotFound
from cdp.platform.published import decode


def _uuid(delivery_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(delivery_id)
    except ValueError:
        raise InvalidArgument("delivery_id", "a delivery id (a UUID), as ListDeliveries gives it") from None


def explain_delivery(app: ActivationApp, delivery_id: str) -> pb.ExplainDeliveryResponse:
    if not delivery_id:
        raise InvalidArgument("delivery_id", "give the delivery's id")
    originator = _uuid(delivery_id)
    delivery = app.deliveries.get(str(originator))
    scheduled = next(
        (
            message
            for event in app.store.events_of(originator)
            if isinstance(message := decode(event.topic, event.state), pb.DeliveryScheduled)
        ),
        None,
    )
    if delivery is None or scheduled is None:
        raise NotFound(f"delivery_id: no delivery {delivery_id}")
    answer = pb.ExplainDeliveryResponse(
        delivery=as_proto(delivery),
        recorded=bool(scheduled.cause),
        cause=scheduled.cause,
        sync_version=scheduled.sync_version,
        audience_version=scheduled.audience_version,
        consent=scheduled.consent,
    )
    if scheduled.HasField("membership"):
        answer.membership.CopyFrom(scheduled.membership)
    if scheduled.destination_id in app.destinations:
        answer.destination.CopyFrom(app.destinations[scheduled.destination_id])
    sync = app.syncs.get(scheduled.sync_id)
    if sync is not None:
        answer.sync.CopyFrom(sync)
        approval = approval_of(app, scheduled)
        if approval is not None:
            answer.approval.CopyFrom(approval)
    sent, constants = carried(scheduled, sync)
    answer.sent.extend(sent)
    answer.constants.extend(constants)
    return answer


def approval_of(app: ActivationApp, scheduled: pb.DeliveryScheduled) -> pb.SyncApprovalChanged | None:
    """The approval state the delivery was scheduled under: the change that recorded its decision."""
    if not scheduled.approval_decision_id:
        return None
    found = None
    for event in app.store.events_of(uuid.UUID(scheduled.sync_id)):
        message = decode(event.topic, event.state)
        if isinstance(message, pb.SyncApprovalChanged) and message.decision_id == scheduled.approval_decision_id:
            found = message  # the latest that recorded it
    return found


def carried(scheduled: pb.DeliveryScheduled, sync: pb.Sync | None) -> tuple[list[pb.SentField], list[str]]:
    """The traits a delivery's payload carried (by trait and destination name) and its constants."""
    body = orjson.loads(scheduled.payload) if scheduled.payload else {}
    traits = body.get("traits") or {}
    constants = set(sync.mapping.constants) if sync is not None else set()
    renamed = {f.to or f.trait: f.trait for f in sync.mapping.fields} if sync is not None else {}
    sent = []
    for name, value in traits.items():
        if name in constants:
            continue
        sealed = isinstance(value, dict) and (SEALED in value or NESTED in value)
        trait = value.get("trait", name) if sealed else renamed.get(name, name)
        sent.append(pb.SentField(trait=str(trait), name=name))
    return sent, sorted(n for n in traits if n in constants)
