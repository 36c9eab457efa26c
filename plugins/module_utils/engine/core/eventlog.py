# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine's event log: what ``berth events`` reads back (docker's ``/events``, without a daemon).

``<data root>/events.log`` holds one JSON object per line, docker's events message::

    {"Type": "container", "Action": "start", "Actor": {"ID": "<id>", "Attributes": {"image": ..., "name": ...}},
     "id": "<id>", "status": "start", "from": "<image>", "scope": "local", "time": 1700000000,
     "timeNano": 1700000000123456789}

Writers (the services on create/start/stop/kill/pause/unpause/rename/update/destroy/exec_*, the monitor on
die) call :func:`record`: one ``write`` of the whole line to a descriptor opened ``O_APPEND`` (so lines
from concurrent writers never interleave), mode 0600, no symlink followed. Recording never fails the
operation it reports. When the file grows past :data:`MAX_BYTES`, the writer that noticed keeps the newer
half (whole lines, written atomically, under an ``flock`` of the log so one writer trims at a time).

Readers go through :func:`read`: the file must be root's and not writable by others (``core/trust``), and
a line that is not a JSON object (torn by a crash) is skipped.

On the start path of ``berth run`` (create and start record events): no typing or json at import time,
the line is made by ``core/cjson``.
"""
from __future__ import annotations

import os
import time

from . import cjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

#: The log is trimmed to half of this once it grows past it.
MAX_BYTES = 1 << 20
_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW


def message(type_: str, action: str, actor_id: str, attributes: t.Mapping[str, t.Any] | None = None,
            now_ns: int | None = None) -> dict[str, t.Any]:
    """Docker's events message (with the deprecated ``status``/``id``/``from`` of container events)."""
    ns = time.time_ns() if now_ns is None else now_ns
    attrs = {str(k): str(v) for k, v in (attributes or {}).items()}
    msg: dict[str, t.Any] = {"Type": type_, "Action": action, "Actor": {"ID": actor_id, "Attributes": attrs},
                             "scope": "local", "time": ns // 1_000_000_000, "timeNano": ns}
    if type_ == "container":
        msg.update(status=action, id=actor_id, **{"from": attrs.get("image", "")})
    return msg


def record(path: str, type_: str, action: str, actor_id: str,
           attributes: t.Mapping[str, t.Any] | None = None, max_bytes: int = MAX_BYTES) -> None:
    """Append one event to the log at *path* (see the module docstring); never raises ``OSError``."""
    line = (cjson.dumps(message(type_, action, actor_id, attributes)) + "\n").encode()
    try:
        fd = os.open(path, _FLAGS, 0o600)
    except OSError:
        return  # no data root yet, a read-only one...: the operation itself goes on
    try:
        os.write(fd, line)
        size = os.fstat(fd).st_size
    except OSError:
        return
    finally:
        os.close(fd)
    if size > max_bytes:
        _trim(path, max_bytes // 2)


def _trim(path: str, keep: int) -> None:
    """Keep the last *keep* bytes of whole lines (an atomic replace, one trimmer at a time)."""
    import fcntl

    from . import fs

    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return  # another writer is trimming it
        size = os.fstat(fd).st_size
        if size <= keep * 2 or os.stat(path).st_ino != os.fstat(fd).st_ino:
            return  # trimmed meanwhile
        os.lseek(fd, size - keep, os.SEEK_SET)
        tail = os.read(fd, keep)
        tail = tail[tail.find(b"\n") + 1:]
        fs.atomic_write(path, tail, mode=0o600, fsync=False)
    except OSError:
        pass
    finally:
        os.close(fd)


def read(path: str) -> list[dict[str, t.Any]]:
    """The events of the log at *path*, oldest first ([] when there is none); an untrusted file (not
    root's, writable by others, a symlink) raises ``UntrustedPath``."""
    from . import trust

    try:
        data = trust.read_trusted(path, "event log")
    except FileNotFoundError:
        return []
    return parse(data)


def parse(data: bytes) -> list[dict[str, t.Any]]:
    out = []
    for line in data.splitlines():
        try:
            event = cjson.loads(line)
        except (ValueError, TypeError):
            continue
        if isinstance(event, dict) and isinstance(event.get("timeNano"), int):
            out.append(event)
    return out


def follow(path: str, after_ns: int = 0, until_ns: int | None = None, poll: float = 0.2,
           sleep: t.Callable[[float], None] = time.sleep) -> t.Iterator[dict[str, t.Any]]:
    """The events of the log at *path* newer than *after_ns*, then each new one as it is written, until
    *until_ns* (ns since the epoch; None: for ever). A trim (the file replaced) is read again from its
    start, skipping what was seen."""
    from . import trust

    seen = after_ns
    inode, offset, partial = None, 0, b""
    while True:
        try:
            fd = trust.open_trusted(path, what="event log")
        except FileNotFoundError:
            fd = -1
        if fd >= 0:
            try:
                st = os.fstat(fd)
                if st.st_ino != inode or st.st_size < offset:
                    inode, offset, partial = st.st_ino, 0, b""
                os.lseek(fd, offset, os.SEEK_SET)
                chunks = [partial]
                while True:
                    chunk = os.read(fd, 1 << 20)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    offset += len(chunk)
            finally:
                os.close(fd)
            data = b"".join(chunks)
            complete, _sep, partial = data.rpartition(b"\n")
            for event in parse(complete):
                if until_ns is not None and event["timeNano"] > until_ns:
                    return
                if event["timeNano"] > seen:
                    seen = event["timeNano"]
                    yield event
        if until_ns is not None and time.time_ns() > until_ns:
            return
        sleep(poll)
