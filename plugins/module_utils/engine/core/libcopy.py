# SPDX-License-Identifier: GPL-3.0-or-later
"""A private copy of the engine package for processes that outlive their caller (container monitors).

An Ansible task runs the engine from an AnsiballZ payload (``module_utils`` inside a zip) that is
deleted when the task ends, and a checkout may change under a running container. So monitors import a
copy made once per content::

    <root>/lib/<sha256 of the content>/berth_engine/...   plugins/module_utils without glue/ and cli/
    <root>/lib/.stamps/<key>                             source key -> content hash (the fast path)

:func:`ensure_lib` returns the ``<root>/lib/<hash>`` directory to put on ``sys.path`` (then
``import berth_engine.engine...``). The copy is written to a temporary directory and renamed into
place under a lock, so a half-written copy is never visible; an existing one is reused only once it
is verified, since monitors import it as root (a data root on a world-writable tmpfs let another user
plant ``lib/<hash>/`` first, and the hash is predictable): every directory, file and ``__pycache__``
entry of the copy must be root's and not writable by group or others (:func:`_untrusted`, one
``lstat`` walk: ~0.4 ms for ~100 entries), and where the files were read anyway (no stamp yet) the
copy's content must equal them. A copy that fails is discarded and installed again.

The content hash is sha256 over the sorted ``(relative path, content)`` pairs. Finding it again is
cheap: the source is summarised by a *key* — for a zip, its central directory (names, CRCs, sizes; no
decompression); for a directory, the newest mtime, file count and total size from one ``scandir`` walk
(in-place edits of a checkout are noticed) — and the key's stamp file names the hash.
Old copies stay while a process names them or for an hour; installing a new copy prunes the others
(:func:`prune`, also ``berth system prune``).
"""
from __future__ import annotations

import os

from ..errors import UntrustedPath
from . import fs, trust
from .fasthash import sha256

# Every container start calls ensure_lib(): no typing at run time, and SHA-256 from the interpreter's
# built-in module (hashlib loads OpenSSL: ~5 ms on the test hosts).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    from .layout import Layout


PACKAGE = "berth_engine"
#: Top-level parts of module_utils that a monitor never needs (and that AnsiballZ may not even ship).
EXCLUDED = ("glue", "cli")
#: plugins/module_utils, as this file sees it (a directory, or a path inside a zip).
MODULE_UTILS = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def ensure_lib(layout: Layout, source: str | None = None) -> str:
    """Make sure ``<root>/lib/<hash>/berth_engine`` holds the engine this code runs from; return the
    directory to put on ``sys.path``. *source* (default: the running package) is a ``module_utils``
    directory or a path inside a zip archive."""
    digest, files, stamp = _current(layout, source)
    target = os.path.join(layout.lib_dir, digest)
    if files is None:
        if _untrusted(target) is False:
            return target
        files = _open_files(source)  # the stamp's copy failed its check: make it again, verified
        digest = content_hash(files)
        target = os.path.join(layout.lib_dir, digest)
    installed = False
    if _untrusted(target, files) is not False:
        fs.ensure_dir(layout.locks_dir, 0o700)
        from .locks import flock

        with flock(layout.object_lock("lib", digest)):
            bad = _untrusted(target, files)
            if bad:
                fs.discard(target, layout.tmp_dir)
            if bad is not False:
                _install(layout.lib_dir, digest, files)
                installed = True
    fs.ensure_dir(os.path.dirname(stamp))
    fs.atomic_write(stamp, digest, fsync=False)
    if installed:  # a new engine version: copies of old ones nobody uses go now (rare; system prune too)
        try:
            prune(layout, current=digest)
        except OSError:
            pass  # a copy that cannot be deleted now is tried again next time
    return target


def _current(layout: Layout, source: str | None) -> tuple[str, dict[str, bytes] | None, str]:
    """(content hash, the files when no complete copy is known, stamp path) of *source*: the stamp of
    the source's key names the hash without reading the files, when its copy exists."""
    src = _open_source(source or MODULE_UTILS)
    try:
        key = src.key()
        stamp = os.path.join(layout.lib_dir, ".stamps",
                             sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32])
        known = _read_text(stamp)
        if known and os.path.isdir(os.path.join(layout.lib_dir, known, PACKAGE)):
            return known, None, stamp
        files = src.files()
    finally:
        src.close()
    return content_hash(files), files, stamp


def _open_files(source: str | None) -> dict[str, bytes]:
    src = _open_source(source or MODULE_UTILS)
    try:
        return src.files()
    finally:
        src.close()


def _untrusted(target: str, files: t.Mapping[str, bytes] | None = None) -> str | bool | None:
    """None when the copy *target* is missing; else what is wrong with it (a path and why), or False
    when every entry is root's, not writable by others and no symlink, and (given *files*) it holds
    exactly *files* (plus the ``__init__.py`` files :func:`_install` adds, and bytecode)."""
    try:
        top = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError:
        return f"{target}: not a directory"
    seen: set[str] = set()
    try:
        why = trust.problem(os.fstat(top)) or _check_tree(top, target, "", files, seen)
    except OSError as exc:
        why = f"{target}: {exc.strerror}"
    finally:
        os.close(top)
    if why:
        return why
    if files is not None and seen != set(files):
        return f"{target}: an incomplete copy"
    return False


def _check_tree(dfd: int, target: str, rel_dir: str, files: t.Mapping[str, bytes] | None,
                seen: set[str]) -> str | None:
    with os.scandir(dfd) as it:
        entries = list(it)
    for entry in entries:
        rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
        why = trust.problem(entry.stat(follow_symlinks=False)) or (
            "a symbolic link" if entry.is_symlink() else None)
        if not why and entry.is_dir(follow_symlinks=False):
            sub = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
            try:
                why = _check_tree(sub, target, rel, files, seen)
            finally:
                os.close(sub)
            if why:
                return why
        elif not why and files is not None:
            why = _check_file(dfd, entry.name, rel, files, seen)
        if why:
            return why if why.startswith(target) else f"{target}/{rel}: {why}"
    return None


def _check_file(dfd: int, name: str, rel: str, files: t.Mapping[str, bytes], seen: set[str]) -> str | None:
    inner = rel[len(PACKAGE) + 1:] if rel.startswith(PACKAGE + "/") else None
    if inner is None or inner not in files:
        return None if inner is not None and (not _wanted(inner) or name == "__init__.py") else "not the engine's"
    seen.add(inner)
    with os.fdopen(os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd), "rb") as fh:
        return None if fh.read() == files[inner] else "content differs from the engine's"


def content_hash(files: t.Mapping[str, bytes]) -> str:
    h = sha256()
    for rel in sorted(files):
        data = files[rel]
        h.update(rel.encode("utf-8", "surrogateescape") + b"\0" + str(len(data)).encode() + b"\0")
        h.update(data)
    return h.hexdigest()


def _install(lib_dir: str, digest: str, files: t.Mapping[str, bytes]) -> None:
    fs.ensure_dir(lib_dir)
    tmp = os.path.join(lib_dir, f".tmp-{digest[:12]}-{os.getpid()}-{os.urandom(4).hex()}")
    try:
        pkg = os.path.join(tmp, PACKAGE)
        dirs = {pkg}
        for rel, data in files.items():
            path = os.path.join(pkg, *rel.split("/"))
            parent = os.path.dirname(path)
            fs.ensure_dir(parent)
            while parent.startswith(pkg) and parent not in dirs:
                dirs.add(parent)
                parent = os.path.dirname(parent)
            with open(path, "wb") as fh:
                fh.write(data)
        for d in dirs:  # AnsiballZ may ship packages without their (empty) __init__.py
            init = os.path.join(d, "__init__.py")
            if not os.path.exists(init):
                open(init, "wb").close()
        os.rename(tmp, os.path.join(lib_dir, digest))
    except OSError:
        if os.path.isdir(os.path.join(lib_dir, digest, PACKAGE)):
            return  # somebody else (another host sharing the root?) won the rename
        raise
    finally:
        fs.rmtree(tmp)


def _read_text(path: str) -> str | None:
    """A stamp's hash; None when missing, unreadable, malformed or not root's (:mod:`.trust`)."""
    try:
        text = trust.read_trusted(path).decode("ascii").strip()
    except (OSError, ValueError, UntrustedPath):
        return None
    return text if len(text) == 64 and all(c in "0123456789abcdef" for c in text) else None


def _wanted(rel: str) -> bool:
    parts = rel.split("/")
    return parts[0] not in EXCLUDED and "__pycache__" not in parts and not rel.endswith((".pyc", ".pyo"))


class _DirSource:
    def __init__(self, root: str) -> None:
        self.root = root

    def _walk(self) -> t.Iterator[tuple[str, os.DirEntry[str]]]:
        stack = [""]
        while stack:
            rel_dir = stack.pop()
            with os.scandir(os.path.join(self.root, rel_dir)) as it:
                for entry in it:
                    rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                    if not _wanted(rel):
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(rel)
                    elif entry.is_file():
                        yield rel, entry

    def key(self) -> str:
        newest = count = total = 0
        for _rel, entry in self._walk():
            st = entry.stat()
            newest = max(newest, st.st_mtime_ns)
            count += 1
            total += st.st_size
        return f"dir:{self.root}:{newest}:{count}:{total}"

    def files(self) -> dict[str, bytes]:
        out = {}
        for rel, entry in self._walk():
            with open(entry.path, "rb") as fh:
                out[rel] = fh.read()
        return out

    def close(self) -> None:
        pass


class _ZipSource:
    def __init__(self, archive: str, prefix: str) -> None:
        import zipfile

        self.archive = archive
        prefix = prefix.strip("/")
        self.prefix = prefix + "/" if prefix not in ("", ".") else ""
        self.zip = zipfile.ZipFile(archive)
        self.members = {
            info.filename[len(self.prefix):]: info
            for info in self.zip.infolist()
            if info.filename.startswith(self.prefix) and not info.is_dir()
            and _wanted(info.filename[len(self.prefix):])
        }

    def key(self) -> str:
        h = sha256()
        for rel in sorted(self.members):
            info = self.members[rel]
            h.update(f"{rel}\0{info.CRC}\0{info.file_size}\0".encode("utf-8", "surrogateescape"))
        return f"zip:{h.hexdigest()}"

    def files(self) -> dict[str, bytes]:
        return {rel: self.zip.read(info) for rel, info in self.members.items()}

    def close(self) -> None:
        self.zip.close()


def _open_source(path: str) -> _DirSource | _ZipSource:
    """A directory, or ``<archive.zip>/<inner path>`` (AnsiballZ imports module_utils from a zip)."""
    if os.path.isdir(path):
        return _DirSource(path)
    archive = path
    while archive and archive != os.path.dirname(archive):
        if os.path.isfile(archive):
            return _ZipSource(archive, os.path.relpath(path, archive).replace(os.sep, "/"))
        archive = os.path.dirname(archive)
    raise FileNotFoundError(f"engine package source {path} is neither a directory nor inside an archive")


def prune(layout: Layout, min_age: float = 3600.0, proc: str = "/proc", current: str | None = None) -> int:
    """Delete the engine copies nothing uses any more; returns the bytes freed.

    Kept: the copy of the engine running this code (*current* when the caller knows its hash), any copy
    a live process names on its command line (monitors and their workers run ``python3 -c`` with the
    copy's path in the code), and copies younger than *min_age* seconds (a caller of another version may
    be about to start a monitor from one). :func:`ensure_lib` calls it after installing a new copy.
    """
    import time

    lib_dir = layout.lib_dir
    try:
        names = [n for n in os.listdir(lib_dir) if len(n) == 64 and not n.startswith(".")]
    except FileNotFoundError:
        return 0
    keep = {current or _current(layout, None)[0]} | _in_use(lib_dir, proc)  # nothing installed for the asking
    now = time.time()
    freed = 0
    for name in names:
        path = os.path.join(lib_dir, name)
        try:
            if name in keep or now - os.stat(path).st_mtime < min_age:
                continue
        except FileNotFoundError:
            continue
        size = fs.dir_size(path)
        if fs.discard(path, layout.tmp_dir):  # gone at once for ensure_lib, then deleted
            freed += size
    stamps = os.path.join(lib_dir, ".stamps")
    for stamp in os.listdir(stamps) if os.path.isdir(stamps) else ():
        target = _read_text(os.path.join(stamps, stamp))
        if not target or not os.path.isdir(os.path.join(lib_dir, target)):
            try:
                os.unlink(os.path.join(stamps, stamp))
            except FileNotFoundError:
                pass
    return freed


def _in_use(lib_dir: str, proc: str) -> set[str]:
    """The copies (hash names) that live processes name on their command lines."""
    needle = (lib_dir.rstrip("/") + "/").encode()
    found = set()
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        try:
            with open(os.path.join(proc, pid, "cmdline"), "rb") as fh:
                cmd = fh.read()
        except OSError:
            continue
        start = cmd.find(needle)
        while start != -1:
            name = cmd[start + len(needle):start + len(needle) + 64]
            if len(name) == 64:
                found.add(name.decode("ascii", "replace"))
            start = cmd.find(needle, start + 1)
    return found
