# SPDX-License-Identifier: GPL-3.0-or-later
"""core.escape: docker's --detach-keys notation and escape proxy (moby/term ToBytes, NewEscapeProxy)."""
from __future__ import annotations

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.core import escape


@pytest.mark.parametrize("keys, expected", [
    ("ctrl-p,ctrl-q", b"\x10\x11"),
    ("ctrl-@", b"\x00"),
    ("ctrl-a,x", b"\x01x"),
    ("ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_", b"\x1b\x1c\x1d\x1e\x1f"),
    ("a,b,c", b"abc"),
])
def test_to_bytes(keys: str, expected: bytes) -> None:
    assert escape.to_bytes(keys) == expected


@pytest.mark.parametrize("keys", ["ctrl-1", "alt-x", "ab", ""])
def test_to_bytes_rejects(keys: str) -> None:
    with pytest.raises(ValueError):
        escape.to_bytes(keys)


def test_the_proxy_holds_a_prefix_and_detaches_on_the_whole_sequence() -> None:
    proxy = escape.EscapeProxy(b"\x10\x11")
    assert proxy.feed(b"ls\r") == (b"ls\r", False)
    assert proxy.feed(b"a\x10") == (b"a", False)  # held: may be the start of the sequence
    assert proxy.feed(b"b") == (b"\x10b", False)  # it was not: passed on
    assert proxy.feed(b"\x10\x10") == (b"\x10", False)  # the second one may start it again
    assert proxy.feed(b"\x11rest") == (b"", True)  # typed across two reads; what follows is dropped
    assert proxy.feed(b"x\x10\x11") == (b"x", True)
