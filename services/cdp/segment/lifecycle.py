"""An audience's life after creation: its versions, its archive, previews, and who came and went.

Membership history is an index kept by apply() from segment's own MembershipEntered/Exited, so a
page of it is a slice of a list, never a scan of the log. Pages are given newest first; a page
token names the last change a page gave (its place in the log's order), so a page does not move
when changes come after it was read.
"""

from __future__ import annotations

import base64
import binascii
import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cdp.platform.errors import InvalidArgument
from cdp.segment.accounts import account_subject

ACTIVE, ARCHIVED = "active", "archived"
MAX_MEMBERS_PAGE = 10_000
DEFAULT_HISTORY_PAGE, MAX_HISTORY_PAGE = 100, 1000
DEFAULT_SAMPLE, MAX_SAMPLE = 10, 1000


@dataclass(frozen=True)
class Change:
    """One entry or exit, as segment's log holds it."""

    audience_id: str
    person_id: str
    entered: bool
    audience_version: int
    cause: str
    cause_event_id: str
    at: str
    account_id: str = ""  # an account-level audience's member (person_id is empty)

    @property
    def subject(self) -> str:
        """The member: a person id, or an account as account_subject() names it."""
        return account_subject(self.account_id) if self.account_id else self.person_id


class MembershipHistory:
    """Every entry and exit, in log order, indexed by audience, by person and by both."""

    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.by_audience: dict[str, list[int]] = {}
        self.by_person: dict[str, list[int]] = {}
        self.by_pair: dict[tuple[str, str], list[int]] = {}

    def add(self, change: Change) -> None:
        place = len(self.changes)
        self.changes.append(change)
        self.by_audience.setdefault(change.audience_id, []).append(place)
        self.by_person.setdefault(change.subject, []).append(place)
        self.by_pair.setdefault((change.audience_id, change.subject), []).append(place)

    def page(
        self, audience_id: str, person_id: str, page_size: int, page_token: str, account_id: str = ""
    ) -> tuple[list[Change], str]:
        """Newest first: the changes of the audience, the person (or account), or the person (or
        account) in the audience."""
        if person_id and account_id:
            raise InvalidArgument("account_id", "give a person_id or an account_id, not both")
        if not audience_id and not person_id and not account_id:
            raise InvalidArgument("audience_id", "give an audience_id, a person_id, an account_id or both")
        person_id = account_subject(account_id) if account_id else person_id
        size = page_size_of(page_size, DEFAULT_HISTORY_PAGE, MAX_HISTORY_PAGE)
        if audience_id and person_id:
            places = self.by_pair.get((audience_id, person_id), [])
        elif audience_id:
            places = self.by_audience.get(audience_id, [])
        else:
            places = self.by_person.get(person_id, [])
        before = _place_of(page_token) if page_token else len(self.changes)
        end = bisect.bisect_left(places, before)  # places ascend: those before the token's
        chosen = places[max(end - size, 0) : end][::-1]
        more = end - size > 0
        return [self.changes[p] for p in chosen], encode_token(str(chosen[-1])) if more and chosen else ""


def _place_of(token: str) -> int:
    text = decode_token(token)
    if not text.isdigit():
        raise InvalidArgument("page_token", "is not a token a previous page gave")
    return int(text)


def page_size_of(page_size: int, default: int, largest: int, field: str = "page_size") -> int:
    if page_size < 0:
        raise InvalidArgument(field, "must not be negative")
    if page_size > largest:
        raise InvalidArgument(field, f"must be at most {largest}")
    return page_size or default


def encode_token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_token(token: str) -> str:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidArgument("page_token", "is not a token a previous page gave") from None
    if not text:
        raise InvalidArgument("page_token", "is not a token a previous page gave")
    return text


def members_page(members: Iterable[str], page_size: int, page_token: str) -> tuple[list[str], str, int]:
    """A page of members in person id order after the token's person id, the next token, and the
    total. The token names the last person given, so members who come or go between pages shift
    nothing else."""
    ordered = sorted(members)
    size = page_size_of(page_size, len(ordered), MAX_MEMBERS_PAGE)  # 0: all of them
    start = bisect.bisect_right(ordered, decode_token(page_token)) if page_token else 0
    page = ordered[start : start + size]
    more = start + size < len(ordered)
    return page, encode_token(page[-1]) if more and page else "", len(ordered)


def sample_size(sample: int) -> int:
    return page_size_of(sample, DEFAULT_SAMPLE, MAX_SAMPLE, field="sample")


def dependency_order(order: Sequence[str], uses: Mapping[str, Iterable[str]]) -> list[str]:
    """The audiences in an order where each comes after the audiences it uses, otherwise as they
    were (an update may make an older audience use a newer one). No cycles: references are
    checked before anything is stored."""
    out: list[str] = []
    placed: set[str] = set()
    position = {a: i for i, a in enumerate(order)}

    def place(a: str, path: tuple[str, ...]) -> None:
        if a in placed or a in path:
            return
        for used in sorted(uses.get(a, ()), key=lambda u: position.get(u, len(order))):
            if used in uses:
                place(used, (*path, a))
        placed.add(a)
        out.append(a)

    for a in order:
        place(a, ())
    return out


def used_by(audience_id: str, uses: Mapping[str, Iterable[str]]) -> list[str]:
    """The audiences whose definitions use this one's membership."""
    return sorted(a for a, used in uses.items() if audience_id in used and a != audience_id)
