# SPDX-License-Identifier: GPL-3.0-or-later
"""User namespace remapping: daemon.json ``userns-remap`` -> the ID mappings of a container.

The values are Docker's (moby ``daemon/daemon_unix.go`` ``parseRemappedRoot``):

==================  ==========================================================================================
``default``         the account :data:`DEFAULT_ACCOUNT` (Docker's is ``dockremap``), created with
                    ``useradd --system`` and given a free 65536-ID range in /etc/subuid and /etc/subgid
                    (``usermod --add-subuids/--add-subgids``) when missing, under a lock
``user``            the user's ranges; the group of the same name for the gid ranges
``user:group``      the user's uid ranges, the group's gid ranges
``uid`` / ``uid:gid``   the same by number (the IDs must exist in /etc/passwd and /etc/group)
==================  ==========================================================================================

Ranges are read from /etc/subuid and /etc/subgid (``owner:start:count``; the owner is a name or a numeric
ID, both are matched). Several ranges of one owner are concatenated as Docker does (moby ``idtools``
``createIDMap``): sorted by host start, the first maps container ID 0, the next continues where it ended.

Nothing here runs on the container start path: the service resolves the mapping when it creates a container
and records it (the container keeps its mapping, and its files their owners, when the configuration changes).
The account databases are read through :class:`HostFiles`, whose *prefix* tests point at a copy of /etc.
"""
from __future__ import annotations

import os
import typing as t

from ..core.accounts import find, parse_group, parse_passwd
from ..core.value import Value
from ..errors import ConfigError

DEFAULT_ACCOUNT = "berthremap"
DEFAULT_VALUE = "default"
#: Where the default account's ranges start and how long they are (Docker's defaults).
DEFAULT_RANGE_START = 100000
DEFAULT_RANGE_LEN = 65536
KEY = "userns-remap"
_MAX_ID = 2**32 - 1


class HostFiles:
    """The account databases under *prefix* (``/`` on a real host): passwd, group, subuid, subgid.

    With another prefix, ``useradd``/``usermod`` get ``--prefix`` and change the copies there."""

    __slots__ = ("prefix",)

    def __init__(self, prefix: str = "/") -> None:
        self.prefix = os.path.abspath(prefix)

    def path(self, name: str) -> str:
        return os.path.join(self.prefix, "etc", name)

    def read(self, name: str) -> str:
        """The file's text; empty when it does not exist."""
        try:
            with open(self.path(name), encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except FileNotFoundError:
            return ""

    def __repr__(self) -> str:
        return f"HostFiles({self.prefix!r})"


class IdMap(Value):
    """One line of a uid_map/gid_map: *size* IDs from *container_id* map to *host_id* onwards."""

    __slots__ = _fields = ("container_id", "host_id", "size")
    container_id: int
    host_id: int
    size: int

    def oci(self) -> dict[str, int]:
        return {"containerID": self.container_id, "hostID": self.host_id, "size": self.size}


class IdMapping:
    """The uid and gid maps of a remapped container, and whose ranges they are."""

    __slots__ = ("uids", "gids", "user", "group")

    def __init__(self, uids: t.Sequence[IdMap], gids: t.Sequence[IdMap], user: str = "", group: str = "") -> None:
        self.uids = tuple(uids)
        self.gids = tuple(gids)
        self.user = user
        self.group = group

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdMapping) and (self.uids, self.gids) == (other.uids, other.gids)

    def __hash__(self) -> int:
        return hash((self.uids, self.gids))

    def __repr__(self) -> str:
        return f"IdMapping(uids={list(self.uids)!r}, gids={list(self.gids)!r}, user={self.user!r})"

    @property
    def root_uid(self) -> int:
        return to_host(0, self.uids)

    @property
    def root_gid(self) -> int:
        return to_host(0, self.gids)

    @property
    def key(self) -> str:
        """``<root uid>.<root gid>`` (Docker's data-root suffix) when each map is one range, else with a
        short hash of the maps: the name of the remapped-layer cache of this mapping."""
        base = f"{self.root_uid}.{self.root_gid}"
        if len(self.uids) == 1 and len(self.gids) == 1 and self.uids[0].size == self.gids[0].size:
            return f"{base}-{self.uids[0].size}"
        import zlib

        text = "/".join(";".join(f"{m.container_id}:{m.host_id}:{m.size}" for m in maps)
                        for maps in (self.uids, self.gids))
        return f"{base}-{zlib.crc32(text.encode()):08x}"

    def oci(self) -> dict[str, list[dict[str, int]]]:
        """``linux.uidMappings`` / ``linux.gidMappings`` of the OCI spec."""
        return {"uidMappings": [m.oci() for m in self.uids], "gidMappings": [m.oci() for m in self.gids]}

    def to_json(self) -> dict[str, t.Any]:
        return {"User": self.user, "Group": self.group, **self.oci()}

    @classmethod
    def from_json(cls, data: t.Mapping[str, t.Any]) -> "IdMapping":
        def maps(key: str) -> list[IdMap]:
            return [IdMap(int(m["containerID"]), int(m["hostID"]), int(m["size"])) for m in data.get(key) or ()]

        return cls(maps("uidMappings"), maps("gidMappings"), str(data.get("User") or ""), str(data.get("Group") or ""))


def to_host(container_id: int, maps: t.Sequence[IdMap]) -> int:
    """The host ID of *container_id*; ValueError when the maps do not cover it."""
    for m in maps:
        if m.container_id <= container_id < m.container_id + m.size:
            return m.host_id + container_id - m.container_id
    raise ValueError(f"container ID {container_id} is not mapped to a host ID")


def to_container(host_id: int, maps: t.Sequence[IdMap], overflow: int = 65534) -> int:
    """The container's ID for *host_id*; *overflow* (the kernel's ``nobody``) when the maps do not cover it."""
    for m in maps:
        if m.host_id <= host_id < m.host_id + m.size:
            return m.container_id + host_id - m.host_id
    return overflow


# ---------------------------------------------------------------- pure parsing
def parse_value(value: str) -> tuple[str, str | None]:
    """``user[:group]`` -> (user, group or None); ValueError for anything else."""
    parts = value.split(":")
    if len(parts) > 2 or not all(p.strip() == p and p for p in parts):
        raise ValueError("expected default, a user, user:group, a uid or uid:gid")
    if ":" in parts[0] or any(c.isspace() for c in value):
        raise ValueError("expected default, a user, user:group, a uid or uid:gid")
    return parts[0], (parts[1] if len(parts) == 2 else None)


def parse_subid(text: str, path: str = "/etc/subuid") -> list[tuple[str, int, int]]:
    """``owner:start:count`` lines -> [(owner, start, count)]; blank and ``#`` lines are skipped."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) != 3 or not parts[0] or not parts[1].isdigit() or not parts[2].isdigit():
            raise ConfigError(path, None, f"line {number} is not owner:start:count: {line!r}")
        out.append((parts[0], int(parts[1]), int(parts[2])))
    return out


def ranges_of(entries: t.Iterable[tuple[str, int, int]], name: str, number: int | None) -> list[tuple[int, int]]:
    """The (start, count) ranges of an owner given by *name* or *number*, lowest start first."""
    keys = {name} | ({str(number)} if number is not None else set())
    return sorted((start, count) for owner, start, count in entries if owner in keys and count > 0)


def id_maps(ranges: t.Sequence[tuple[int, int]]) -> list[IdMap]:
    """Concatenate *ranges* (sorted by host start) into container IDs 0, 1, ... (moby ``createIDMap``)."""
    out = []
    next_id = 0
    for start, count in sorted(ranges):
        out.append(IdMap(next_id, start, count))
        next_id += count
    return out


def free_range(entries: t.Iterable[tuple[str, int, int]], start: int = DEFAULT_RANGE_START,
               length: int = DEFAULT_RANGE_LEN) -> int:
    """The first start >= *start* where *length* IDs overlap no existing range."""
    taken = sorted((s, s + c) for _owner, s, c in entries)
    candidate = start
    for low, high in taken:
        if candidate < high and low < candidate + length:
            candidate = high
    if candidate + length - 1 > _MAX_ID:
        raise ValueError("no free range of subordinate IDs left")
    return candidate


# ---------------------------------------------------------------- lookups
def resolve(value: str, files: HostFiles | None = None, *, config_path: str = "<memory>",
            lock: t.Callable[[], t.ContextManager[None]] | None = None) -> IdMapping | None:
    """The mapping ``userns-remap`` = *value* names; None for ``""`` and for root (Docker: root cannot be
    remapped onto itself, user namespaces stay off). ``default`` creates the default account when
    missing, holding *lock* (a context manager factory) meanwhile. Errors name the key and the value."""
    files = files or HostFiles()
    if not value:
        return None

    def fail(reason: str) -> t.NoReturn:
        raise ConfigError(config_path, KEY, f"{value!r}: {reason}")

    try:
        user_spec, group_spec = parse_value(value)
    except ValueError as exc:
        fail(str(exc))
    if user_spec == DEFAULT_VALUE and group_spec is None:
        ensure_default_account(files, lock, config_path)
        user_spec = group_spec = DEFAULT_ACCOUNT
    passwd = parse_passwd(files.read("passwd"))
    groups = parse_group(files.read("group"))
    user = find(passwd, user_spec)
    if user is None:
        fail(f"no user {user_spec!r} in {files.path('passwd')}")
    if group_spec is None:
        group_spec = str(user.id) if user_spec.isdigit() else user.name
    group = find(groups, group_spec)
    if group is None:
        fail(f"no group {group_spec!r} in {files.path('group')}")
    if user.name == "root":
        return None
    uid_ranges = ranges_of(parse_subid(files.read("subuid"), files.path("subuid")), user.name, user.id)
    gid_ranges = ranges_of(parse_subid(files.read("subgid"), files.path("subgid")), group.name, group.id)
    if not uid_ranges:
        fail(f"no subordinate uid range for user {user.name!r} in {files.path('subuid')}")
    if not gid_ranges:
        fail(f"no subordinate gid range for group {group.name!r} in {files.path('subgid')}")
    return IdMapping(id_maps(uid_ranges), id_maps(gid_ranges), user.name, group.name)


def ensure_default_account(files: HostFiles, lock: t.Callable[[], t.ContextManager[None]] | None = None,
                           config_path: str = "<memory>") -> None:
    """Create :data:`DEFAULT_ACCOUNT` (a system user and group) and its sub-ID ranges where missing.

    Like Docker (moby ``idtools.AddNamespaceRangesUser``) through ``useradd``/``usermod``, which write
    the files atomically under their own lock; *lock* serialises concurrent Berth callers around the
    check-then-create.
    """
    def missing() -> tuple[bool, bool, bool]:
        user = find(parse_passwd(files.read("passwd")), DEFAULT_ACCOUNT)
        sub_u = parse_subid(files.read("subuid"), files.path("subuid"))
        sub_g = parse_subid(files.read("subgid"), files.path("subgid"))
        return (user is None,
                not ranges_of(sub_u, DEFAULT_ACCOUNT, user.id if user else None),
                not ranges_of(sub_g, DEFAULT_ACCOUNT, None))

    if not any(missing()):
        return
    import contextlib

    with (lock or contextlib.nullcontext)():
        no_user, no_uids, no_gids = missing()
        prefix = [] if files.prefix == "/" else ["--prefix", files.prefix]
        if no_user:
            _run(["useradd", *prefix, "--system", "--user-group", "--no-create-home", "--shell",
                  "/usr/sbin/nologin", "--comment", "Berth user namespace remapping", DEFAULT_ACCOUNT], config_path)
        args = []
        if no_uids:
            start = free_range(parse_subid(files.read("subuid"), files.path("subuid")))
            args += ["--add-subuids", f"{start}-{start + DEFAULT_RANGE_LEN - 1}"]
        if no_gids:
            start = free_range(parse_subid(files.read("subgid"), files.path("subgid")))
            args += ["--add-subgids", f"{start}-{start + DEFAULT_RANGE_LEN - 1}"]
        if args:
            _run(["usermod", *prefix, *args, DEFAULT_ACCOUNT], config_path)


def _run(argv: list[str], config_path: str) -> None:
    import subprocess

    from ..core.fs import which

    if not which(argv[0]) and not os.path.exists(os.path.join("/usr/sbin", argv[0])):
        raise ConfigError(config_path, KEY, f"'default' needs {argv[0]} (shadow-utils/passwd package) to create "
                                            f"the {DEFAULT_ACCOUNT} account")
    env = dict(os.environ)
    env["PATH"] = env.get("PATH", "") + ":/usr/sbin:/sbin"
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, check=False)
    if proc.returncode != 0:
        out = proc.stdout.decode(errors="replace").strip()
        raise ConfigError(config_path, KEY, f"creating the {DEFAULT_ACCOUNT} account: {' '.join(argv[:1])} failed "
                                            f"(exit status {proc.returncode}): {out}")
