# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine facade: the one entry point for modules and the CLI.

    eng = Engine.open(data_root=None, config_path=None)
    eng.images.pull("busybox")
"""
from __future__ import annotations

import os

from .config.daemon import DaemonConfig
from .core import trust
from .core.layout import DEFAULT_CONFIG, DEFAULT_ROOT, Layout
from .core.version import VERSION
from .errors import InvalidOption

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    from .services.containers import ContainerService
    from .services.daemon_config import DaemonConfigService
    from .services.images import ImageService
    from .services.registries import RegistryService
    from .services.networks import NetworkService
    from .services.system import SystemService
    from .services.volumes import VolumeService
    from .store.images import ImageStore

#: Names this module offers, loaded with their service on first use: ``berth run`` of a local image never
#: imports the image store or the image service (~15 ms), image-only callers never the container runtime.
_LAZY = {
    "LoadedImage": "images", "PullResult": "images", "PushResult": "images", "ImageService": "images",
    "SystemService": "system",
    "RunResult": "containers", "Stdio": "containers", "ContainerService": "containers",
}


def __getattr__(name: str) -> t.Any:
    group = _LAZY.get(name)
    if group == "images":
        from .services import images as mod
    elif group == "system":
        from .services import system as mod
    elif group == "containers":
        from .services import containers as mod
    else:
        raise AttributeError(name)
    return getattr(mod, name)


__all__ = ["VERSION", "Engine", "daemon_config"]  # and, served by __getattr__ on first use, the names in _LAZY


def daemon_config(path: str | None = None, data_root: str | None = None,
                  lock_timeout: float | None = 600.0) -> DaemonConfigService:
    """The engine configuration file *path* (default ``/etc/berth/daemon.json``) to change, whether or not
    the engine could load it now (an invalid file is what it may have to repair). The containers its
    changes may concern are looked up in *data_root*, else the ``data-root`` the file had before."""
    from .services.daemon_config import DaemonConfigService

    path = path or DEFAULT_CONFIG

    def containers(before: t.Mapping[str, t.Any]) -> list[str]:
        config = DaemonConfig(path=path, raw=dict(before))
        root = data_root or config.data_root or DEFAULT_ROOT
        if not isinstance(root, str) or not os.path.isabs(root):
            return []  # the file named no usable data root before: nothing can be there
        engine = Engine(config, os.path.normpath(root), lock_timeout)
        if not os.path.isdir(engine.layout.containers_dir):
            return []
        trust.secure_root(engine.layout)
        return sorted(c["Names"][0].lstrip("/") for c in engine.containers.list(all=True))

    return DaemonConfigService(path, containers)


class Engine:
    def __init__(self, config: DaemonConfig, root: str, lock_timeout: float | None = 600.0,
                 host_files: t.Any = None) -> None:
        self.config = config
        #: config.userns.HostFiles (where /etc/passwd, group, subuid, subgid are), None for the host's
        self.host_files = host_files
        self.root = root
        self.layout = Layout(root)
        self.lock_timeout = lock_timeout
        self._store: ImageStore | None = None
        self._images: ImageService | None = None
        self._system: SystemService | None = None
        self._containers: ContainerService | None = None
        self._volumes: VolumeService | None = None
        self._registries: RegistryService | None = None

    @property
    def store(self) -> ImageStore:
        if self._store is None:
            from .store.images import ImageStore

            self._store = ImageStore(self.layout, self.lock_timeout)
        return self._store

    @staticmethod
    def default_platform() -> str:
        """This host's ``os/arch[/variant]``, as ``images.default_platform()`` gives it, without loading the
        image service (``berth version``)."""
        from .core.reference import format_platform, host_platform

        return format_platform(host_platform())

    @property
    def images(self) -> ImageService:
        if self._images is None:
            from .services.images import ImageService

            self._images = ImageService(self.store, self.config, image_users=self._image_users,
                                        remapped_in_use=self._remapped_in_use)
        return self._images

    @property
    def system(self) -> SystemService:
        if self._system is None:
            from .services.system import SystemService

            self._system = SystemService(self.store, self.config, self.images, host_files=self.host_files,
                                         containers=self._containers_if_any, volumes=lambda: self.volumes)
        return self._system

    @property
    def containers(self) -> ContainerService:
        """Container use cases (imported on first use: image-only tasks never load the runtime)."""
        if self._containers is None:
            from .services.containers import ContainerService

            self._containers = ContainerService(self.layout, lambda: self.store, lambda: self.images, self.config,
                                                self.lock_timeout, host_files=self.host_files)
        return self._containers

    @property
    def volumes(self) -> VolumeService:
        """Volume use cases: create, inspect, list, remove, prune."""
        if self._volumes is None:
            from .services.volumes import VolumeService

            self._volumes = VolumeService(self.layout, self.lock_timeout, users=self._volume_users)
        return self._volumes

    @property
    def registries(self) -> RegistryService:
        """Registries run on this host (their files), and what a registry holds (catalog, tags)."""
        if self._registries is None:
            from .services.registries import RegistryService

            self._registries = RegistryService(self.config, self.images.registry)
        return self._registries

    def _volume_users(self) -> dict:
        if not os.path.isdir(self.layout.containers_dir):
            return {}
        return self.containers.volume_users()

    def build(
        self,
        context: str | None,
        dockerfile: str | None = None,
        dockerfile_text: str | None = None,
        tags: t.Sequence[str] = (),
        build_args: t.Mapping[str, str] | None = None,
        target: str | None = None,
        no_cache: bool = False,
        pull: bool = False,
        labels: t.Mapping[str, str] | None = None,
        network: str | None = None,
        say: t.Callable[[str], None] | None = None,
        output_fd: int | None = None,
        dry_run: bool = False,
    ) -> dict[str, t.Any]:
        """``docker build`` (services/build.py): ``{"image_id", "steps", "cached", "warnings"}``. With
        *dry_run* nothing runs, is pulled or tagged: ``image_id`` is the image the step cache already has
        for these inputs, or "" when a build would run a step."""
        from .build.builder import BuildOptions
        from .services import build

        opts = BuildOptions(dict(build_args or {}), target, no_cache, pull, dict(labels or {}), network,
                            dry_run=dry_run)
        result = build.build(self.store, lambda: self.images, lambda: self.containers, context, dockerfile, dockerfile_text,
                             tags, opts, say or build.quiet, output_fd)
        return {"image_id": result.image_id, "steps": result.steps, "cached": result.cached,
                "warnings": list(result.warnings)}

    @property
    def networks(self) -> NetworkService:
        """Bridge networks: ``create(spec)``, ``list()``, ``inspect(name)``, ``remove(name)``, ``prune()``,
        ``connect(container, network, aliases, ipv4_address)``, ``disconnect(container, network)``
        (docs/dev/engine-contract.md). Shares the container service's instance (it names a network's users)."""
        return self.containers.networks

    def _containers_if_any(self) -> ContainerService | None:
        """The container service, or None on a data root without containers (nothing to import)."""
        return self.containers if os.path.isdir(self.layout.containers_dir) else None

    def _image_users(self, image_id: str) -> list:
        if not os.path.isdir(self.layout.containers_dir):
            return []
        return self.containers.users_of_image(image_id)

    def _remapped_in_use(self) -> set:
        if not os.path.isdir(self.layout.containers_dir):
            return set()
        return self.containers.remapped_layers_in_use()

    @classmethod
    def open(
        cls,
        data_root: str | None = None,
        config_path: str | None = None,
        lock_timeout: float | None = 600.0,
        host_files: t.Any = None,
    ) -> "Engine":
        """Load the engine configuration and bind to a data root.

        Precedence for the data root: *data_root* > ``data-root`` in the
        configuration > ``/var/lib/berth``.  Nothing is created on disk until
        an operation needs it, so read-only calls on a fresh host stay read-only.
        *host_files* (``config.userns.HostFiles``) moves the account databases that ``userns-remap``
        reads (and ``default`` writes) under another prefix; tests point it at a copy of /etc.
        """
        trust.set_umask()  # nothing the engine makes is writable by group or others, whatever umask it inherited
        config = DaemonConfig.load(config_path or DEFAULT_CONFIG)
        root = data_root or config.data_root or DEFAULT_ROOT
        if not os.path.isabs(root):
            raise InvalidOption("data_root", root, "must be an absolute path")
        if lock_timeout is not None and lock_timeout < 0:
            raise InvalidOption("lock_timeout", lock_timeout, "must not be negative")
        engine = cls(config, os.path.normpath(root), lock_timeout, host_files)
        trust.secure_root(engine.layout)  # an existing root and its top-level dirs: root's, others can't write
        return engine
