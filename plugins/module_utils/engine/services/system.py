# SPDX-License-Identifier: GPL-3.0-or-later
"""System-wide views: disk usage and engine information."""
from __future__ import annotations

import os
import platform
import typing as t

from ..config.daemon import DaemonConfig
from ..store.images import ImageStore
from .images import ImageService

VERSION = "0.1.0"


class SystemService:
    def __init__(self, store: ImageStore, config: DaemonConfig, images: ImageService, host_files: t.Any = None) -> None:
        self.store = store
        self.config = config
        self.images = images
        self.host_files = host_files

    def df(self) -> dict[str, t.Any]:
        """Docker's ``/system/df`` shape; shared layers count once in LayersSize."""
        usage = self.images.disk_usage()
        return {
            "LayersSize": usage["LayersSize"],
            "Images": usage["Images"],
            "Containers": [],
            "Volumes": [],
            "BuildCache": [],
        }

    def info(self) -> dict[str, t.Any]:
        images = self.store.ids() if self.store.exists else []
        uname = os.uname()
        return {
            "Name": uname.nodename,
            "ServerVersion": VERSION,
            "Driver": "overlay",
            "DockerRootDir": self.store.layout.root,
            "Images": len(images),
            "Containers": 0,
            "KernelVersion": uname.release,
            "OperatingSystem": platform.platform(),
            "Architecture": uname.machine,
            "RegistryConfig": {
                "Mirrors": self.config.registry_mirrors,
                "InsecureRegistryCIDRs": [str(n) for n in self.config.insecure_registries.networks],
                "IndexConfigs": sorted(self.config.insecure_registries.hosts),
            },
            "ConfigFile": self.config.path,
            "SecurityOptions": self._security_options(),
        }

    def _security_options(self) -> list[str]:
        """Docker's ``SecurityOptions`` of ``docker info``: ``name=userns`` when containers are remapped."""
        out = ["name=seccomp,profile=builtin", "name=cgroupns"]
        if self.config.userns_remap:
            out.append("name=userns")
        return out
