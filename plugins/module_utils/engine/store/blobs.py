# SPDX-License-Identifier: GPL-3.0-or-later
"""Content-addressed blobs: nothing becomes visible before its digest is verified."""
from __future__ import annotations

import os
import typing as t

from ..core import fs, trust
from ..core.digest import Digest, hasher, verify
from ..core.layout import Layout
from ..errors import DamagedContent, StoreError


class BlobWriter:
    """Stream a blob into staging; :meth:`commit` verifies and renames it into place."""

    def __init__(self, blobs: "BlobStore", expected: str | None, algorithm: str = "sha256",
                 partial: str | None = None) -> None:
        """*partial*: append to this file (a download of *expected* cut short), whose bytes are hashed
        first; the caller holds the blob's lock. Otherwise a new staging file."""
        self._blobs = blobs
        self.expected = expected
        self._hash = hasher(expected or f"{algorithm}:")
        self.size = 0
        if partial is None:
            self.tmp = fs.staging_path(blobs.layout.tmp_dir, "blob")
            self._fh: t.BinaryIO | None = open(self.tmp, "xb")
            return
        self.tmp = partial
        self._fh = open(partial, "a+b")
        self._fh.seek(0)
        for chunk in iter(lambda: self._fh.read(1 << 20), b""):  # type: ignore[union-attr]
            self._hash.update(chunk)
            self.size += len(chunk)

    def keep(self) -> None:
        """Close, leaving what was written for a later resume (a partial download)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def write(self, data: bytes) -> int:
        if self._fh is None:
            raise AssertionError('self._fh is not None')
        self._hash.update(data)
        self._fh.write(data)
        self.size += len(data)
        return len(data)

    @property
    def digest(self) -> Digest:
        return Digest(f"{self._hash.name}:{self._hash.hexdigest()}")

    def commit(self, what: str = "blob", replace: bool = False) -> Digest:
        """Verify against the expected digest (if any) and make the blob visible; a blob already stored is
        kept unless *replace* (it is damaged)."""
        if self._fh is None:
            raise AssertionError('self._fh is not None')
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        self._fh = None
        digest = self.digest
        if self.expected:
            verify(what, self.expected, digest.hex)
        dest = self._blobs.layout.blob(digest)
        if os.path.exists(dest) and not replace:
            fs.remove_quietly(self.tmp)
        else:
            os.chmod(self.tmp, 0o644)
            os.rename(self.tmp, dest)
        return digest

    def abort(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        fs.remove_quietly(self.tmp)

    def __enter__(self) -> "BlobWriter":
        return self

    def __exit__(self, exc_type: t.Any, *_: t.Any) -> None:
        if self._fh is not None or exc_type is not None:
            self.abort()


class BlobStore:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def path(self, digest: str) -> str:
        return self.layout.blob(digest)

    def has(self, digest: str) -> bool:
        return os.path.exists(self.layout.blob(digest))

    def size(self, digest: str) -> int:
        try:
            return os.stat(self.layout.blob(digest)).st_size
        except FileNotFoundError:
            return 0

    def read(self, digest: str) -> bytes:
        with self.open(digest) as fh:
            return fh.read()

    def open(self, digest: str) -> t.BinaryIO:
        """The blob, refused unless root's and not writable by others (``core/trust.py``)."""
        try:
            return os.fdopen(trust.open_trusted(self.layout.blob(digest), what="blob"), "rb")
        except FileNotFoundError:
            raise StoreError(f"blob {digest} is missing from the store {self.layout.root}") from None

    def writer(self, expected: str | None = None, partial: str | None = None) -> BlobWriter:
        return BlobWriter(self, expected, partial=partial)

    def put_bytes(self, data: bytes, expected: str | None = None, what: str = "blob") -> Digest:
        """Store a small blob (a config, a manifest); one stored before but damaged since is replaced."""
        h = hasher(expected or "sha256:", len(data))
        h.update(data)
        if expected:
            verify(what, expected, h.hexdigest())
        digest = Digest(f"{h.name}:{h.hexdigest()}")
        if self.has(digest) and self.damage(digest) is None:
            return digest
        with self.writer(digest) as w:
            w.write(data)
            return w.commit(what, replace=True)

    def damage(self, digest: str) -> str | None:
        """What is wrong with the stored blob *digest* (missing, or its content has another digest), or None.
        Reads the whole blob."""
        try:
            with self.open(digest) as fh:
                h = hasher(digest, os.fstat(fh.fileno()).st_size)
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        except StoreError:
            return "missing"
        actual = f"{h.name}:{h.hexdigest()}"
        return None if actual == digest else f"its content has the digest {actual}"

    def read_verified(self, digest: str, what: str = "blob") -> bytes:
        """The blob's bytes, checked against its digest (for small blobs: configs, manifests)."""
        data = self.read(digest)
        h = hasher(digest, len(data))
        h.update(data)
        actual = f"{h.name}:{h.hexdigest()}"
        if actual != digest:
            raise DamagedContent(what, digest, f"its content has the digest {actual}")
        return data

    def remove(self, digest: str) -> int:
        path = self.layout.blob(digest)
        try:
            size = os.stat(path).st_size
            os.unlink(path)
            return size
        except FileNotFoundError:
            return 0

    def all(self) -> list[Digest]:
        try:
            return [Digest("sha256:" + n) for n in os.listdir(self.layout.blobs_dir) if len(n) == 64]
        except FileNotFoundError:
            return []
