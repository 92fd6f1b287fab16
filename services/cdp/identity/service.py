"""The identity service, declared: follows the collector, serves Identity, rotates the key-encryption key."""

from __future__ import annotations

from cdp.api.identity.v1 import identity_pb2, identity_pb2_grpc
from cdp.identity.application import TOPICS_FOLLOWED, UPSTREAM, IdentityApp
from cdp.identity.servicer import IdentityServicer
from cdp.platform.personal import subject_of_call
from cdp.platform.rotation import KeyRotator
from cdp.platform.service import Declaration, Follow, Runtime, Servicer, full_name
from cdp.platform.vault import load_master_key

LINGER_MS = 10  # each batch pays a key transaction or two: at a low rate, gather a few more calls


def declare(runtime: Runtime) -> Declaration:
    collector = runtime.upstream(UPSTREAM, TOPICS_FOLLOWED)
    master_key = load_master_key(runtime.config.store)
    app = IdentityApp(runtime.uow, runtime.vault, master_key, collector, snapshots=runtime.snapshots)
    # Identity forgets people, so it rotates: soon after each forget, and on the schedule.
    runtime.vault.first_kek()  # made here, where the key directory is writable, before others need it
    rotator = KeyRotator(runtime.vault, runtime.config.key_rotation_interval_s)
    runtime.vault.on_destroy.append(rotator.request)
    return Declaration(
        servicers=[
            Servicer(
                identity_pb2_grpc.add_IdentityServiceServicer_to_server,
                IdentityServicer(app, runtime.access),
                full_name(identity_pb2, "IdentityService"),
            )
        ],
        follows=[Follow(collector, app.handle, key=subject_of_call, linger_ms=LINGER_MS)],
        tasks={"rotate-keys": rotator.run, "warm-state": app.warm},
    )
