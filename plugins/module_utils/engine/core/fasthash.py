# SPDX-License-Identifier: GPL-3.0-or-later
"""SHA-256 for the start path, from the interpreter's built-in module: ``hashlib`` loads OpenSSL (~5 ms on
the test hosts), which ``berth run``, the container starter and the monitor cannot afford. ``core.digest``
(hashlib, streaming, verify-or-raise) is the store's; this is for the few small things the start path
hashes: the engine copy's key, the seccomp cache, the image config it checks."""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


def sha256(data: bytes = b"") -> t.Any:
    """A ``hashlib.sha256``-like object over *data*."""
    try:
        from _sha256 import sha256 as impl  # CPython up to 3.11
    except ImportError:  # pragma: no cover
        try:
            from _sha2 import sha256 as impl  # CPython 3.12+
        except ImportError:
            from hashlib import sha256 as impl
    return impl(data)
