# SPDX-License-Identifier: GPL-3.0-or-later
"""Volume use cases: create, inspect, list, remove, prune; what containers use comes from their records."""
from __future__ import annotations

import typing as t

from ..errors import NotFound, VolumeInUse
from ..volumes import LocalVolumes, Volume, check_driver, check_driver_options, check_labels, check_name
from . import filters as filters_

if t.TYPE_CHECKING:
    from ..core.layout import Layout

#: ``name -> [(container name, active)]`` of the containers that mount each volume.
Users = t.Callable[[], t.Mapping[str, t.Sequence[t.Tuple[str, bool]]]]


class VolumeService:
    """*users* lists who mounts which volume (the container records; ``{}`` on a root without containers)."""

    def __init__(self, layout: Layout, lock_timeout: float | None = 600.0, users: Users | None = None,
                 volumes: LocalVolumes | None = None) -> None:
        self.layout = layout
        self.volumes = volumes or LocalVolumes(layout, lock_timeout)
        self._users: Users = users or dict

    def create(self, name: str | None = None, driver: str | None = None,
               driver_options: t.Mapping[str, t.Any] | None = None,
               labels: t.Mapping[str, t.Any] | None = None) -> dict[str, t.Any]:
        """``docker volume create``: an existing volume of that name is returned as it is."""
        check_driver(driver)
        self._settle()
        volume, _created = self.volumes.create(name, labels=labels, options=driver_options)
        return self._inspect(volume)

    def check(self, name: str | None = None, driver: str | None = None,
              driver_options: t.Mapping[str, t.Any] | None = None, labels: t.Mapping[str, t.Any] | None = None) -> None:
        """What :meth:`create` checks, writing nothing (check mode)."""
        if name is not None:
            check_name(name)
        check_driver(driver)
        check_driver_options(dict(driver_options or {}))
        check_labels(dict(labels or {}))

    def exists(self, name: str) -> bool:
        check_name(name)
        self._settle()
        return self.volumes.exists(name)

    def _in_use(self, name: str) -> bool:
        return bool(self._users().get(name))

    def _settle(self) -> None:
        """Finish what the monitors of ``--rm`` containers left: their anonymous volumes that no other
        container uses go (``LocalVolumes.remove_orphans``), before anyone sees them."""
        self.volumes.remove_orphans(self._in_use)

    def inspect(self, name: str, usage: bool = False) -> dict[str, t.Any]:
        """Docker's volume inspect: Name, Driver, Mountpoint, Labels, Options, Scope, CreatedAt, and with
        *usage* ``UsageData`` (Size in bytes, RefCount: the containers that mount it)."""
        check_name(name)
        self._settle()
        volume = self.volumes.get(name)
        return self._inspect(volume, self._users() if usage else None)

    def _inspect(self, volume: Volume, users: t.Mapping[str, t.Sequence[t.Any]] | None = None) -> dict[str, t.Any]:
        out = volume.to_json()
        out["Mountpoint"] = self.layout.volume_data(volume.name)
        out["Scope"] = "local"
        if users is not None:
            out["UsageData"] = {"Size": self.volumes.usage(volume.name), "RefCount": len(users.get(volume.name, ()))}
        return out

    def list(self, filters: t.Mapping[str, t.Any] | None = None, usage: bool = False) -> list[dict[str, t.Any]]:
        """``docker volume ls``: filters ``dangling`` (true: no container mounts it), ``name`` (a part of the
        name), ``label`` (``key`` or ``key=value``), ``driver``."""
        flt = filters_.normalise(filters, ("dangling", "name", "label", "driver"))
        self._settle()
        users = self._users()
        out = []
        for volume in self.volumes.list():
            if "dangling" in flt and filters_.boolean(flt["dangling"], "dangling") == (volume.name in users):
                continue
            if "name" in flt and not any(n in volume.name for n in flt["name"]):
                continue
            if "label" in flt and not filters_.labels_match(flt["label"], volume.labels):
                continue
            if "driver" in flt and volume.driver not in flt["driver"]:
                continue
            out.append(self._inspect(volume, users if usage else None))
        return out

    def remove(self, name: str, force: bool = False) -> bool:
        """``docker volume rm``: refused while a container uses the volume, naming the containers; with
        *force*, stopped users do not keep it (a running one always does). False when there is no such volume."""
        check_name(name)
        self._settle()

        def keep(name: str) -> bool:  # asked under the volume's use lock: no create is half way
            users = list(self._users().get(name, ()))
            running = [c for c, active in users if active]
            if running:
                raise VolumeInUse(name, running, "running")
            if users and not force:
                raise VolumeInUse(name, [c for c, dummy in users], "stopped: remove the containers, or use force")
            return False

        try:
            return self.volumes.remove(name, keep)
        except NotFound:
            if force:
                return False
            raise

    def prune(self, all: bool = False, filters: t.Mapping[str, t.Any] | None = None) -> dict[str, t.Any]:
        """``docker volume prune``: the anonymous volumes no container uses; with *all* the named ones too
        (Docker 23+). *filters*: ``label``/``label!``."""
        flt = filters_.normalise(filters, ("label", "label!", "all"))
        if "all" in flt:
            all = all or filters_.boolean(flt["all"], "all")
        self._settle()
        users = self._users()
        deleted = []
        reclaimed = 0
        for volume in self.volumes.list():
            if volume.name in users or not (all or volume.anonymous):
                continue
            if "label" in flt and not filters_.labels_match(flt["label"], volume.labels):
                continue
            if "label!" in flt and filters_.labels_match(flt["label!"], volume.labels, any_=True):
                continue
            size = self.volumes.usage(volume.name)
            try:
                if not self.volumes.remove(volume.name, self._in_use):  # used by a container created meanwhile
                    continue
            except NotFound:
                continue
            deleted.append(volume.name)
            reclaimed += size
        return {"VolumesDeleted": deleted, "SpaceReclaimed": reclaimed}

    def disk_usage(self) -> list[dict[str, t.Any]]:
        """``system df``'s Volumes: every volume with its UsageData."""
        return self.list(usage=True)
