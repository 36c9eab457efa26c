# SPDX-License-Identifier: GPL-3.0-or-later
"""Normalisers of the container's mounts: ``volumes`` (``-v``), ``mounts`` (``--mount``) and ``volumes_from``.

Each mount becomes a dict of the keys its type has, with Docker's defaults filled in, so that trailing
slashes, default modes and the order of the list never make two equal requests differ:

* ``{"type": "volume", "source": name or "" (anonymous), "target", "read_only", "nocopy", "labels"}``
* ``{"type": "bind", "source": host path, "target", "read_only", "propagation", "create"}``: ``create`` is
  True for the ``-v`` form (a missing host directory is made) and False for ``--mount`` (it is an error)
* ``{"type": "tmpfs", "target", "read_only", "tmpfs_size": bytes (0: the kernel's default),
  "tmpfs_mode": octal text}``

The lists are sorted by target. Which volume, host path or tmpfs is mounted is decided at create
(``services/containers/mounts.py``).
"""
from __future__ import annotations

import posixpath

from ...core.lazy import Pattern
from .normalise import _bool, _fail, size

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time: ``berth run`` imports the option table
    import typing as t

#: Docker's volume name rule.
_VOLUME_NAME = Pattern(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_CONTAINER = Pattern(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
PROPAGATIONS = ("rprivate", "private", "rshared", "shared", "rslave", "slave")
DEFAULT_PROPAGATION = "rprivate"
DEFAULT_TMPFS_MODE = "1777"
MOUNT_TYPES = ("volume", "bind", "tmpfs")
_MOUNT_KEYS = frozenset({"type", "source", "target", "read_only", "propagation", "volume_options", "no_copy",
                         "labels", "tmpfs_size", "tmpfs_mode"})
_MOUNT_ALIASES = {"src": "source", "destination": "target", "dst": "target", "readonly": "read_only"}


def _target(value: t.Any, where: str, item: t.Any) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        _fail(where, item, "the mount point in the container must be an absolute path")
    target = posixpath.normpath(value)
    if target.startswith("//"):
        target = "/" + target.lstrip("/")
    if target == "/":
        _fail(where, item, "cannot mount over /")
    return target


def _volume_name(value: str, where: str, item: t.Any) -> str:
    if not _VOLUME_NAME.match(value):
        _fail(where, item, f"{value!r} is not a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+) nor an absolute host path")
    return value


def _volume(source: str, target: str, read_only: bool = False, nocopy: bool = False,
            labels: dict[str, str] | None = None) -> dict[str, t.Any]:
    return {"type": "volume", "source": source, "target": target, "read_only": read_only, "nocopy": nocopy,
            "labels": labels or {}}


def _bind(source: str, target: str, read_only: bool, propagation: str, create: bool) -> dict[str, t.Any]:
    return {"type": "bind", "source": posixpath.normpath(source), "target": target, "read_only": read_only,
            "propagation": propagation, "create": create}


def _sorted(out: dict[str, dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    return [out[k] for k in sorted(out)]


def volumes(value: t.Any, field: str) -> list[dict[str, t.Any]]:
    """``["data:/srv", "/host/dir:/etc/app:ro", "/cache"]`` (``docker run -v``): named, bind, anonymous."""
    if not isinstance(value, (list, tuple)):
        _fail(field, value, "must be a list of [source:]/path[:mode] strings")
    out: dict[str, dict[str, t.Any]] = {}
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, str) or not item:
            _fail(where, item, "must be a [source:]/path[:mode] string")
        parts = item.split(":")
        if len(parts) > 3:
            _fail(where, item, "too many colons: use source:/path[:mode]")
        if len(parts) == 1 or (len(parts) == 2 and parts[1] and not parts[1].startswith("/")):
            source, target = "", parts[0]
            modes = parts[1] if len(parts) == 2 else ""
        else:
            source, target = parts[0], parts[1]
            modes = parts[2] if len(parts) == 3 else ""
        target = _target(target, where, item)
        read_only, propagation, nocopy = False, "", False
        for word in [w for w in modes.split(",") if w]:
            if word in ("ro", "rw"):
                read_only = word == "ro"
            elif word in PROPAGATIONS:
                propagation = word
            elif word == "nocopy":
                nocopy = True
            elif word in ("z", "Z"):
                _fail(where, item, "SELinux relabelling (z, Z) is not supported by Berth; remove it")
            else:
                _fail(where, item, f"unknown mode {word!r} (ro, rw, nocopy, rprivate, private, rshared, shared, "
                                   "rslave, slave)")
        if source.startswith("/"):
            if nocopy:
                _fail(where, item, "nocopy is for volumes, not for a host path")
            mount = _bind(source, target, read_only, propagation or DEFAULT_PROPAGATION, True)
        else:
            if source:
                _volume_name(source, where, item)
            if propagation:
                _fail(where, item, "a propagation mode is for host paths, not for volumes")
            mount = _volume(source, target, read_only, nocopy)
        if target in out:
            _fail(where, item, f"two mounts on {target}")
        out[target] = mount
    return _sorted(out)


def _mode_text(value: t.Any, where: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= 0o7777:
            _fail(where, value, "must be a file mode up to 7777 (octal)")
        return format(value, "o")
    if not isinstance(value, str) or not value or len(value) > 5 or any(c not in "01234567" for c in value):
        _fail(where, value, "must be an octal file mode such as 1777 or 0700")
    mode = int(value, 8)
    if mode > 0o7777:
        _fail(where, value, "must be a file mode up to 7777 (octal)")
    return format(mode, "o")


def _labels(value: t.Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail(where, value, "must be a mapping of label names to strings")
    return {str(k): "" if v is None else str(v) for k, v in sorted(value.items())}


def mounts(value: t.Any, field: str) -> list[dict[str, t.Any]]:
    """``[{"type": "volume", "source": "data", "target": "/srv", ...}]`` (``docker run --mount``)."""
    if not isinstance(value, (list, tuple)):
        _fail(field, value, "must be a list of mount mappings (type, source, target, ...)")
    out: dict[str, dict[str, t.Any]] = {}
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, dict):
            _fail(where, item, "must be a mapping with type, source and target")
        spec = {_MOUNT_ALIASES.get(k, k): v for k, v in item.items() if v is not None}
        for key in spec:
            if key not in _MOUNT_KEYS:
                _fail(f"{where}.{key}", spec[key], "unknown key (type, source, target, read_only, propagation, "
                                                   "volume_options, tmpfs_size, tmpfs_mode)")
        kind = spec.get("type", "volume")
        if kind not in MOUNT_TYPES:
            _fail(f"{where}.type", kind, "must be volume, bind or tmpfs")
        target = _target(spec.get("target"), f"{where}.target", spec.get("target"))
        read_only = _bool(spec.get("read_only", False), f"{where}.read_only")
        source = spec.get("source", "")
        if not isinstance(source, str):
            _fail(f"{where}.source", source, "must be a string")
        extra = {"volume": ("volume_options", "no_copy", "labels"), "bind": ("propagation",),
                 "tmpfs": ("tmpfs_size", "tmpfs_mode")}
        for key in ("volume_options", "no_copy", "labels", "propagation", "tmpfs_size", "tmpfs_mode"):
            if key in spec and key not in extra[kind]:
                _fail(f"{where}.{key}", spec[key], f"is not an option of a {kind} mount")
        if kind == "volume":
            options = spec.get("volume_options") or {}
            if not isinstance(options, dict) or set(options) - {"nocopy", "no_copy", "labels"}:
                _fail(f"{where}.volume_options", options, "takes nocopy and labels")
            nocopy = _bool(options.get("nocopy", options.get("no_copy", spec.get("no_copy", False))),
                           f"{where}.volume_options.nocopy")
            labels = _labels(options.get("labels", spec.get("labels")), f"{where}.volume_options.labels")
            if source:
                _volume_name(source, f"{where}.source", source)
            mount = _volume(source, target, read_only, nocopy, labels)
        elif kind == "bind":
            if not source.startswith("/"):
                _fail(f"{where}.source", source or None, "a bind mount needs an absolute host path")
            propagation = spec.get("propagation", DEFAULT_PROPAGATION)
            if propagation not in PROPAGATIONS:
                _fail(f"{where}.propagation", propagation, "must be one of " + ", ".join(PROPAGATIONS))
            mount = _bind(source, target, read_only, propagation, False)
        else:
            if source:
                _fail(f"{where}.source", source, "a tmpfs mount has no source")
            mount = {"type": "tmpfs", "target": target, "read_only": read_only,
                     "tmpfs_size": size(spec.get("tmpfs_size", 0), f"{where}.tmpfs_size"),
                     "tmpfs_mode": _mode_text(spec.get("tmpfs_mode", DEFAULT_TMPFS_MODE), f"{where}.tmpfs_mode")}
        if target in out:
            _fail(where, item, f"two mounts on {target}")
        out[target] = mount
    return _sorted(out)


def volumes_from(value: t.Any, field: str) -> list[str]:
    """``["db", "cache:ro"]`` -> ``["cache:ro", "db:rw"]``: each container's mounts, read-write unless ``ro``."""
    if not isinstance(value, (list, tuple)):
        _fail(field, value, "must be a list of container[:ro|rw] strings")
    out = {}
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, str):
            _fail(where, item, "must be a container[:ro|rw] string")
        name, _sep, mode = item.partition(":")
        name = name.lstrip("/")
        if not name or not _CONTAINER.match(name):
            _fail(where, item, "needs a container name or ID")
        if mode not in ("", "ro", "rw"):
            _fail(where, item, "the mode is ro or rw")
        out[name] = f"{name}:{mode or 'rw'}"
    return [out[k] for k in sorted(out)]


def mount_targets(opts: t.Mapping[str, t.Any]) -> list[tuple[str, str]]:
    """``(target, option)`` of every mount *opts* ask for (``volumes``, ``mounts``, ``tmpfs``)."""
    out = [(m["target"], "volumes") for m in opts.get("volumes") or ()]
    out += [(m["target"], "mounts") for m in opts.get("mounts") or ()]
    out += [(path, "tmpfs") for path in opts.get("tmpfs") or {}]
    return out
