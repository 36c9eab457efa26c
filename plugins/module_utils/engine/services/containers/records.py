# SPDX-License-Identifier: GPL-3.0-or-later
"""The container record store: ``containers/<id>/config.json`` and ``names/<name>``.

The values the verbs pass around (:class:`ContainerRecord`, :class:`Stdio`, :class:`RunResult`), the
lookups by name, ID or prefix, and the state of a container as every verb reads it (:func:`state`: a lost
monitor is replaced first). On the start path of ``berth run``: no typing, json, re or dataclasses at import
time (docs/dev/runtime-design.md, "Start path").
"""
from __future__ import annotations

import os

from ...core import fs
from ...core.value import Value
from ...errors import Conflict, EngineError, InvalidOption, NotFound
from ...supervisor import ContainerState, lifecycle
from ._common import DEFAULT_RUNTIME, runtime_for

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    from .service import ContainerService


class Stdio(Value):
    """The caller's file descriptors for an attached run or exec: stdin (or None), stdout, stderr, tty;
    ``detach_keys`` docker's ``--detach-keys`` (None: Ctrl-P Ctrl-Q), which detach a tty caller's stdin."""

    __slots__ = _fields = ("stdin", "stdout", "stderr", "tty", "detach_keys")
    _defaults = {"tty": False, "detach_keys": None}
    stdin: int | None
    stdout: int
    stderr: int
    tty: bool
    detach_keys: str | None

    def escape_keys(self) -> bytes | None:
        """The bytes that detach this caller (a tty with stdin only, as in docker), or None; a bad
        ``detach_keys`` raises InvalidOption naming it."""
        if not self.tty or self.stdin is None:
            return None
        from ...core import escape

        keys = self.detach_keys or escape.DEFAULT_KEYS
        try:
            return escape.to_bytes(keys)
        except ValueError as exc:
            raise InvalidOption("detach_keys", keys, str(exc)) from None


class RunResult(Value):
    """id, name, exit_code (None when detached)."""

    __slots__ = _fields = ("id", "name", "exit_code")
    id: str
    name: str
    exit_code: int | None


class ContainerRecord(Value):
    """``containers/<id>/config.json``: what the container was created from.

    ``image`` is the image ID, ``image_name`` as the user named it, ``options`` the normalised options
    ("desired": ``secret_env`` as seals, never values); ``healthcheck`` the effective one (options over the
    image's HEALTHCHECK; the monitor reads it); ``userns`` the user namespace mapping resolved at create
    (``IdMapping.to_json()``: the container keeps it, and its files their owners, when ``userns-remap``
    changes), None without one; ``log_config`` Docker's ``LogConfig`` (``Type``, ``Config``) resolved at create:
    the options' log driver and options, else the engine configuration's ``log-driver`` and ``log-opts``
    (None in records written before: the options' alone); ``mounts`` the volume, bind and tmpfs mounts resolved
    at create (``services/containers/mounts.py``: named volumes made, anonymous ones named), empty without."""

    __slots__ = _fields = ("id", "name", "created", "image", "image_name", "options", "runtime", "healthcheck",
                           "userns", "log_config", "mounts")
    _defaults = {"healthcheck": None, "userns": None, "log_config": None, "mounts": ()}
    id: str
    name: str
    created: str
    image: str
    image_name: str
    options: dict[str, t.Any]
    runtime: str
    healthcheck: dict[str, t.Any] | None
    userns: dict[str, t.Any] | None
    log_config: dict[str, t.Any] | None
    mounts: t.Sequence[dict[str, t.Any]]

    @property
    def logging(self) -> dict[str, t.Any]:
        """``{"Type": driver, "Config": {option: value}}`` the container logs with."""
        if self.log_config:
            return self.log_config
        return {"Type": self.options.get("log_driver") or "json-file", "Config": dict(self.options.get("log_options") or {})}

    def to_json(self) -> dict[str, t.Any]:
        return {
            "Id": self.id,
            "Name": self.name,
            "Created": self.created,
            "Image": self.image,
            "ImageName": self.image_name,
            "Desired": self.options,
            "Runtime": self.runtime,
            "Healthcheck": self.healthcheck,
            "IdMappings": self.userns,
            "LogConfig": self.log_config,
            "Mounts": list(self.mounts),
        }

    @classmethod
    def from_json(cls, d: t.Mapping[str, t.Any]) -> "ContainerRecord":
        return cls(
            id=d["Id"],
            name=d["Name"],
            created=d["Created"],
            image=d["Image"],
            image_name=d.get("ImageName", ""),
            options=dict(d.get("Desired") or {}),
            runtime=d.get("Runtime", DEFAULT_RUNTIME),
            healthcheck=d.get("Healthcheck"),
            userns=d.get("IdMappings"),
            log_config=d.get("LogConfig"),
            mounts=tuple(d.get("Mounts") or ()),
        )


# ==================================================================== lookup
def ids(svc: ContainerService) -> list[str]:
    """The IDs of the containers that exist (their record is written)."""
    try:
        names = os.listdir(svc.layout.containers_dir)
    except FileNotFoundError:
        return []
    return [n for n in names if len(n) == 64 and os.path.exists(svc.layout.container_config(n))]


def load(svc: ContainerService, container_id: str) -> ContainerRecord:
    """The record of *container_id*; NotFound when it has none."""
    try:
        data = fs.read_json(svc.layout.container_config(container_id))
    except ValueError as exc:  # torn by a crash (--rm containers are written without fsync)
        raise EngineError(f"corrupt container record {svc.layout.container_config(container_id)}: {exc}") \
            from None
    if data is None:
        raise NotFound("container", container_id)
    return ContainerRecord.from_json(data)


def each(svc: ContainerService) -> t.Iterator[tuple[str, ContainerRecord, ContainerState]]:
    """``(id, record, state)`` of each container whose record and state can be read (one removed meanwhile,
    or with a torn record, is left out)."""
    for cid in ids(svc):
        try:
            record = load(svc, cid)
            current = state(svc, cid)
        except (NotFound, EngineError):
            continue
        yield cid, record, current


def lookup(svc: ContainerService, name: str) -> str | None:
    """Container ID for a name, full ID or unique ID prefix (Docker's order); None when absent."""
    if not isinstance(name, str) or not name:
        raise InvalidOption("name", name, "a container name or ID is required")
    name = name.lstrip("/")
    if len(name) == 64 and os.path.exists(svc.layout.container_config(name)):
        return name
    link = svc.layout.name_link(name)
    try:
        target = os.readlink(link)
    except OSError:
        target = ""
    if target:
        cid = os.path.basename(target)
        if os.path.exists(svc.layout.container_config(cid)):
            return cid
    if all(c in "0123456789abcdef" for c in name):
        matches = [i for i in ids(svc) if i.startswith(name)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise Conflict(f"multiple containers found with provided prefix: {name}")
    return None


def require(svc: ContainerService, name: str) -> str:
    """:func:`lookup`, NotFound when absent."""
    cid = lookup(svc, name)
    if cid is None:
        raise NotFound("container", name)
    return cid


def still_there(svc: ContainerService, cid: str, name: str) -> None:
    """Under the container lock: NotFound when the container was removed since it was looked up."""
    if not os.path.exists(svc.layout.container_config(cid)):
        raise NotFound("container", name)


def link_name(svc: ContainerService, cid: str, name: str) -> None:
    """``names/<name>`` -> *cid*, or Docker's Conflict naming the container that holds the name (read
    from the link itself: its owner may still be being created, with no record yet)."""
    link = svc.layout.name_link(name)
    while True:
        try:
            os.symlink(os.path.join("..", "containers", cid), link)
            return
        except FileExistsError:
            pass
        try:
            owner = os.path.basename(os.path.normpath(os.readlink(link)))
        except FileNotFoundError:
            continue  # released meanwhile: try again
        raise Conflict(
            f'Conflict. The container name "/{name}" is already in use by container "{owner}". '
            "You have to remove (or rename) that container to be able to reuse that name."
        )


# ==================================================================== state
def state(svc: ContainerService, container_id: str) -> ContainerState:
    """The state, reconciled: a container whose monitor and init are gone is said to be exited; one
    whose monitor alone is gone gets a replacement monitor (:func:`replace_monitor`)."""
    current = lifecycle.reconcile(svc.layout, container_id)
    if lifecycle.orphaned(current, container_id):
        current = replace_monitor(svc, container_id, current)
    return current


def replace_monitor(svc: ContainerService, cid: str, current: ContainerState) -> ContainerState:
    """Start a monitor that takes over the running container (``monitor_ops.adopt``: its exit, restart
    policy and ``--rm`` work again); where that fails, record why (``berth ps`` shows it)."""
    from ...supervisor import adopt

    try:
        adopt(svc.layout, cid, runtime=runtime_for(svc, load(svc, cid).runtime), pid=current.pid)
    except EngineError as exc:
        reason = str(exc)

        def mark(s: ContainerState) -> ContainerState:
            if not lifecycle.orphaned(s, cid):
                return s  # gone meanwhile, or taken over by another caller's replacement
            return s.replace(error=f"{lifecycle.UNSUPERVISED_ERROR}: {reason}")

        return lifecycle.update(svc.layout, cid, mark, timeout=svc.lock_timeout)
    return lifecycle.load(svc.layout, cid)


# ==================================================================== what the image store asks
def users_of_image(svc: ContainerService, image_id: str) -> list[str]:
    """IDs of the containers created from *image_id* (the image store refuses to delete it)."""
    out = []
    for cid in ids(svc):
        try:
            if load(svc, cid).image == image_id:
                out.append(cid)
        except (NotFound, KeyError, ValueError):
            continue
    return out


def volume_users(svc: ContainerService) -> dict[str, list[tuple[str, bool]]]:
    """Volume name -> ``(container name, active)`` of each container that mounts it."""
    out: dict[str, list[tuple[str, bool]]] = {}
    for _cid, record, current in each(svc):
        for mount in record.mounts:
            if mount.get("Type") == "volume":
                out.setdefault(mount["Name"], []).append((record.name, current.status.active))
    return out


def remapped_layers_in_use(svc: ContainerService) -> set[tuple[str, str]]:
    """``(mapping key, diff ID)`` of the remapped layer copies the containers use (image garbage
    collection keeps these)."""
    from ...config.userns import IdMapping

    out = set()
    for cid in ids(svc):
        try:
            record = load(svc, cid)
        except (NotFound, EngineError):
            continue
        if not record.userns:
            continue
        key = IdMapping.from_json(record.userns).key
        rec = fs.read_json(svc.layout.image_record(record.image)) or {}
        out.update((key, x["diff_id"]) for x in rec.get("layers") or ())
    return out
