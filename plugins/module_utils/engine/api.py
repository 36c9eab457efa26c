# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine facade: the one entry point for modules and the CLI.

    eng = Engine.open(data_root=None, config_path=None)
    eng.images.pull("busybox")
"""
from __future__ import annotations

import os
import typing as t

from .config.daemon import DaemonConfig
from .core.layout import DEFAULT_CONFIG, DEFAULT_ROOT, Layout
from .errors import InvalidOption
from .services.images import ImageService, LoadedImage, PullResult
from .services.system import VERSION, SystemService
from .store.images import ImageStore

if t.TYPE_CHECKING:
    from .services.containers import ContainerService


def __getattr__(name: str) -> t.Any:
    # Container value types without importing the runtime for image-only callers.
    if name in ("RunResult", "Stdio"):
        from .services import containers

        return getattr(containers, name)
    raise AttributeError(name)

__all__ = ["Engine", "LoadedImage", "PullResult", "RunResult", "Stdio", "VERSION"]


class Engine:
    def __init__(self, config: DaemonConfig, root: str, lock_timeout: float | None = 600.0) -> None:
        self.config = config
        self.root = root
        self.layout = Layout(root)
        self.store = ImageStore(self.layout, lock_timeout)
        self.images = ImageService(self.store, config, image_users=self._image_users)
        self._containers: ContainerService | None = None
        self.system = SystemService(self.store, config, self.images)

    @property
    def containers(self) -> "ContainerService":
        """Container use cases (imported on first use: image-only tasks never load the runtime)."""
        if self._containers is None:
            from .services.containers import ContainerService

            self._containers = ContainerService(self.layout, self.store, self.images, self.config, self.store.lock_timeout)
        return self._containers

    def _image_users(self, image_id: str) -> list:
        if not os.path.isdir(self.layout.containers_dir):
            return []
        return self.containers.users_of_image(image_id)

    @classmethod
    def open(
        cls,
        data_root: str | None = None,
        config_path: str | None = None,
        lock_timeout: float | None = 600.0,
    ) -> "Engine":
        """Load the engine configuration and bind to a data root.

        Precedence for the data root: *data_root* > ``data-root`` in the
        configuration > ``/var/lib/berth``.  Nothing is created on disk until
        an operation needs it, so read-only calls on a fresh host stay read-only.
        """
        config = DaemonConfig.load(config_path or DEFAULT_CONFIG)
        root = data_root or config.data_root or DEFAULT_ROOT
        if not os.path.isabs(root):
            raise InvalidOption("data_root", root, "must be an absolute path")
        if lock_timeout is not None and lock_timeout < 0:
            raise InvalidOption("lock_timeout", lock_timeout, "must not be negative")
        return cls(config, os.path.normpath(root), lock_timeout)

