"""The lifecycle's pure parts: pages of members and of history, and the order audiences are
evaluated in once an update may make an older one use a newer one."""

from __future__ import annotations

import pytest

from cdp.platform.errors import InvalidArgument
from cdp.segment.lifecycle import Change, MembershipHistory, dependency_order, members_page, used_by


def change(audience: str, person: str, entered: bool = True, version: int = 1) -> Change:
    return Change(audience, person, entered, version, "trait", "", "2026-11-30T10:00:00.000Z")


def test_member_pages_cover_everyone_once_even_when_members_change_between_pages():
    members = {f"p{i:02}" for i in range(7)}
    first, token, total = members_page(members, 3, "")
    assert (first, total) == (["p00", "p01", "p02"], 7)
    members -= {"p01", "p04"}  # leave between pages: nobody else shifts
    members |= {"p00a"}  # before the token: not shown now, nobody repeated
    second, token, total = members_page(members, 3, token)
    assert (second, token, total) == (["p03", "p05", "p06"], "", 6)
    assert members_page(set(), 0, "") == ([], "", 0)
    assert members_page({"a", "b"}, 0, "") == (["a", "b"], "", 2)  # 0: all in one page
    for bad in ("%%%", "===="):
        with pytest.raises(InvalidArgument, match="page_token"):
            members_page({"a"}, 1, bad)
    with pytest.raises(InvalidArgument, match="page_size: must be at most 10000"):
        members_page({"a"}, 10_001, "")


def test_history_pages_are_newest_first_and_hold_still_when_changes_come_after():
    history = MembershipHistory()
    for i in range(5):
        history.add(change("a", f"p{i}"))
        history.add(change("b", f"p{i}"))
    page, token = history.page("a", "", 2, "")
    assert [c.person_id for c in page] == ["p4", "p3"]
    history.add(change("a", "p9"))  # newer than the first page: the next pages do not move
    page, token = history.page("a", "", 2, token)
    assert [c.person_id for c in page] == ["p2", "p1"]
    page, token = history.page("a", "", 2, token)
    assert ([c.person_id for c in page], token) == (["p0"], "")
    assert [c.audience_id for c in history.page("", "p3", 0, "")[0]] == ["b", "a"]
    assert history.page("b", "p3", 0, "")[0] == [change("b", "p3")]
    with pytest.raises(InvalidArgument, match="page_token"):
        history.page("a", "", 2, "YWJj")  # a token of members, not of history
    with pytest.raises(InvalidArgument, match="audience_id"):
        history.page("", "", 2, "")


def test_audiences_are_ordered_after_the_ones_they_use():
    assert dependency_order(["a", "b", "c"], {"a": ["b"], "b": [], "c": ["a"]}) == ["b", "a", "c"]
    assert dependency_order(["a", "b", "c", "d"], {"a": ["c"], "b": [], "c": ["d"], "d": []}) == ["d", "c", "a", "b"]
    # An archived audience (not in uses) keeps its place.
    assert dependency_order(["x", "a", "b"], {"a": ["b"], "b": []}) == ["x", "b", "a"]
    assert used_by("b", {"a": ["b"], "b": [], "c": ["b", "a"]}) == ["a", "c"]
