# SPDX-License-Identifier: GPL-3.0-or-later
"""Archive sources: a tar file read in place (or spooled to tmp/), or an OCI layout directory; safe member names."""
from __future__ import annotations

import contextlib
import os
import posixpath
import tarfile
import typing as t

from ...core import fs
from ...errors import ArchiveError, StoreError
from ..unpack import normalize_name
from .streams import COPY, Prefixed, decompressed, is_corrupt, read_upto, sniff

MAX_JSON = 32 << 20  # manifest.json, index.json, manifests and configs are read into memory
_MAX_LINKS = 16  # symlink hops inside an archive


def member_name(label: str, name: str, what: str = "member") -> str:
    """A relative archive path without ``.`` parts; absolute names and ``..`` are refused."""
    if not isinstance(name, str) or "\0" in name:
        raise ArchiveError(label, f"{what} name {name!r} is invalid")
    if name.startswith("/"):
        raise ArchiveError(label, f"{what} {name!r} is an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(label, f"{what} {name!r} contains '..'")
    return "/".join(parts)


class Source:
    """Read-only access to the files of an archive by their relative names."""

    label: str

    def has(self, name: str) -> bool:
        raise NotImplementedError

    def size(self, name: str) -> int:
        raise NotImplementedError

    def open(self, name: str) -> t.Any:
        raise NotImplementedError

    def read(self, name: str, what: str, limit: int = MAX_JSON) -> bytes:
        if self.size(name) > limit:
            raise ArchiveError(self.label, f"{what} {name!r} is larger than {limit} bytes")
        with contextlib.closing(self.open(name)) as fh:
            data = fh.read(limit + 1)
        if len(data) > limit:
            raise ArchiveError(self.label, f"{what} {name!r} is larger than {limit} bytes")
        return t.cast(bytes, data)

    def head(self, name: str, n: int = 8) -> bytes:
        with contextlib.closing(self.open(name)) as fh:
            return read_upto(fh, n)


class _TarSource(Source):
    """Members of an uncompressed tar file, reached by seeking (tarfile random access)."""

    def __init__(self, label: str, fileobj: t.BinaryIO) -> None:
        self.label = label
        try:
            self._tf = tarfile.open(fileobj=fileobj, mode="r:")
            members = self._tf.getmembers()
        except tarfile.TarError as exc:
            raise ArchiveError(label, f"not a tar archive ({exc})") from None
        self._members: dict[str, tarfile.TarInfo] = {}
        for m in members:
            name = member_name(label, m.name)
            if name:
                self._members[name] = m

    def _resolve(self, name: str) -> tarfile.TarInfo | None:
        m = self._members.get(name)
        hops = 0
        while m is not None and (m.issym() or m.islnk()):
            hops += 1
            if hops > _MAX_LINKS:
                raise ArchiveError(self.label, f"too many levels of links at {name!r}")
            if m.issym():
                if m.linkname.startswith("/"):
                    raise ArchiveError(self.label, f"symlink {m.name!r} points to an absolute path")
                target = normalize_name(posixpath.join(posixpath.dirname(name), m.linkname))
            else:
                target = normalize_name(m.linkname)
            if target is None:
                raise ArchiveError(self.label, f"link {m.name!r} -> {m.linkname!r} leaves the archive")
            name = target
            m = self._members.get(name)
        return m

    def has(self, name: str) -> bool:
        m = self._resolve(name)
        return m is not None and m.isreg()

    def _regular(self, name: str) -> tarfile.TarInfo:
        m = self._resolve(name)
        if m is None:
            raise ArchiveError(self.label, f"{name!r} is missing")
        if not m.isreg():
            raise ArchiveError(self.label, f"{name!r} is not a regular file")
        return m

    def size(self, name: str) -> int:
        return self._regular(name).size

    def open(self, name: str) -> t.Any:
        fh = self._tf.extractfile(self._regular(name))
        if fh is None:
            raise AssertionError('fh is not None')
        return fh


class _DirSource(Source):
    """Files of an extracted archive (an OCI layout directory); nothing outside it is read."""

    def __init__(self, root: str) -> None:
        self.label = root
        self._root = os.path.realpath(root)

    def _path(self, name: str) -> str:
        rel = member_name(self.label, name, "path")
        real = os.path.realpath(os.path.join(self._root, rel))
        if not real.startswith(self._root + os.sep):
            raise ArchiveError(self.label, f"{name!r} resolves outside the directory")
        return real

    def has(self, name: str) -> bool:
        return os.path.isfile(self._path(name))

    def size(self, name: str) -> int:
        path = self._path(name)
        if not os.path.isfile(path):
            raise ArchiveError(self.label, f"{name!r} is missing or not a regular file")
        return os.stat(path).st_size

    def open(self, name: str) -> t.Any:
        path = self._path(name)
        try:
            return open(path, "rb")
        except OSError as exc:
            raise ArchiveError(self.label, f"cannot read {name!r}: {exc.strerror}") from None


@contextlib.contextmanager
def open_source(path: str, tmp_dir: str) -> t.Iterator[Source]:
    if os.path.isdir(path):
        yield _DirSource(path)
        return
    try:
        fh = os.fdopen(os.dup(0), "rb") if path == "-" else open(path, "rb")
    except OSError as exc:
        raise ArchiveError(path, exc.strerror or str(exc)) from None
    with fh:
        head = read_upto(fh, 8)
        if not head:
            raise ArchiveError(path, "the file is empty")
        kind = sniff(head)
        if kind == "none" and fh.seekable():
            fh.seek(0)
            yield _TarSource(path, fh)
            return
        # Compressed or a pipe: spool the plain tar into the store's tmp/ for random access.
        tmp = fs.staging_path(tmp_dir, "archive", ".tar")
        try:
            with open(tmp, "xb") as out:
                plain = decompressed(Prefixed(head, fh), kind)
                try:
                    while True:
                        chunk = plain.read(COPY)
                        if not chunk:
                            break
                        out.write(chunk)
                except StoreError as exc:
                    raise ArchiveError(path, f"cannot decompress ({kind}): {exc}") from None
                except Exception as exc:
                    if is_corrupt(exc):
                        raise ArchiveError(path, f"cannot decompress ({kind}): {exc}") from None
                    raise
            with open(tmp, "rb") as spooled:
                yield _TarSource(path, spooled)
        finally:
            fs.remove_quietly(tmp)
