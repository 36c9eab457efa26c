# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading archives: sniffing compression, decompressed streams, tee and prefix readers."""
from __future__ import annotations

import typing as t

from ...core import oci
from ..decompress import open_decompressed

COPY = 1 << 20

MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"BZh", "bzip2"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)


def read_upto(raw: t.Any, n: int) -> bytes:
    chunks = []
    got = 0
    while got < n:
        chunk = raw.read(n - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def sniff(head: bytes) -> str:
    """``gzip``, ``xz``, ``bzip2``, ``zstd`` or ``none`` from the first bytes."""
    for magic, kind in MAGIC:
        if head.startswith(magic):
            return kind
    return "none"


class Prefixed:
    """The bytes already peeked at, then the rest of *raw*."""

    def __init__(self, head: bytes, raw: t.Any) -> None:
        self._head = head
        self._raw = raw

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n is None or n < 0:
                data, self._head = self._head + self._raw.read(), b""
                return data
            data, self._head = self._head[:n], self._head[n:]
            return data
        return t.cast(bytes, self._raw.read(n))

    def readable(self) -> bool:
        return True


class Tee:
    """Read from *raw*; copy every byte into *sink* (``write(bytes)``) and count."""

    def __init__(self, raw: t.Any, sink: t.Any) -> None:
        self._raw = raw
        self._sink = sink
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if data:
            self.count += len(data)
            self._sink.write(data)
        return t.cast(bytes, data)

    def readable(self) -> bool:
        return True

    def drain(self) -> None:
        while self.read(COPY):
            pass


def decompressed(raw: t.Any, kind: str) -> t.Any:
    """A reader of the plain bytes inside *raw* compressed with *kind* (see :func:`sniff`)."""
    if kind == "gzip":
        return open_decompressed(raw, oci.OCI_LAYER_GZIP)
    if kind == "zstd":
        return open_decompressed(raw, oci.OCI_LAYER_ZSTD)
    if kind == "xz":
        import lzma

        return lzma.LZMAFile(raw, "rb")
    if kind == "bzip2":
        import bz2

        return bz2.BZ2File(raw, "rb")
    return raw


def is_corrupt(exc: BaseException) -> bool:
    """Errors that mean unreadable compressed data (not an I/O failure of ours)."""
    import lzma
    import zlib

    if isinstance(exc, (lzma.LZMAError, zlib.error, EOFError)):
        return True
    # bz2 and gzip report bad data as an OSError without errno.
    return isinstance(exc, OSError) and exc.errno is None
