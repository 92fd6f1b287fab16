"""free_ports never hands one port to two platforms started at once: the services bind with
SO_REUSEPORT, so both would bind it and the kernel would split the connections between them."""

from __future__ import annotations

import os
import time

from cdp.platform import launcher
from cdp.platform.launcher import HANDED_OUT_S, free_ports


class Kernel:
    """socket.socket, binding each new socket to the next of the given ports."""

    def __init__(self, ports):
        self.ports = iter(ports)

    def __call__(self, *args):
        kernel = self

        class Socket:
            def bind(self, address):
                self.port = next(kernel.ports)

            def getsockname(self):
                return ("127.0.0.1", self.port)

            def close(self):
                pass

        return Socket()


def test_a_port_handed_out_lately_is_not_handed_out_again(tmp_path, monkeypatch):
    monkeypatch.setattr(launcher.tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr(launcher.socket, "socket", Kernel([40001, 40002, 40001, 40003, 40004]))
    assert free_ports(2) == [40001, 40002]
    # Another process (or this one) asks while the kernel offers 40001 again: it is passed over.
    assert free_ports(2) == [40003, 40004]
    claims = tmp_path / "cdp-ports"
    assert sorted(os.listdir(claims)) == ["40001", "40002", "40003", "40004"]


def test_an_old_claim_is_taken_over(tmp_path, monkeypatch):
    monkeypatch.setattr(launcher.tempfile, "gettempdir", lambda: str(tmp_path))
    claims = tmp_path / "cdp-ports"
    claims.mkdir()
    (claims / "40001").touch()
    old = time.time() - HANDED_OUT_S - 1
    os.utime(claims / "40001", (old, old))
    monkeypatch.setattr(launcher.socket, "socket", Kernel([40001]))
    assert free_ports(1) == [40001]
    assert time.time() - (claims / "40001").stat().st_mtime < 60


def test_ports_from_the_kernel_differ_between_calls():
    first, second = free_ports(20), free_ports(20)
    assert len(set(first)) == 20 and not set(first) & set(second)
