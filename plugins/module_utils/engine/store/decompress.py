# SPDX-License-Identifier: GPL-3.0-or-later
"""Layer blobs as uncompressed tar streams: :func:`open_decompressed` turns the raw blob stream into the tar
(gzip by zlib, zstd by the optional ``zstandard`` module, Debian's python3-zstandard, or else the ``zstd``
command), streaming and bounded in memory; a damaged stream raises :class:`CorruptStream`."""
from __future__ import annotations

import os
import shutil
import sys
import typing as t
import zlib

from ..core.fs import which
from ..core.lazy import optional_import
from ..core.oci import compression_of
from ..errors import MissingDependency, StoreError

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_READ_SIZE = 1 << 16  # compressed bytes read from the raw stream at a time
_OUT_SIZE = 1 << 18  # most uncompressed bytes produced per decompress() call


class CorruptStream(StoreError):
    """The compressed stream cannot be decoded (extract_layer adds the layer digest)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"corrupt layer stream: {reason}")
        self.reason = reason


# --------------------------------------------------------------------------- decompression


def read_upto(raw: t.Any, n: int) -> bytes:
    """Read up to *n* bytes, looping over short reads; fewer only at end of stream."""
    data = raw.read(n)
    if not data or len(data) >= n:
        return data or b""
    chunks = [data]
    got = len(data)
    while got < n:
        data = raw.read(n - got)
        if not data:
            break
        chunks.append(data)
        got += len(data)
    return b"".join(chunks)


class _Reader:
    """A readable binary stream: ``read(n)`` returns *n* bytes unless at the end."""

    def readable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def readinto(self, buffer: t.Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        """The raw stream belongs to the caller and stays open."""


class Prefixed(_Reader):
    """The bytes already peeked at, then *raw* itself."""

    def __init__(self, head: bytes, raw: t.Any) -> None:
        self._head = head
        self._raw = raw

    def read(self, n: int | None = -1) -> bytes:
        head = self._head
        if n is None or n < 0:
            self._head = b""
            return head + _read_all(self._raw)
        if not head:
            return read_upto(self._raw, n)
        if n < len(head):
            self._head = head[n:]
            return head[:n]
        self._head = b""
        return head + read_upto(self._raw, n - len(head))


def _read_all(raw: t.Any) -> bytes:
    chunks = []
    while True:
        data = raw.read(_READ_SIZE)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


class _Decoded(_Reader):
    """Serves exact reads from the chunks a decoder produces (``_chunk()``; b"" at the end)."""

    _buf = b""
    _pos = 0

    def _chunk(self) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            return self._read_all()
        buf, pos = self._buf, self._pos
        avail = len(buf) - pos
        if avail >= n:
            self._pos = pos + n
            return buf[pos:pos + n]
        parts = [buf[pos:]] if avail else []
        need = n - avail
        while need > 0:
            buf = self._chunk()
            if not buf:
                break
            if len(buf) > need:
                parts.append(buf[:need])
                self._buf, self._pos = buf, need
                return b"".join(parts)
            parts.append(buf)
            need -= len(buf)
        self._buf, self._pos = b"", 0
        return b"".join(parts)

    def _read_all(self) -> bytes:
        parts = [self._buf[self._pos:]]
        self._buf, self._pos = b"", 0
        while True:
            chunk = self._chunk()
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)


class _GzipReader(_Decoded):
    """Multi-member gzip over zlib; checks each member's CRC and length."""

    def __init__(self, raw: t.Any, head: bytes) -> None:
        self._raw = raw
        self._pending = head
        self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._done = False

    def _chunk(self) -> bytes:
        try:
            return self._decompress()
        except zlib.error as exc:
            raise CorruptStream(f"invalid gzip data: {exc}") from None

    def _decompress(self) -> bytes:
        while not self._done:
            d = self._zlib
            if d.eof:  # checked first: at the end the leftover is in unused_data *and* unconsumed_tail
                self._next_member(d.unused_data)
                continue
            if d.unconsumed_tail:
                out = d.decompress(d.unconsumed_tail, _OUT_SIZE)
            else:
                data = self._pending or self._raw.read(_READ_SIZE)
                self._pending = b""
                if not data:
                    raise CorruptStream("truncated gzip data")
                out = d.decompress(data, _OUT_SIZE)
            if out:
                return out
        return b""

    def _next_member(self, rest: bytes) -> None:
        """After a member: another member follows, or zero padding up to the end."""
        while True:
            rest = rest.lstrip(b"\0")
            if len(rest) >= 2:
                break
            more = self._raw.read(_READ_SIZE)
            if not more:
                if rest:
                    raise CorruptStream("trailing garbage after gzip data")
                self._done = True
                return
            rest += more
        if rest[:2] != _GZIP_MAGIC:
            raise CorruptStream("trailing garbage after gzip data")
        self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending = rest


class _ZstdReader(_Decoded):
    """All zstd frames through ``zstandard``'s stream reader (bounded output per read).

    zstandard reports a stream cut short in the middle of a frame as a plain
    end of data; the caller's digest of the raw stream catches that.
    """

    def __init__(self, zstandard: t.Any, source: Prefixed) -> None:
        self._error = zstandard.ZstdError
        self._zr = zstandard.ZstdDecompressor().stream_reader(
            source, read_size=_READ_SIZE, read_across_frames=True, closefd=False
        )

    def _chunk(self) -> bytes:
        try:
            return self._zr.read1(_OUT_SIZE)  # type: ignore[no-any-return]
        except self._error as exc:
            raise CorruptStream(f"invalid zstd data: {exc}") from None


class _ZstdCommand(_Decoded):
    """All zstd frames through the ``zstd`` command, where the ``zstandard`` module is missing (the system
    Python of Debian 12, which ``bin/berth`` runs, has none): a thread feeds it the raw stream, whose
    errors (a registry failure, a size overrun) are raised here at the end, before the command's own."""

    def __init__(self, command: str, source: Prefixed) -> None:
        import subprocess
        import threading

        self._proc = subprocess.Popen([command, "-d", "-c", "-q"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE)
        self._error: BaseException | None = None
        self._done = False
        self._feeder = threading.Thread(target=self._feed, args=(source,), name="berth-zstd", daemon=True)
        self._feeder.start()

    def _feed(self, source: Prefixed) -> None:
        stdin = self._proc.stdin
        if stdin is None:
            raise AssertionError("stdin is a pipe")
        try:
            shutil.copyfileobj(source, stdin, _READ_SIZE)
        except BrokenPipeError:  # zstd stopped reading (bad data): its exit status says why
            pass
        except BaseException as exc:  # noqa: B036 - handed to the reading thread
            self._error = exc
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    def _chunk(self) -> bytes:
        if self._done:
            return b""
        if self._proc.stdout is None or self._proc.stderr is None:
            raise AssertionError("stdout and stderr are pipes")
        out = os.read(self._proc.stdout.fileno(), _OUT_SIZE)
        if out:
            return out
        self._done = True
        self._feeder.join()
        err = self._proc.stderr.read().decode(errors="replace").strip()
        status = self._proc.wait()
        self._proc.stdout.close()
        self._proc.stderr.close()
        if self._error is not None:
            raise self._error
        if status != 0:
            raise CorruptStream(f"invalid zstd data: {err or f'zstd exited with status {status}'}")
        return b""

    def __del__(self) -> None:
        """Abandoned midway (a refused member): stop the command, so that the feeding thread ends too."""
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()


def _compression(head: bytes, media_type: str) -> str:
    """``gzip``, ``zstd`` or ``none``: magic bytes first, then the media type."""
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    declared = compression_of(media_type) if media_type else "none"
    return declared if declared in ("gzip", "zstd") else "none"


#: Where Debian's python3-zstandard lives; ``bin/berth`` runs ``python3 -S``, without it on sys.path.
_DIST_PACKAGES = "/usr/lib/python3/dist-packages"


def _zstandard() -> t.Any:
    """The ``zstandard`` module (of this Python, else the distribution's python3-zstandard), or None."""
    module = optional_import("zstandard")
    if module is None and os.path.isdir(os.path.join(_DIST_PACKAGES, "zstandard")) and _DIST_PACKAGES not in sys.path:
        sys.path.append(_DIST_PACKAGES)  # last: it adds a module, it shadows none
        module = optional_import("zstandard")
    return module


def _zstd_reader(source: Prefixed) -> _Decoded:
    module = _zstandard()
    if module is not None:
        return _ZstdReader(module, source)
    command = which("zstd")
    if command is None:
        raise MissingDependency("python module 'zstandard' or the 'zstd' command", "zstd-compressed layers",
                                "apt-get install python3-zstandard (or zstd), or pip install zstandard")
    return _ZstdCommand(command, source)


def open_decompressed(raw: t.BinaryIO, media_type: str = "") -> t.BinaryIO:
    """Return a readable stream of the uncompressed tar inside *raw*.

    The compression is sniffed from the magic bytes (gzip, zstd), then taken
    from *media_type*; anything else passes through.  *raw* may be a
    non-seekable stream with short reads; it is read in chunks of 64 KiB and
    never closed.  Corrupt or truncated data raises :class:`StoreError`.
    """
    head = read_upto(raw, len(_ZSTD_MAGIC))
    kind = _compression(head, media_type)
    if kind == "gzip":
        return t.cast(t.BinaryIO, _GzipReader(raw, head))
    if kind == "zstd":
        return t.cast(t.BinaryIO, _zstd_reader(Prefixed(head, raw)))
    return t.cast(t.BinaryIO, Prefixed(head, raw))
