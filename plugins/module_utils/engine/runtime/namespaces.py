# SPDX-License-Identifier: GPL-3.0-or-later
"""Namespaces from ``spec["linux"]["namespaces"]``: join the ones given by path, create the others.

Pure planning (:func:`plan`, :func:`exec_plan`) is separate from the syscalls (:func:`join`,
:func:`unshare_user`, :func:`unshare_rest`), which go through the injected ``Syscalls``.

Order, as runc's nsexec does it:

* joining: every path is opened first (a joined mount namespace changes what paths mean), then
  ``setns`` user first (it grants the capabilities to join the rest), mount last;
* creating: user first (the parent writes the id maps before anything else happens), then mount,
  uts, ipc, network, cgroup (after the parent put us into the container cgroup), time, and pid last:
  a new (or joined) PID namespace only applies to children, so the init is forked after it.
"""
from __future__ import annotations

import os

from . import syscalls as sc

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t  # noqa: F401
    from .syscalls import Syscalls

#: OCI namespace type -> clone flag.
FLAGS = {
    "user": sc.CLONE_NEWUSER,
    "mount": sc.CLONE_NEWNS,
    "uts": sc.CLONE_NEWUTS,
    "ipc": sc.CLONE_NEWIPC,
    "network": sc.CLONE_NEWNET,
    "cgroup": sc.CLONE_NEWCGROUP,
    "time": sc.CLONE_NEWTIME,
    "pid": sc.CLONE_NEWPID,
}
#: OCI namespace type -> name under /proc/<pid>/ns/.
PROC_NAMES = {
    "user": "user", "mount": "mnt", "uts": "uts", "ipc": "ipc", "network": "net",
    "cgroup": "cgroup", "time": "time", "pid": "pid",
}
UNSHARE_ORDER = ("user", "mount", "uts", "ipc", "network", "cgroup", "time", "pid")
JOIN_ORDER = ("user", "ipc", "uts", "network", "cgroup", "time", "pid", "mount")


class Plan:
    """What to do with namespaces, in order.

    ``join``: ``(type, path)`` to ``setns`` into; ``unshare``: types to create (user excluded, see
    ``new_user``); ``fork``: the init must be a child (a PID namespace is created or joined).
    """

    __slots__ = ("join", "unshare", "new_user", "fork")

    def __init__(self, join: list[tuple[str, str]], unshare: list[str], new_user: bool, fork: bool) -> None:
        self.join = join
        self.unshare = unshare
        self.new_user = new_user
        self.fork = fork

    def has(self, ns_type: str) -> bool:
        """True when the container gets its own (new or joined) namespace of this type."""
        return ns_type in self.unshare or (ns_type == "user" and self.new_user) or any(
            typ == ns_type for typ, dummy in self.join)

    def __repr__(self) -> str:
        return f"Plan(join={self.join!r}, unshare={self.unshare!r}, new_user={self.new_user}, fork={self.fork})"


def plan(namespaces: t.Sequence[dict] | None) -> Plan:
    """Order the spec's namespace list (assumed validated: known types, no duplicates)."""
    by_type = {ns["type"]: ns.get("path") or "" for ns in namespaces or ()}
    join = [(typ, by_type[typ]) for typ in JOIN_ORDER if by_type.get(typ)]
    new = [typ for typ in UNSHARE_ORDER if typ in by_type and not by_type[typ]]
    new_user = "user" in new
    if new_user:
        new.remove("user")
    return Plan(join, new, new_user, fork="pid" in by_type)


def exec_plan(init_pid: int, namespaces: t.Sequence[dict] | None, proc: str = "/proc") -> Plan:
    """Join every namespace the container has, through ``/proc/<init>/ns/*``.

    Namespaces we already share with the init (same inode) are skipped: ``setns`` into one's own user
    namespace fails with EINVAL.
    """
    join: list[tuple[str, str]] = []
    types = {ns["type"] for ns in namespaces or ()}
    for typ in JOIN_ORDER:
        if typ not in types:
            continue
        path = f"{proc}/{init_pid}/ns/{PROC_NAMES[typ]}"
        try:
            if os.stat(path).st_ino == os.stat(f"{proc}/self/ns/{PROC_NAMES[typ]}").st_ino:
                continue
        except FileNotFoundError:
            pass
        join.append((typ, path))
    return Plan(join, [], False, fork="pid" in types)


def open_paths(p: Plan) -> list[tuple[str, int]]:
    """Open every namespace to join before joining any (O_CLOEXEC fds; :func:`join` closes them)."""
    out: list[tuple[str, int]] = []
    try:
        for typ, path in p.join:
            try:
                out.append((typ, os.open(path, os.O_RDONLY | os.O_CLOEXEC)))
            except OSError as exc:
                raise OSError(exc.errno, f"open {typ} namespace {path}: {os.strerror(exc.errno or 0)}") from None
    except BaseException:
        for dummy, fd in out:
            os.close(fd)
        raise
    return out


def join(fds: list[tuple[str, int]], syscalls: Syscalls) -> None:
    """``setns`` into each opened namespace, in the given order; closes the fds.

    With a user namespace to join, the network namespace goes first when the kernel allows it: a bridge
    container's is made by the engine, owned by the host's user namespace, and once inside the container's
    user namespace there is no capability over it left (``exec`` into a remapped container on a bridge)."""
    early = -1
    try:
        if fds and fds[0][0] == "user":
            for i, (typ, fd) in enumerate(fds):
                if typ == "network":
                    try:
                        syscalls.setns(fd, FLAGS[typ])
                        early = i
                    except OSError:
                        pass  # joined after the user namespace, in the given order
                    break
        for i, (typ, fd) in enumerate(fds):
            if i != early:
                syscalls.setns(fd, FLAGS[typ])
    finally:
        for dummy, fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass


def unshare_user(syscalls: Syscalls) -> None:
    syscalls.unshare(sc.CLONE_NEWUSER)


def unshare_rest(p: Plan, syscalls: Syscalls) -> None:
    """Create the non-user namespaces, one ``unshare`` each, in UNSHARE_ORDER."""
    for typ in p.unshare:
        syscalls.unshare(FLAGS[typ])
