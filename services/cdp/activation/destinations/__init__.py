"""Destination kinds: each sends batches of messages to one outside system and says, per message,
what happened, so the delivery queue can decide to retry, dead-letter or disable.

A kind is a class implementing `Destination` (port.py), one module each: webhook, postgres_table,
rabbitmq, nats_jetstream, redis_stream, file_export. registry.py names them (KINDS), says which
configuration fields are credentials (SECRET_FIELDS), refuses a bad configuration naming the field
and the rule (check_config) and builds one (open_destination). guard.py is the egress guard: the
hosts a destination may point at (check_address, when it is made) and the addresses it may reach
(refuse_local, at every connection).
"""

from cdp.activation.destinations.port import Destination, Message, Outcome

__all__ = ["Destination", "Message", "Outcome"]
