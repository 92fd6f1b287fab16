"""Accounts as segment follows them: each account's traits and members, and the subjects audiences
are evaluated for.

Both come from profile's log, already resolved to persons: an account's traits from AccountChanged
(the fold of every group call naming it), a person's accounts from the `accounts` of each
ProfileChanged (the same fold AccountMembershipChanged publishes, but read with the profile, so a
person's traits and accounts change in one step). A person merged away leaves its accounts; the
parts of a split join theirs with their own profiles.

A subject is a person id, or an account id under ACCOUNT (person ids are UUIDs, so never clash).
"""

from __future__ import annotations

from collections.abc import Iterable

from cdp.api.profile.v1 import profile_pb2

ACCOUNT = "account/"


def account_subject(account_id: str) -> str:
    return ACCOUNT + account_id


def is_account(subject: str) -> bool:
    return subject.startswith(ACCOUNT)


def account_of(subject: str) -> str:
    return subject[len(ACCOUNT) :]


class Accounts:
    def __init__(self) -> None:
        self.traits: dict[str, profile_pb2.Account] = {}  # account -> its traits (tokens, never decrypted)
        self.members: dict[str, set[str]] = {}  # account -> persons
        self.of: dict[str, frozenset[str]] = {}  # person -> accounts

    def known(self) -> list[str]:
        """Every account with traits or members, in id order."""
        return sorted({*self.traits, *self.members})

    def changed(self, account: profile_pb2.Account) -> tuple[set[str], bool]:
        """Keep the account's new traits: the names whose value changed, and whether it is new."""
        before = self.traits.get(account.group_id)
        new = before is None and account.group_id not in self.members
        self.traits[account.group_id] = account
        names = {*account.traits, *(before.traits if before is not None else ())}
        if before is not None:
            names = {n for n in names if before.traits.get(n) != account.traits.get(n)}
        return names, new

    def regroup(self, person: str, accounts: Iterable[str]) -> tuple[set[str], set[str]]:
        """The person's accounts are these now: the accounts it joined or left, and those new here."""
        now = frozenset(accounts)
        was = self.of.get(person, frozenset())
        if now == was:
            return set(), set()
        new = {a for a in now - was if a not in self.members and a not in self.traits}
        for a in was - now:
            self.members[a].discard(person)
            if not self.members[a]:
                del self.members[a]
        for a in now - was:
            self.members.setdefault(a, set()).add(person)
        if now:
            self.of[person] = now
        else:
            self.of.pop(person, None)
        return set(now ^ was), new

    def accounts_of(self, person: str) -> Iterable[str]:
        return self.of.get(person, ())

    def members_of(self, account: str) -> Iterable[str]:
        return self.members.get(account, ())
