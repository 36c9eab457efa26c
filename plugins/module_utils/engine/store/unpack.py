# SPDX-License-Identifier: GPL-3.0-or-later
"""Stream image layers (tar, tar+gzip, tar+zstd) into an overlayfs lower directory.

Two steps, both streaming:

* :func:`open_decompressed` (``decompress.py``) turns the raw blob stream into the uncompressed tar
  (gzip by zlib, zstd by the optional ``zstandard`` module or else the ``zstd`` command).
* :func:`extract_layer` reads that tar member by member and writes it below an
  empty directory, converting OCI whiteouts to overlayfs ones.

Safety model: *dest* starts empty and nothing else writes to it while we run,
so every entry below it was made by this extraction and is recorded in a table
(path -> kind).  Names are normalised lexically and refused if they climb above
the layer root; a member whose parent is a symlink (or a non-directory) we made
is refused; hard links must point at a non-directory we made.  Parents are
therefore real directories inside *dest*, and the last component is always
created with ``O_EXCL``/``mkdir``/``mknod``/``symlink``, which never follow a
symlink.  We never ask the kernel to resolve ``..`` or a symlink we did not check.
"""
from __future__ import annotations

import decimal
import errno
import math
import os
import shutil
import stat
import struct
import tarfile
import typing as t

from ..errors import StoreError, UnsafeLayer
from .decompress import CorruptStream, Prefixed, read_upto
from .whiteouts import OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX


_WHITEOUT_PREFIX = WHITEOUT_PREFIX
_WHITEOUT_META_PREFIX = ".wh..wh."
_OPAQUE = WHITEOUT_OPAQUE
_XATTR_PAX_PREFIX = "SCHILY.xattr."
#: Overlay's own metadata may only come from our whiteout conversion, never from the tar.
_FORBIDDEN_XATTR_PREFIX = "trusted.overlay."
#: Like Docker, xattrs the file system refuses are skipped instead of failing the layer.
_XATTR_SKIP_ERRNOS = (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM)

_COPY_SIZE = 1 << 20  # file content is copied in chunks of this size
_MAX_SECONDS = (1 << 63) // 1_000_000_000
_MAX_ID = 0xFFFFFFFF  # (uid_t)-1 means "unchanged" to chown
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

# Kinds of entries recorded while extracting.
DIR = "d"
FILE = "f"
SYMLINK = "l"
SPECIAL = "s"  # devices, FIFOs and whiteouts


# --------------------------------------------------------------------------- names


def normalize_name(name: str) -> str | None:
    """Member name -> path relative to the layer root ("" is the root itself).

    Leading ``/`` and ``./`` are dropped (Docker does the same); ``..`` is
    resolved lexically.  Returns None when the name climbs above the root or
    contains NUL.
    """
    if "\0" in name:
        return None
    parts: list[str] = []
    for part in name.split("/"):
        if part == "" or part == ".":
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)


def split_name(rel: str) -> tuple[str, str]:
    """``"a/b/c"`` -> ``("a/b", "c")``; ``"c"`` -> ``("", "c")``."""
    parent, _sep, base = rel.rpartition("/")
    return parent, base


def whiteout_target(base: str) -> str | None:
    """The name hidden by the whiteout file *base* (``.wh.NAME``); None if invalid."""
    name = base[len(_WHITEOUT_PREFIX):]
    if name in ("", ".", ".."):
        return None
    return name


def times_ns(mtime: float | str) -> int | None:
    """Tar mtime (seconds, maybe fractional; a PAX string is exact) -> ns; None when unusable."""
    if isinstance(mtime, int) and 0 <= mtime < _MAX_SECONDS:
        return mtime * 1_000_000_000
    try:
        if isinstance(mtime, str):
            ns = int((decimal.Decimal(mtime) * 1_000_000_000).to_integral_value(decimal.ROUND_FLOOR))
        else:
            seconds = math.floor(mtime)
            ns = seconds * 1_000_000_000 + round((mtime - seconds) * 1e9)
    except (ArithmeticError, ValueError, TypeError):
        return None
    return ns if -(1 << 63) <= ns < (1 << 63) else None


def mtime_ns(member: tarfile.TarInfo) -> int | None:
    """The member's mtime in ns, exact for PAX sub-second times."""
    mtime = member.mtime
    if isinstance(mtime, int) and 0 <= mtime < _MAX_SECONDS:
        return mtime * 1_000_000_000
    return times_ns(member.pax_headers.get("mtime", mtime))


def xattrs_of(pax_headers: t.Mapping[str, str]) -> list[tuple[str, bytes]]:
    """The ``SCHILY.xattr.*`` records of a member, minus overlay's own ``trusted.overlay.*``."""
    out = []
    for key, value in pax_headers.items():
        if key.startswith(_XATTR_PAX_PREFIX):
            name = key[len(_XATTR_PAX_PREFIX):]
            if name.startswith(_FORBIDDEN_XATTR_PREFIX):
                continue
            out.append((name, value.encode("utf-8", "surrogateescape")))
    return out


# --------------------------------------------------------------------------- tar headers

_USTAR = struct.Struct("100s8s8s8s12s12s8sc100s8s32s32s8s8s155s12x")
_EOF_BLOCK = bytes(tarfile.BLOCKSIZE)


def _octal(field: bytes) -> int:
    """Like tarfile.nti for octal fields; ValueError for anything else (base-256 included)."""
    field = field.split(b"\0", 1)[0].strip()
    return int(field, 8) if field else 0


def _text(field: bytes, encoding: str, errors: str) -> str:
    return field.split(b"\0", 1)[0].decode(encoding, errors)


def parse_header(cls: type[tarfile.TarInfo], buf: bytes, encoding: str, errors: str,
                 dircheck: bool = True) -> tarfile.TarInfo | None:
    """The common case of ``TarInfo.frombuf``, about three times faster.

    Returns None (the caller then asks tarfile) for anything unusual: a short,
    empty or end-of-archive block, a bad unsigned checksum, GNU sparse headers,
    base-256 or malformed numbers.  Otherwise the result equals tarfile's.
    """
    if len(buf) != tarfile.BLOCKSIZE or buf[156:157] == tarfile.GNUTYPE_SPARSE or buf == _EOF_BLOCK:
        return None
    (name, mode, uid, gid, size, mtime, chksum, kind, linkname, _magic, uname, gname, devmajor, devminor,
     prefix) = _USTAR.unpack(buf)
    try:
        checksum = _octal(chksum)
        if checksum != 256 + sum(buf) - sum(chksum):
            return None
        obj = cls()
        obj.name = _text(name, encoding, errors)
        obj.mode = _octal(mode)
        obj.uid = _octal(uid)
        obj.gid = _octal(gid)
        obj.size = _octal(size)
        obj.mtime = _octal(mtime)
        obj.chksum = checksum
        obj.type = kind
        obj.linkname = _text(linkname, encoding, errors)
        obj.uname = _text(uname, encoding, errors)
        obj.gname = _text(gname, encoding, errors)
        obj.devmajor = _octal(devmajor)
        obj.devminor = _octal(devminor)
        full_prefix = _text(prefix, encoding, errors)
    except ValueError:
        return None
    if dircheck and kind == tarfile.AREGTYPE and obj.name.endswith("/"):
        obj.type = tarfile.DIRTYPE
    if obj.type == tarfile.DIRTYPE:
        obj.name = obj.name.rstrip("/")
    if full_prefix and obj.type not in tarfile.GNU_TYPES:
        obj.name = full_prefix + "/" + obj.name
    return obj


class _TarInfo(tarfile.TarInfo):
    """TarInfo with a faster header parser (``TarFile(tarinfo=...)`` is the documented hook)."""

    __slots__ = ()

    @classmethod
    def frombuf(cls, buf: bytes, encoding: str, errors: str) -> tarfile.TarInfo:
        obj = parse_header(cls, buf, encoding, errors)
        return obj if obj is not None else super().frombuf(buf, encoding, errors)

    if hasattr(tarfile.TarInfo, "_frombuf"):  # newer CPython parses through _frombuf(..., dircheck=)

        @classmethod
        def _frombuf(cls, buf: bytes, encoding: str, errors: str, **kwargs: t.Any) -> tarfile.TarInfo:
            obj = None
            if set(kwargs) <= {"dircheck"}:
                obj = parse_header(cls, buf, encoding, errors, kwargs.get("dircheck", True))
            return obj if obj is not None else super()._frombuf(buf, encoding, errors, **kwargs)  # type: ignore[misc]


# --------------------------------------------------------------------------- extraction


class _Extractor:
    """Writes members of one layer below *dest*; remembers what it created."""

    def __init__(self, tf: tarfile.TarFile, dest: str, layer: str) -> None:
        self._tf = tf
        self._dest = dest
        self._root = dest.rstrip("/") + "/"
        self._layer = layer
        self._kinds: dict[str, str] = {"": DIR}
        self._dir_times: dict[str, int] = {}
        self.written = 0

    # ---- helpers

    def _unsafe(self, member: tarfile.TarInfo, reason: str) -> UnsafeLayer:
        return UnsafeLayer(self._layer, member.name, reason)

    def _path(self, rel: str) -> str:
        return self._root + rel if rel else self._dest

    def _parent_dir(self, parent: str, member: tarfile.TarInfo) -> None:
        """Make sure *parent* is a real directory made by this layer (create it if missing)."""
        kinds = self._kinds
        if kinds.get(parent) == DIR:
            return
        current = ""
        for part in parent.split("/"):
            current = f"{current}/{part}" if current else part
            kind = kinds.get(current)
            if kind == DIR:
                continue
            if kind == SYMLINK:
                raise self._unsafe(member, f"has a parent {current!r} that is a symlink in this layer")
            if kind is not None:
                raise self._unsafe(member, f"has a parent {current!r} that is not a directory")
            if part.startswith(_WHITEOUT_PREFIX):
                raise self._unsafe(member, "has a whiteout as a parent directory")
            path = self._root + current
            os.mkdir(path, 0o755)
            os.chmod(path, 0o755)
            kinds[current] = DIR

    def _remove(self, rel: str, kind: str) -> None:
        """Remove an entry made earlier in this layer (a later member replaces it)."""
        path = self._root + rel
        if kind == DIR:
            self._forget_tree(rel)
            shutil.rmtree(path)
            self._dir_times.pop(rel, None)
        else:
            os.unlink(path)
        del self._kinds[rel]

    def _forget_tree(self, rel: str) -> None:
        """Drop the records below directory *rel* (cost: the size of that subtree)."""
        kinds, dir_times, cut = self._kinds, self._dir_times, len(self._root)
        for dirpath, dirnames, filenames in os.walk(self._root + rel):
            base = dirpath[cut:]
            for name in dirnames + filenames:
                key = f"{base}/{name}"
                kinds.pop(key, None)
                dir_times.pop(key, None)

    def _set_xattrs(self, target: int | str, member: tarfile.TarInfo) -> None:
        """Apply the member's xattrs to an fd or (not followed) path."""
        if not member.pax_headers:
            return
        for name, value in xattrs_of(member.pax_headers):
            if not name or "\0" in name:
                raise self._unsafe(member, f"has an invalid xattr name {name!r}")
            try:
                if isinstance(target, int):
                    os.setxattr(target, name, value)
                else:
                    os.setxattr(target, name, value, follow_symlinks=False)
            except OSError as exc:
                if exc.errno not in _XATTR_SKIP_ERRNOS:
                    raise

    def _owner(self, member: tarfile.TarInfo) -> tuple[int, int]:
        uid, gid = member.uid, member.gid
        if not (0 <= uid < _MAX_ID and 0 <= gid < _MAX_ID):
            raise self._unsafe(member, f"has an invalid owner {uid}:{gid}")
        return uid, gid

    def _set_meta(self, path: str, member: tarfile.TarInfo, chmod: bool = True) -> None:
        """Owner, mode, xattrs and mtime of a non-regular entry, never following symlinks."""
        os.chown(path, *self._owner(member), follow_symlinks=False)
        if chmod:
            os.chmod(path, member.mode & 0o7777)
        self._set_xattrs(path, member)
        ns = mtime_ns(member)
        if ns is not None:
            os.utime(path, ns=(ns, ns), follow_symlinks=False)

    # ---- entry points

    def member(self, member: tarfile.TarInfo) -> None:
        """Extract one member (dispatch on the name first, then the type)."""
        rel = normalize_name(member.name)
        if rel is None:
            reason = "contains NUL" if "\0" in member.name else "escapes the layer root"
            raise self._unsafe(member, reason)
        parent, base = split_name(rel)
        if _WHITEOUT_PREFIX in rel and self._whiteout_name(rel, parent, base, member):
            return
        if not rel:
            if not member.isdir():
                raise self._unsafe(member, "would replace the layer root")
            return  # like Docker: the root entry's metadata is not applied
        if parent:
            self._parent_dir(parent, member)
        if member.isreg():
            self._replace(rel)
            self._file(rel, member)
        elif member.isdir():
            self._dir(rel, member)
        elif member.issym():
            self._symlink(rel, member)
        elif member.islnk():
            self._hardlink(rel, member)
        elif member.ischr() or member.isblk() or member.isfifo():
            self._replace(rel)
            self._special(rel, member)
        else:
            raise self._unsafe(member, f"has an unsupported type {member.type!r}")

    def finish(self) -> None:
        """Set directory mtimes last: creating children changed them."""
        for rel, ns in self._dir_times.items():
            os.utime(self._path(rel), ns=(ns, ns), follow_symlinks=False)

    # ---- member types

    def _replace(self, rel: str) -> None:
        kind = self._kinds.get(rel)
        if kind is not None:
            self._remove(rel, kind)

    def _file(self, rel: str, member: tarfile.TarInfo) -> None:
        """A regular file: content, then owner, mode, xattrs, mtime, all through the fd."""
        uid, gid = self._owner(member)
        fd = os.open(self._root + rel, _WRITE_FLAGS, 0o600)
        self._kinds[rel] = FILE
        try:
            if member.size:
                self._copy(fd, member)
            os.fchown(fd, uid, gid)
            os.fchmod(fd, member.mode & 0o7777)  # after chown, which clears setuid/setgid
            if member.pax_headers:
                self._set_xattrs(fd, member)  # after chown and write, which clear security.capability
            ns = mtime_ns(member)
            if ns is not None:
                os.utime(fd, ns=(ns, ns))
        finally:
            os.close(fd)
        self.written += member.size

    def _copy(self, fd: int, member: tarfile.TarInfo) -> None:
        """Copy the member's content to *fd*; runs before the tar advances.

        The common case reads the tar stream directly (it is positioned at the
        member's data right after ``next()``); sparse members, or any other
        position, go through ``extractfile``.
        """
        src = self._tf.fileobj
        if member.sparse is not None or src.tell() != member.offset_data:
            src = self._tf.extractfile(member)
        remaining = member.size
        read, write = src.read, os.write
        while remaining > 0:
            chunk = read(remaining if remaining < _COPY_SIZE else _COPY_SIZE)
            if not chunk:
                raise CorruptStream("unexpected end of data")
            remaining -= len(chunk)
            written = write(fd, chunk)
            if written != len(chunk):
                view = memoryview(chunk)[written:]
                while view:
                    view = view[write(fd, view):]

    def _dir(self, rel: str, member: tarfile.TarInfo) -> None:
        kind = self._kinds.get(rel)
        if kind != DIR:
            if kind is not None:
                self._remove(rel, kind)
            os.mkdir(self._root + rel, 0o700)
            self._kinds[rel] = DIR
        path = self._root + rel
        os.chown(path, *self._owner(member), follow_symlinks=False)
        os.chmod(path, member.mode & 0o7777)
        self._set_xattrs(path, member)
        ns = mtime_ns(member)
        if ns is None:
            self._dir_times.pop(rel, None)
        else:
            self._dir_times[rel] = ns

    def _symlink(self, rel: str, member: tarfile.TarInfo) -> None:
        if "\0" in member.linkname:
            raise self._unsafe(member, "has a symlink target containing NUL")
        self._replace(rel)
        path = self._root + rel
        os.symlink(member.linkname, path)
        self._kinds[rel] = SYMLINK
        self._set_meta(path, member, chmod=False)

    def _hardlink(self, rel: str, member: tarfile.TarInfo) -> None:
        """Link to an entry of this layer; the shared inode keeps its own metadata (as GNU tar)."""
        target = normalize_name(member.linkname)
        if target is None:
            raise self._unsafe(member, f"is a hardlink to {member.linkname!r}, which escapes the layer root")
        kind = self._kinds.get(target)
        if kind is None or kind == DIR:
            raise self._unsafe(member, self._bad_link_reason(target, kind))
        if target == rel:
            return
        self._replace(rel)
        os.link(self._root + target, self._root + rel, follow_symlinks=False)
        self._kinds[rel] = kind

    def _bad_link_reason(self, target: str, kind: str | None) -> str:
        if kind == DIR:
            return f"is a hardlink to directory {target!r}"
        parts = target.split("/")
        for i in range(1, len(parts)):
            if self._kinds.get("/".join(parts[:i])) == SYMLINK:
                return f"is a hardlink to {target!r}, which passes through a symlink"
        return f"is a hardlink to {target!r}, which is not an earlier entry of this layer"

    def _special(self, rel: str, member: tarfile.TarInfo) -> None:
        path = self._root + rel
        if member.isfifo():
            os.mkfifo(path, 0o600)
        else:
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            try:
                device = os.makedev(member.devmajor, member.devminor)
            except (OverflowError, ValueError):
                raise self._unsafe(member, f"has an invalid device {member.devmajor}:{member.devminor}") from None
            os.mknod(path, kind | 0o600, device)
        self._kinds[rel] = SPECIAL
        self._set_meta(path, member)

    def _whiteout_name(self, rel: str, parent: str, base: str, member: tarfile.TarInfo) -> bool:
        """Handle a name with ``.wh.`` in it; False when it is an ordinary name after all."""
        if any(part.startswith(_WHITEOUT_META_PREFIX) for part in parent.split("/")) or (
            base.startswith(_WHITEOUT_META_PREFIX) and base != _OPAQUE
        ):
            return True  # aufs metadata (.wh..wh.plnk/, .wh..wh.aufs, ...) is skipped
        if base.startswith(_WHITEOUT_PREFIX):
            self._whiteout(parent, base, member)
            return True
        return False

    def _whiteout(self, parent: str, base: str, member: tarfile.TarInfo) -> None:
        """``.wh..wh..opq`` -> opaque parent; ``.wh.NAME`` -> 0:0 char device NAME."""
        if parent:
            self._parent_dir(parent, member)
        if base == _OPAQUE:
            os.setxattr(self._path(parent), OPAQUE_XATTR, b"y", follow_symlinks=False)
            return
        name = whiteout_target(base)
        if name is None:
            raise self._unsafe(member, "is an invalid whiteout")
        rel = f"{parent}/{name}" if parent else name
        self._replace(rel)
        path = self._root + rel
        os.mknod(path, stat.S_IFCHR, os.makedev(0, 0))
        self._kinds[rel] = SPECIAL
        os.chown(path, *self._owner(member), follow_symlinks=False)


def _check_empty(dest: str, layer: str) -> None:
    """The safety model needs an empty *dest* (everything below it is ours)."""
    try:
        with os.scandir(dest) as entries:
            first = next(entries, None)
    except OSError as exc:
        raise StoreError(f"layer {layer}: cannot use extraction directory {dest}: {exc}") from exc
    if first is not None:
        raise StoreError(f"layer {layer}: extraction directory {dest} is not empty")


def extract_layer(stream: t.BinaryIO, dest: str, layer: str) -> int:
    """Extract the uncompressed tar *stream* into the empty directory *dest*.

    *layer* (the digest) names the layer in errors.  Returns the bytes of
    regular-file content written.  Reads up to the end-of-archive marker; the
    caller drains the rest.  Raises :class:`UnsafeLayer` for members that would
    write outside *dest* (nothing outside is touched by then; the caller
    removes *dest*) and :class:`StoreError` for unreadable data or I/O errors.
    """
    _check_empty(dest, layer)
    head = read_upto(stream, tarfile.BLOCKSIZE)
    if not head:
        return 0  # an empty stream is an empty layer, as for Docker
    current = "<header>"
    try:
        with tarfile.open(fileobj=Prefixed(head, stream), mode="r|", tarinfo=_TarInfo) as tf:
            extractor = _Extractor(tf, dest, layer)
            member = tf.next()
            while member is not None:
                del tf.members[:]  # stream mode would keep every TarInfo alive
                current = member.name
                extractor.member(member)
                current = "<header>"
                member = tf.next()
            extractor.finish()
    except UnsafeLayer:
        raise
    except (tarfile.TarError, CorruptStream, EOFError) as exc:
        raise StoreError(f"layer {layer}: unreadable tar stream near member {current!r}: {exc}") from exc
    except OSError as exc:
        raise StoreError(f"layer {layer}: cannot extract member {current!r}: {exc}") from exc
    return extractor.written
