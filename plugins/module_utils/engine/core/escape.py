# SPDX-License-Identifier: GPL-3.0-or-later
"""Docker's detach keys: the ``--detach-keys`` notation (moby/term ``ToBytes``) and the proxy that watches
a terminal's input for the sequence (moby/term ``NewEscapeProxy``).

The default is Ctrl-P Ctrl-Q. While the input matches a prefix of the sequence, those bytes are held back;
a mismatch passes them on, the whole sequence detaches (what follows it in the same read is dropped, as
docker does). On the path of ``berth run -it`` and of the monitor: stdlib only, no typing at run time.
"""
from __future__ import annotations

DEFAULT_KEYS = "ctrl-p,ctrl-q"
#: ``ctrl-@`` is 0, ``ctrl-a`` 1 ... ``ctrl-z`` 26, then ``ctrl-[`` 27 ... ``ctrl-_`` 31.
_CTRL = ["ctrl-@"] + [f"ctrl-{chr(c)}" for c in range(ord("a"), ord("z") + 1)] + \
    ["ctrl-[", "ctrl-\\", "ctrl-]", "ctrl-^", "ctrl-_"]


def to_bytes(keys: str) -> bytes:
    """``"ctrl-p,ctrl-q"`` -> ``b"\\x10\\x11"``; one character stands for itself. ValueError names a key that
    is neither."""
    out = bytearray()
    for key in keys.split(","):
        if len(key) == 1:
            out += key.encode()
        elif key in _CTRL:
            out.append(_CTRL.index(key))
        else:
            raise ValueError(f"unknown key {key!r} (a single character or ctrl-@, ctrl-a ... ctrl-z, ctrl-[, "
                             f"ctrl-\\, ctrl-], ctrl-^, ctrl-_)")
    if not out:
        raise ValueError("no key given")
    return bytes(out)


class EscapeProxy:
    """Feed it what the terminal sends; it returns what to pass on and whether the sequence was typed."""

    __slots__ = ("keys", "held")

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = 0  # how many bytes of the sequence were typed last

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        out = bytearray()
        keys = self.keys
        for byte in data:
            if byte == keys[self.held]:
                self.held += 1
                if self.held == len(keys):
                    self.held = 0
                    return bytes(out), True
                continue
            if self.held:
                out += keys[:self.held]
                self.held = 0
                if byte == keys[0]:
                    self.held = 1
                    continue
            out.append(byte)
        return bytes(out), False
