# SPDX-License-Identifier: GPL-3.0-or-later
"""``ContainerService``: the container use cases behind one object (``Engine.containers``).

Thin: it holds what every verb needs (the layout, the daemon config, the lock timeout, the image store and
service loaded on first use) and hands each call to the module of its verb, imported on first use, as
youki keeps one file per lifecycle verb:

========== ==========================================================================
records    the record store: ContainerRecord, lookup by name/ID/prefix, the state
create     create: record, name, files, user namespace ownership
start      start, run, restore: the rootfs, the bundle, the monitor
stop       stop, kill, restart, pause/unpause, wait
remove     remove, prune, sweep_locks
update     update (resources in place), rename
exec_      exec, attach
query      inspect, list (ps), logs, top, stats, disk usage
export     diff, export
connect    network connect, disconnect (the endpoints themselves: services/networks.py)
_common    runtime selection, image-store files, options as the host applies them
========== ==========================================================================

Each verb checks the container's state guard first (``lifecycle.require`` or the verb's ``can_*``).
The services are the only place that combines the image store, the container options, the spec builder,
the OCI runtime and the monitor (docs/dev/runtime-design.md).

Who writes a container's state: this service writes ``created``, ``manually_stopped``,
``paused``/``running`` for pause/unpause and ``removing``; the monitor writes everything about the
running process.

On the start path of ``berth run`` (records, create, start, _common and this file): no typing, json, re or
dataclasses at import time; the other verbs are imported only when called.
"""
from __future__ import annotations

import os

from ...errors import EngineError
from . import _common, records
from .records import ContainerRecord, RunResult, Stdio

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    from ...config.daemon import DaemonConfig
    from ...core.layout import Layout
    from ...store.images import ImageStore
    from ...volumes import LocalVolumes
    from ..images import ImageService

__all__ = ["ContainerService", "ContainerRecord", "RunResult", "Stdio"]


class ContainerService:
    """*store* and *images* are the ImageStore and ImageService, or zero-argument functions returning them
    (the Engine loads them on first use: a plain ``run`` of a local image never does)."""

    def __init__(
        self,
        layout: Layout,
        store: ImageStore | t.Callable[[], ImageStore],
        images: ImageService | t.Callable[[], ImageService],
        config: DaemonConfig,
        lock_timeout: float | None = 600.0,
        host_files: t.Any = None,
    ) -> None:
        self.layout = layout
        self._store = store
        self._images = images
        self.config = config
        self.lock_timeout = lock_timeout
        #: config.userns.HostFiles: where /etc/passwd, group, subuid, subgid are (None: the host's)
        self.host_files = host_files
        #: idmapped layers for user namespaces (None: not asked yet; runtime/idmap.py, _common.idmap_supported)
        self.idmap: bool | None = None
        self._volumes: LocalVolumes | None = None
        self._networks: t.Any = None

    @property
    def networks(self) -> t.Any:
        """The ``NetworkService`` (loaded on first use: the none/host start path never imports it)."""
        if self._networks is None:
            from ..networks import NetworkService

            self._networks = NetworkService(self.layout, self.config, self.lock_timeout, users=self.network_users,
                                            containers=self)
        return self._networks

    def connect(self, name: str, network: str, aliases: t.Sequence[str] = (), ipv4_address: str | None = None) -> bool:
        from . import connect

        return connect.connect(self, name, network, aliases, ipv4_address)

    def disconnect(self, name: str, network: str, force: bool = False) -> bool:
        from . import connect

        return connect.disconnect(self, name, network, force)

    def network_users(self, network: str) -> list[str]:
        """The names of the containers that join *network* (by their options or a connect)."""
        from ..networks import DEFAULT_NETWORK, container_networks

        out = []
        for cid, record, _state in records.each(self):
            joined = {n["name"] for n in container_networks(record.options)}
            ep = self.networks.endpoints(cid) if os.path.exists(self.layout.container_file(cid, "network.json")) else {}
            joined.update(ep.get("networks") or {})
            if network in joined or (network == "default" and DEFAULT_NETWORK in joined):
                out.append(record.name)
        return out

    @property
    def store(self) -> ImageStore:
        if callable(self._store):
            self._store = self._store()
        return self._store

    @property
    def volumes(self) -> LocalVolumes:
        """The volume driver (loaded by containers that mount volumes only)."""
        if self._volumes is None:
            from ...volumes import LocalVolumes

            self._volumes = LocalVolumes(self.layout, self.lock_timeout)
        return self._volumes

    @property
    def images(self) -> ImageService:
        if callable(self._images):
            self._images = self._images()
        return self._images

    # ================================================================ records
    def lookup(self, name: str) -> str | None:
        """Container ID for a name, full ID or unique ID prefix (Docker's order); None when absent."""
        return records.lookup(self, name)

    def require(self, name: str) -> str:
        return records.require(self, name)

    def desired(self, name: str) -> dict[str, t.Any]:
        return dict(records.load(self, records.require(self, name)).options)

    def users_of_image(self, image_id: str) -> list[str]:
        return records.users_of_image(self, image_id)

    def volume_users(self) -> dict[str, list[tuple[str, bool]]]:
        """Volume name -> ``(container name, active)`` of the containers that mount it."""
        return records.volume_users(self)

    def remapped_layers_in_use(self) -> set[tuple[str, str]]:
        return records.remapped_layers_in_use(self)

    def local_image(self, name: str) -> str | None:
        return _common.local_image(self, name)

    def runtimes(self) -> dict[str, dict[str, t.Any]]:
        return _common.runtimes(self)

    # ================================================================ create / start / run
    def create(self, options: t.Mapping[str, t.Any], name: str | None = None, pull: str = "missing") -> str:
        from . import create

        cid = create.create(self, options, name=name, pull=pull)
        _common.event(self, "create", records.load(self, cid))
        return cid

    def check(self, options: t.Mapping[str, t.Any], name: str | None = None) -> None:
        """What ``create`` checks (the OCI spec included, when the image is present), writing nothing:
        check mode."""
        from . import create

        create.check(self, options, name=name)

    def host_warnings(self, options: t.Mapping[str, t.Any], platform_requested: bool = False) -> list[str]:
        """What this host cannot apply of *options*, and Docker's warning for an image of another platform
        (unless a platform was asked for)."""
        from . import create

        platform = None if platform_requested else _common.platform_warning(self, options.get("image"))
        return create.host_warnings(options) + ([platform] if platform else [])

    def start(self, name: str, stdio: Stdio | None = None) -> t.Any:
        from . import start

        return start.start(self, name, stdio)

    def run(
        self,
        options: t.Mapping[str, t.Any],
        name: str | None = None,
        detach: bool = True,
        stdio: Stdio | None = None,
        remove: bool = False,
        pull: str = "missing",
        on_start: t.Callable[[str, int], None] | None = None,
    ) -> RunResult:
        from . import start

        return start.run(self, options, name=name, detach=detach, stdio=stdio, remove=remove, pull=pull,
                         on_start=on_start)

    @staticmethod
    def wait_attached(handle: t.Any) -> int | None:
        from . import start

        return start.wait_attached(handle)

    def restore(self) -> list[str]:
        from . import start

        return start.restore(self)

    # ================================================================ stop / kill / restart / pause / wait
    def stop(self, name: str, timeout: int | None = None, signal: str | None = None) -> bool:
        from . import stop

        record = self._record(name)
        stopped = stop.stop(self, name, timeout=timeout, signal=signal)
        _common.event(self, "stop", record)
        return stopped

    def restart(self, name: str, timeout: int | None = None) -> None:
        from . import stop

        record = self._record(name)
        stop.restart(self, name, timeout=timeout)
        _common.event(self, "restart", record)

    def kill(self, name: str, signal: str | int = "KILL") -> None:
        from . import stop

        record = self._record(name)
        stop.kill(self, name, signal)
        _common.event(self, "kill", record, signal=_common.signal_text(signal))

    def pause(self, name: str) -> None:
        from . import stop

        record = self._record(name)
        stop.pause(self, name)
        _common.event(self, "pause", record)

    def unpause(self, name: str) -> None:
        from . import stop

        record = self._record(name)
        stop.unpause(self, name)
        _common.event(self, "unpause", record)

    def wait(self, name: str, condition: str = "not-running", timeout: float | None = None) -> int:
        from . import stop

        return stop.wait(self, name, condition=condition, timeout=timeout)

    # ================================================================ remove / update / rename
    def remove(self, name: str, force: bool = False, volumes: bool = False) -> bool:
        """``docker rm [-f] [-v]``: *volumes* removes the container's anonymous volumes too."""
        from . import remove

        try:
            record = self._record(name)
        except EngineError:
            record = None  # remove says what is wrong
        removed = remove.remove(self, name, force=force, volumes=volumes)
        if removed and record is not None:
            _common.event(self, "destroy", record)
        return removed

    def prune(self, filters: t.Mapping[str, t.Any] | None = None) -> dict[str, t.Any]:
        from . import remove

        return remove.prune(self, filters)

    def sweep_locks(self) -> int:
        from . import remove

        return remove.sweep_locks(self)

    def rename(self, name: str, new_name: str) -> None:
        from . import update

        record = self._record(name)
        update.rename(self, name, new_name)
        _common.event(self, "rename", record.replace(name=new_name), oldName="/" + record.name)

    def update(self, name: str, options: t.Mapping[str, t.Any]) -> bool:
        from . import update

        record = self._record(name)
        changed = update.update(self, name, options)
        _common.event(self, "update", record)
        return changed

    # ================================================================ exec / attach
    def exec(
        self,
        name: str,
        command: t.Sequence[str],
        user: str | None = None,
        env: t.Mapping[str, str] | None = None,
        workdir: str | None = None,
        tty: bool = False,
        detach: bool = False,
        privileged: bool = False,
        stdio: Stdio | None = None,
    ) -> int:
        import os

        from . import exec_

        record = self._record(name)
        exec_id = os.urandom(32).hex()
        command_text = " ".join(command)
        _common.event(self, "exec_create: " + command_text, record, execID=exec_id)
        _common.event(self, "exec_start: " + command_text, record, execID=exec_id)
        code = exec_.exec_(self, name, command, user=user, env=env, workdir=workdir, tty=tty, detach=detach,
                           privileged=privileged, stdio=stdio)
        if not detach:
            _common.event(self, "exec_die", record, execID=exec_id, exitCode=code)
        return code

    def attach(self, name: str, stdio: Stdio) -> int | None:
        from . import exec_

        return exec_.attach(self, name, stdio)

    def _record(self, name: str) -> ContainerRecord:
        """The record of the container *name* (its event's attributes)."""
        return records.load(self, records.require(self, name))

    # ================================================================ queries
    def inspect(self, name: str) -> dict[str, t.Any]:
        from . import query

        return query.inspect(self, name)

    def list(self, all: bool = False, filters: t.Mapping[str, t.Any] | None = None) -> list[dict[str, t.Any]]:
        from . import query

        return query.list_(self, all=all, filters=filters)

    def logs(
        self,
        name: str,
        follow: bool = False,
        tail: int | None = None,
        since: float | None = None,
        until: float | None = None,
        stdout: bool = True,
        stderr: bool = True,
    ) -> t.Iterator[t.Any]:
        from . import query

        return query.logs(self, name, follow=follow, tail=tail, since=since, until=until, stdout=stdout,
                          stderr=stderr)

    def top(self, name: str, ps_args: str | None = None) -> dict[str, t.Any]:
        from . import query

        return query.top(self, name, ps_args)

    def stats(self, name: str) -> dict[str, t.Any]:
        from . import query

        return query.stats(self, name)

    def disk_usage(self) -> list[dict[str, t.Any]]:
        from . import query

        return query.disk_usage(self)

    # ================================================================ filesystem: diff / export
    def diff(self, name: str) -> list[dict[str, t.Any]]:
        from . import export

        return export.diff(self, name)

    def export(self, name: str, out: t.BinaryIO) -> int:
        from . import export

        return export.export(self, name, out)

    def export_file(self, name: str, path: str) -> int:
        from . import export

        return export.export_file(self, name, path)

    def commit(self, name: str, reference: str | None = None, author: str = "", message: str = "",
               changes: t.Sequence[str] = ()) -> str:
        from . import commit

        return commit.commit(self, name, reference, author, message, changes)

    def commit_if_changed(self, name: str, reference: str, author: str = "", message: str = "",
                          changes: t.Sequence[str] = (), dry_run: bool = False) -> tuple[str | None, bool]:
        from . import commit

        return commit.commit_if_changed(self, name, reference, author, message, changes, dry_run)

    def export_file_if_changed(self, name: str, path: str, dry_run: bool = False) -> bool:
        from . import export

        return export.export_file_if_changed(self, name, path, dry_run)

    def cp_from(self, name: str, src: str, dest: str | t.BinaryIO, archive: bool = False,
                follow_link: bool = False) -> None:
        from . import copy

        copy.cp_from(self, name, src, dest, archive, follow_link)

    def cp_to(self, name: str, src: str | t.BinaryIO, dest: str, archive: bool = False,
              follow_link: bool = False) -> None:
        from . import copy

        copy.cp_to(self, name, src, dest, archive, follow_link)
