# SPDX-License-Identifier: GPL-3.0-or-later
"""The loopback interface of a new network namespace.

A fresh network namespace has ``lo`` down, so ``127.0.0.1`` is unreachable
inside it (``connect: Network is unreachable``).  Docker brings it up for every
container, ``--network none`` included.  This is one ioctl on a datagram
socket in the namespace: no netlink library on the container start path.
"""
from __future__ import annotations

import fcntl
import struct

try:
    import _socket as socket  # socket.py adds enums and selectors on top: ~15 ms to import in the starter
except ImportError:  # pragma: no cover
    import socket  # type: ignore[no-redef]

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
#: struct ifreq: char ifr_name[16]; then a union whose first member we use as short flags (+ padding).
_IFREQ = "16sH14x"


def loopback_up(name: str = "lo") -> None:
    """Set IFF_UP on *name* in the calling process's network namespace (needs CAP_NET_ADMIN there)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        req = struct.pack(_IFREQ, name.encode(), 0)
        flags = struct.unpack(_IFREQ, fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, req))[1]
        if not flags & IFF_UP:
            fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, struct.pack(_IFREQ, name.encode(), flags | IFF_UP))
    finally:
        sock.close()


def loopback_up_in(pid: int, syscalls: t.Any = None) -> None:
    """Bring ``lo`` up in the network namespace of *pid* (for containers made by an external runtime)."""
    import os

    from .syscalls import CLONE_NEWNET, LinuxSyscalls

    sys_ = syscalls or LinuxSyscalls()
    fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        child = os.fork()
        if child == 0:  # pragma: no cover - child
            code = 1
            try:
                sys_.setns(fd, CLONE_NEWNET)
                loopback_up()
                code = 0
            finally:
                os._exit(code)
    finally:
        os.close(fd)
    dummy, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise OSError(f"could not bring up the loopback interface of process {pid}")


def creates_netns(spec: t.Mapping[str, t.Any]) -> bool:
    """The spec asks for a new network namespace (not the host's, not joined by path)."""
    for ns in (spec.get("linux") or {}).get("namespaces") or ():
        if ns.get("type") == "network" and not ns.get("path"):
            return True
    return False
