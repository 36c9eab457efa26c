# SPDX-License-Identifier: GPL-3.0-or-later
"""Content digests (``sha256:<hex>``) and streaming verification.

``hashlib`` (OpenSSL: the fastest per byte, but ~2.5 ms to load) is imported for streams of unknown or
large size; SHA-256 of up to :data:`SMALL` bytes (configs, manifests, cache keys) is the interpreter's own
(core/fasthash.py), so that reading an image, as a fully cached build does, never loads OpenSSL.
"""
from __future__ import annotations

import re
import typing as t

from ..errors import DigestMismatch, InvalidOption
from .fasthash import sha256

if t.TYPE_CHECKING:
    import hashlib

_DIGEST_RE = re.compile(r"^(sha256):([0-9a-f]{64})$|^(sha384):([0-9a-f]{96})$|^(sha512):([0-9a-f]{128})$")
ALGORITHMS = ("sha256", "sha384", "sha512")
#: Up to this many bytes, :func:`hasher` hashes SHA-256 without OpenSSL (which would take longer to load).
SMALL = 1 << 20


class Digest(str):
    """A validated ``algorithm:hex`` digest string."""

    @classmethod
    def parse(cls, value: str, field: str = "digest") -> "Digest":
        if not isinstance(value, str) or not _DIGEST_RE.match(value):
            raise InvalidOption(field, value, "expected a digest like sha256:<64 hex digits>")
        return cls(value)

    @property
    def algorithm(self) -> str:
        return self.split(":", 1)[0]

    @property
    def hex(self) -> str:
        return self.split(":", 1)[1]

    @property
    def short(self) -> str:
        """Docker's 12-character short ID."""
        return self.hex[:12]


def is_digest(value: str) -> bool:
    return isinstance(value, str) and bool(_DIGEST_RE.match(value))


def sha256_bytes(data: bytes) -> Digest:
    return Digest("sha256:" + sha256(data).hexdigest())


def sha256_file(path: str, bufsize: int = 1 << 20) -> Digest:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(bufsize)
            if not chunk:
                break
            h.update(chunk)
    return Digest("sha256:" + h.hexdigest())


def hasher(digest: str, size: int | None = None) -> "hashlib._Hash":
    """A hash object of *digest*'s algorithm, for *size* bytes (None: unknown, as a stream's)."""
    algo = digest.split(":", 1)[0]
    if algo not in ALGORITHMS:
        raise InvalidOption("digest", digest, f"unsupported algorithm {algo!r}")
    if algo == "sha256" and size is not None and size <= SMALL:
        return sha256()  # type: ignore[no-any-return]
    import hashlib

    return hashlib.new(algo)


def verify(what: str, expected: str, actual_hex: str) -> None:
    algo = expected.split(":", 1)[0]
    actual = f"{algo}:{actual_hex}"
    if actual != expected:
        raise DigestMismatch(what, expected, actual)


def verify_bytes(what: str, expected: str, data: bytes) -> None:
    h = hasher(expected, len(data))
    h.update(data)
    verify(what, expected, h.hexdigest())


class HashingReader:
    """Wrap a binary stream; hash (and count) everything read through it."""

    def __init__(self, raw: t.BinaryIO | t.Any, algorithm: str = "sha256") -> None:
        import hashlib

        self._raw = raw
        self._hash = hashlib.new(algorithm)
        self.algorithm = algorithm
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if data:
            self._hash.update(data)
            self.count += len(data)
        return data

    def readinto(self, buf: t.Any) -> int:  # pragma: no cover - used by some consumers
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def drain(self, bufsize: int = 1 << 20) -> None:
        """Read the rest of the stream so the digest covers all of it."""
        while self.read(bufsize):
            pass

    @property
    def digest(self) -> Digest:
        return Digest(f"{self.algorithm}:{self._hash.hexdigest()}")


def chain_ids(diff_ids: t.Sequence[str]) -> list[Digest]:
    """OCI chain IDs: ChainID(L0)=DiffID(L0), ChainID(Ln)=sha256(ChainID(Ln-1) + ' ' + DiffID(Ln))."""
    out: list[Digest] = []
    for diff_id in diff_ids:
        if not out:
            out.append(Digest(diff_id))
        else:
            out.append(sha256_bytes(f"{out[-1]} {diff_id}".encode()))
    return out
