# SPDX-License-Identifier: GPL-3.0-or-later
"""/etc/passwd and /etc/group, parsed: the container's own (user resolution in ``supervisor.spec``) and the
host's (``userns-remap`` accounts in ``config.userns``)."""
from __future__ import annotations

from .value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time: the start path resolves users
    import typing as t


class Account(Value):
    """A passwd entry (``id`` the uid, ``gid`` the primary group) or a group entry (``id`` = ``gid``)."""

    __slots__ = _fields = ("name", "id", "gid", "home", "members")
    name: str
    id: int
    gid: int
    home: str
    members: tuple[str, ...]


def _records(text: str | None, numbers: int) -> t.Iterator[tuple[list[str], list[int]]]:
    """The colon-separated fields of each line, and fields 2.. (*numbers* of them) as integers; comments,
    blank lines and lines with too few fields or a non-numeric ID are skipped."""
    for line in (text or "").splitlines():
        parts = line.strip().split(":")
        if not line.strip() or line.startswith("#") or len(parts) < 2 + numbers:
            continue
        try:
            ids = [int(p) for p in parts[2:2 + numbers]]
        except ValueError:
            continue
        yield parts, ids


def parse_passwd(text: str | None) -> list[Account]:
    """``name:x:uid:gid:gecos:home:shell`` lines (comments, blank and malformed lines skipped)."""
    return [Account(parts[0], uid, gid, parts[5] if len(parts) > 5 else "", ())
            for parts, (uid, gid) in _records(text, 2)]


def parse_group(text: str | None) -> list[Account]:
    """``name:x:gid:user1,user2`` lines (comments, blank and malformed lines skipped)."""
    out = []
    for parts, (gid,) in _records(text, 1):
        members = tuple(m.strip() for m in parts[3].split(",") if m.strip()) if len(parts) > 3 else ()
        out.append(Account(parts[0], gid, gid, "", members))
    return out


def find(entries: t.Iterable[Account], spec: str) -> Account | None:
    """The first entry named *spec*, or numbered *spec* when it is a number."""
    number = int(spec) if spec.isdigit() else None
    for entry in entries:
        if entry.name == spec or entry.id == number:
            return entry
    return None
