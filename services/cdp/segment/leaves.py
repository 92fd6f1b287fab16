"""The leaves every condition tree is made of, and the error a bad definition raises.

A comparison (TraitCondition) is a trait's condition, or under an event's `where` a property's; its
value is decoded JSON, a Sealed literal (stored), or ERASED (its key destroyed); AccountTrait is the
same on an account's traits. EventCondition is
the first definitions' all-time count, read from the profile's event counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cdp.platform.errors import InvalidArgument

LEGACY_TRAIT_OPS = ("eq", "neq", "gt", "gte", "lt", "lte", "exists", "contains")
MAX_CONDITIONS = 50


@dataclass(frozen=True)
class Sealed:
    """A personal literal as stored: a vault token under its subject, opened only to evaluate."""

    subject: str
    token: str


class _Erased:
    def __repr__(self) -> str:
        return "ERASED"


ERASED = _Erased()  # a sealed literal whose key was destroyed: its condition holds for nobody


@dataclass(frozen=True)
class TraitCondition:
    trait: str
    op: str
    value: Any = None  # decoded JSON, a Sealed literal, or ERASED


@dataclass(frozen=True)
class AccountTrait(TraitCondition):
    """A trait of an account (its group calls' traits), with a trait condition's operators."""


@dataclass(frozen=True)
class EventCondition:
    event: str
    min_count: int


Condition = TraitCondition | EventCondition


class InvalidAudience(InvalidArgument):
    """A definition that breaks a rule; the message names the field."""
