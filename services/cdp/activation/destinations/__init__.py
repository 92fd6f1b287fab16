"""Destination kinds: each sends batches of messages to one outside system and says, per message,
what happened, so the delivery queue can decide to retry, dead-letter or disable.

A kind is a class implementing `Destination`; `open_destination(kind, config, secrets)` builds one
and `check_config(kind, config)` refuses a bad configuration naming the field and the rule.
"""

from cdp.activation.destinations.port import Destination, Message, Outcome

__all__ = ["Destination", "Message", "Outcome"]
