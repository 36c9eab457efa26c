# SPDX-License-Identifier: GPL-3.0-or-later
"""System-wide views: disk usage and engine information."""
from __future__ import annotations

import os
import platform
import time
import typing as t

from ..config.daemon import DaemonConfig
from ..core import eventlog
from ..core.reference import ImageReference
from ..core.version import VERSION
from ..errors import InvalidReference
from ..store.images import ImageStore
from .images import ImageService


class SystemService:
    def __init__(self, store: ImageStore, config: DaemonConfig, images: ImageService, host_files: t.Any = None,
                 containers: t.Callable[[], t.Any] | None = None,
                 volumes: t.Callable[[], t.Any] | None = None) -> None:
        self.store = store
        self.config = config
        self.images = images
        self.host_files = host_files
        #: the ContainerService, or None on a data root that never had a container (nothing to load)
        self._containers = containers or (lambda: None)
        #: the VolumeService, or None
        self._volumes = volumes or (lambda: None)

    def df(self) -> dict[str, t.Any]:
        """Docker's ``/system/df`` shape; shared layers count once in LayersSize."""
        usage = self.images.disk_usage()
        containers = self._containers()
        return {
            "LayersSize": usage["LayersSize"],
            "Images": usage["Images"],
            "Containers": containers.disk_usage() if containers is not None else [],
            "Volumes": self._volume_usage(),
            "BuildCache": [],
        }

    def _volume_usage(self) -> list[dict[str, t.Any]]:
        volumes = self._volumes()
        if volumes is None or not os.path.isdir(self.store.layout.volumes_dir):
            return []
        return volumes.disk_usage()

    def prune(self, all: bool = False, filters: t.Mapping[str, t.Any] | None = None,
              volumes: bool = False) -> dict[str, t.Any]:
        """``docker system prune``: stopped containers, then dangling (with *all*: unused) images, then
        the engine's own leftovers (copies of old engine versions, lock files of removed containers).
        *filters*: ``until`` and ``label``, for containers and images alike. Volumes only with *volumes*:
        the anonymous ones no container uses (``docker system prune --volumes``)."""
        from ..core import libcopy

        out: dict[str, t.Any] = {"ContainersDeleted": [], "ImagesDeleted": [], "SpaceReclaimed": 0}
        containers = self._containers()
        if containers is not None:
            done = containers.prune(filters)
            out["ContainersDeleted"] = done["ContainersDeleted"]
            out["SpaceReclaimed"] += done["SpaceReclaimed"]
            containers.sweep_locks()
        if volumes and self._volumes() is not None:
            vfilters = {k: v for k, v in (filters or {}).items() if k != "until"}
            done = self._volumes().prune(filters=vfilters)
            out["VolumesDeleted"] = done["VolumesDeleted"]
            out["SpaceReclaimed"] += done["SpaceReclaimed"]
        done = self.images.prune(all=all, filters=filters)
        out["ImagesDeleted"] = done.get("ImagesDeleted") or []
        out["SpaceReclaimed"] += done.get("SpaceReclaimed") or 0
        if os.path.isdir(self.store.layout.lib_dir):
            out["SpaceReclaimed"] += libcopy.prune(self.store.layout)
        return out

    def check(self, repair: bool = False) -> dict[str, t.Any]:
        """``berth system check [--repair]`` (podman's): verify blobs, unpacked layers and image records
        and name what is wrong; with *repair*, remove the damaged blobs and layers (a re-pull restores
        them) and what dead processes left in ``tmp/``."""
        if not self.store.exists:
            return {"Problems": [], "Repaired": False, "SpaceReclaimed": 0}
        with self.store.gc_lock(shared=not repair):
            problems = self.store.check()
            freed = 0
            if repair:
                freed = self.store.repair(problems) + self.store.reclaim_staging()
        return {"Problems": [p.to_json() for p in problems], "Repaired": repair, "SpaceReclaimed": freed}

    def info(self) -> dict[str, t.Any]:
        """Docker's ``/info`` shape (the fields that mean something without a daemon)."""
        images = self.store.ids() if self.store.exists else []
        containers = self._containers()
        states = [c.get("State") for c in containers.list(all=True)] if containers is not None else []
        runtimes = containers.runtimes() if containers is not None else {"berth": {"path": None}}
        uname = os.uname()
        return {
            "Name": uname.nodename,
            "ServerVersion": VERSION,
            "Driver": "overlay",
            "DockerRootDir": self.store.layout.root,
            "Images": len(images),
            "Containers": len(states),
            "ContainersRunning": states.count("running") + states.count("restarting"),
            "ContainersPaused": states.count("paused"),
            "ContainersStopped": len(states) - states.count("running") - states.count("restarting")
            - states.count("paused"),
            "LoggingDriver": self.config.get("log-driver") or "json-file",
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": _cgroup_version(),
            "Runtimes": runtimes,
            "DefaultRuntime": self.config.get("default-runtime") or "berth",
            "LiveRestoreEnabled": True,  # no daemon: containers never depend on one
            "KernelVersion": uname.release,
            "OperatingSystem": _os_name(),
            "OSType": "linux",
            "Architecture": uname.machine,
            "NCPU": os.cpu_count() or 0,
            "MemTotal": _mem_total(),
            "RegistryConfig": {
                "Mirrors": self.config.registry_mirrors,
                "InsecureRegistryCIDRs": [str(n) for n in self.config.insecure_registries.networks],
                "IndexConfigs": sorted(self.config.insecure_registries.hosts),
            },
            "ConfigFile": self.config.path,
            "SecurityOptions": self._security_options(),
            "Labels": list(self.config.get("labels")),
            "Warnings": self.config.ignored(),
        }

    def events(self, since: float | None = None, until: float | None = None,
               filters: t.Mapping[str, t.Any] | None = None) -> t.Iterator[dict[str, t.Any]]:
        """``docker events``: the engine's events (core/eventlog.py) from *since* (seconds since the epoch;
        None: from now on), until *until* (None: for ever: the iterator waits for new ones), that match
        *filters* (``container`` id or name, ``event``, ``type``, ``image``, ``label``)."""
        from . import filters as filters_

        flt = filters_.normalise(filters, EVENT_FILTERS)
        after = int(since * 1e9) - 1 if since is not None else time.time_ns()
        until_ns = int(until * 1e9) if until is not None else None
        for event in eventlog.follow(self.store.layout.events_log, after_ns=after, until_ns=until_ns):
            if _event_matches(flt, event):
                yield event

    def _security_options(self) -> list[str]:
        """Docker's ``SecurityOptions`` of ``docker info``: ``name=userns`` when containers are remapped."""
        out = ["name=seccomp,profile=builtin", "name=cgroupns"]
        if self.config.userns_remap:
            out.append("name=userns")
        return out


EVENT_FILTERS = ("container", "event", "type", "image", "label")


def _event_matches(flt: t.Mapping[str, list[str]], event: t.Mapping[str, t.Any]) -> bool:
    """docker's events filters: each given key must match one of its values."""
    from . import filters as filters_

    actor = event.get("Actor") or {}
    attrs = actor.get("Attributes") or {}
    action = str(event.get("Action") or "")
    if "type" in flt and event.get("Type") not in flt["type"]:
        return False
    if "event" in flt and action not in flt["event"] and action.split(":", 1)[0] not in flt["event"]:
        return False
    cid = str(actor.get("ID") or "")
    if "container" in flt and not any(v and (v == attrs.get("name") or cid.startswith(v)) for v in flt["container"]):
        return False
    if "image" in flt and _image_key(str(attrs.get("image") or "")) not in {_image_key(v) for v in flt["image"]}:
        return False
    if "label" in flt and not filters_.labels_match(flt["label"], attrs):
        return False
    return True


def _image_key(name: str) -> str:
    """An image name as one string whatever its spelling (``bb``, ``bb:latest``, ``docker.io/library/bb``)."""
    try:
        return str(ImageReference.parse(name))
    except InvalidReference:
        return name


def _cgroup_version() -> str:
    """``"2"`` on a unified host, ``"1"`` on v1 and hybrid ones (Berth drives the v1 controllers there)."""
    from ..runtime import CgroupError, cgroup_layout

    try:
        return "2" if cgroup_layout() == "v2" else "1"
    except CgroupError:  # no cgroup filesystem: info still answers
        return ""


def _mem_total() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _os_name() -> str:
    """``PRETTY_NAME`` of os-release (docker info's Operating System), else Python's platform string."""
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            with open(path) as fh:
                for line in fh:
                    if line.startswith("PRETTY_NAME="):
                        return line.split("=", 1)[1].strip().strip('"')
        except OSError:
            continue
    return platform.platform()
