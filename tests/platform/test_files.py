"""Private files: a restrictive umask, and an older directory tightened in place."""

from __future__ import annotations

import os

from cdp.platform.files import private_tree, write_private


def test_an_older_directory_is_made_private_without_following_links(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours to change")
    os.chmod(outside, 0o644)
    data = tmp_path / "data"
    (data / "logs").mkdir(parents=True)
    (data / "logs" / "a.log").write_text("x")
    (data / "store.sqlite").write_text("x")
    (data / "link").symlink_to(outside)
    for path, mode in ((data, 0o755), (data / "logs", 0o775), (data / "logs" / "a.log", 0o664)):
        os.chmod(path, mode)
    os.chmod(data / "store.sqlite", 0o744)
    private_tree(data)
    assert {p.name: p.lstat().st_mode & 0o777 for p in [data, *data.rglob("*")] if not p.is_symlink()} == {
        "data": 0o700,
        "logs": 0o700,
        "a.log": 0o600,
        "store.sqlite": 0o700,  # the owner's bits stay as they were
    }
    assert outside.stat().st_mode & 0o777 == 0o644
    private_tree(tmp_path / "missing")  # nothing there: nothing to do


def test_a_secret_file_is_private_whatever_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        (tmp_path / "write_key").write_text("old\n")
        write_private(tmp_path / "write_key", "new\n")
    finally:
        os.umask(previous)
    assert (tmp_path / "write_key").read_text() == "new\n"
    assert (tmp_path / "write_key").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["write_key"]
