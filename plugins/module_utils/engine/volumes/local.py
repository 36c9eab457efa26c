# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``local`` volume driver: named volumes under the data root, as Docker keeps them.

::

    volumes/<name>/volume.json   the record (:class:`Volume`), written atomically under the volume's lock
    volumes/<name>/_data/        the content; a mountpoint when the driver options mount something there
    volumes/<name>/copying-up    a copy-up under way (or cut short by a crash: the next mount finishes it)
    volumes/<name>/copied-up     the first mount's copy-up is done: it never happens again

Driver options (Docker's ``local`` driver):

* none: a plain directory;
* ``type=tmpfs`` (``o=size=64m,mode=1777``, ``device`` optional): a tmpfs mounted on ``_data`` at the first use;
* ``type=none,o=bind,device=/host/dir``: the host directory bound on ``_data``;
* ``type=ext4|xfs|...,device=/dev/sdX`` (``o`` optional): a block device's file system mounted on ``_data``.

What is mounted on ``_data`` stays mounted until the volume is removed (after a reboot it is mounted again at
the next use). Mounting goes through the injected *run* (``mount``/``umount`` commands): tests record it.

Copy-up (:meth:`LocalVolumes.copy_up`): the first time a volume is mounted over a directory of the image,
that directory's content (owners, modes, xattrs, hard links: ``cp -a``) is copied in, if the volume is empty
(Docker's rule). The copy goes to a staging directory inside ``_data`` (same file system); its entries are
then renamed into place one by one, ``copying-up`` marking that the content is ours to complete. A crash at
any point leaves either no marker (nothing moved yet: the copy starts again) or ``copying-up`` (the next mount
copies again and moves what is still missing); ``copied-up`` is written last.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import typing as t

from ..core import fs, trust
from ..core.locks import flock
from ..core.timefmt import now_rfc3339
from ..errors import InvalidOption, NotFound, VolumeError

if t.TYPE_CHECKING:
    from ..core.layout import Layout

DRIVER = "local"
#: Docker (23+) labels anonymous volumes with this; ``volume prune`` removes only them unless ``all``.
ANONYMOUS_LABEL = "com.docker.volume.anonymous"
#: Docker's volume name rule (``[a-zA-Z0-9][a-zA-Z0-9_.-]`` and at least two characters).
NAME_PATTERN = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
DRIVER_OPTION_KEYS = ("type", "o", "device")
#: The staging directory of a copy-up, inside ``_data`` (renames into place stay on one file system).
STAGING = ".berth-copyup"

Runner = t.Callable[..., subprocess.CompletedProcess]


def check_name(name: t.Any, field: str = "name") -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidOption(field, name, "volume names are [a-zA-Z0-9][a-zA-Z0-9_.-]+ (two characters or more)")
    return name


def check_driver(driver: t.Any, field: str = "driver") -> str:
    if driver in (None, "", DRIVER):
        return DRIVER
    raise InvalidOption(field, driver, "only the 'local' volume driver is supported")


def check_driver_options(options: t.Any, field: str = "driver_options") -> dict[str, str]:
    """The local driver's options, checked: ``{}``, or ``type`` with ``o``/``device`` as the type needs."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise InvalidOption(field, options, "must be a mapping of type, o and device")
    out = {}
    for key, value in options.items():
        if key not in DRIVER_OPTION_KEYS:
            raise InvalidOption(f"{field}.{key}", value, "unknown option of the local driver (type, o, device)")
        if not isinstance(value, (str, int)) or isinstance(value, bool) or "\0" in str(value):
            raise InvalidOption(f"{field}.{key}", value, "must be a string")
        out[key] = str(value)
    if not out:
        return out
    kind = out.get("type")
    if not kind:
        raise InvalidOption(f"{field}.type", None, "o and device need a file system type (tmpfs, none, ext4...)")
    if not re.fullmatch(r"[a-z0-9_.]+", kind):
        raise InvalidOption(f"{field}.type", kind, "not a file system type")
    device = out.get("device", "")
    words = [w for w in out.get("o", "").split(",") if w]
    if kind == "none":
        if not {"bind", "rbind"} & set(words):
            raise InvalidOption(f"{field}.o", out.get("o"), "type=none needs o=bind (or rbind)")
        if not device.startswith("/"):
            raise InvalidOption(f"{field}.device", device or None, "type=none,o=bind needs an absolute host path")
    elif kind != "tmpfs" and not device.startswith("/"):
        raise InvalidOption(f"{field}.device", device or None, f"type={kind} needs the absolute path of a device")
    return {k: out[k] for k in sorted(out)}


def check_labels(labels: t.Any, field: str = "labels") -> dict[str, str]:
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise InvalidOption(field, labels, "must be a mapping of strings")
    out = {}
    for key, value in labels.items():
        if not isinstance(key, str) or not key or "\0" in key:
            raise InvalidOption(field, key, "label keys are non-empty strings")
        if value is None:
            value = ""
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or "\0" in str(value):
            raise InvalidOption(f"{field}.{key}", value, "must be a string")
        out[key] = str(value)
    return {k: out[k] for k in sorted(out)}


@dataclasses.dataclass(frozen=True)
class Volume:
    """A volume's record: what it was created with."""

    name: str
    driver: str = DRIVER
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    options: dict[str, str] = dataclasses.field(default_factory=dict)
    created_at: str = ""

    @property
    def anonymous(self) -> bool:
        return ANONYMOUS_LABEL in self.labels

    def to_json(self) -> dict[str, t.Any]:
        return {"Name": self.name, "Driver": self.driver, "Labels": self.labels, "Options": self.options,
                "CreatedAt": self.created_at}

    @classmethod
    def from_json(cls, data: t.Mapping[str, t.Any]) -> Volume:
        return cls(name=str(data["Name"]), driver=str(data.get("Driver") or DRIVER),
                   labels=dict(data.get("Labels") or {}), options=dict(data.get("Options") or {}),
                   created_at=str(data.get("CreatedAt") or ""))


class LocalVolumes:
    """Volume records and content under *layout*; *run* runs ``mount``, ``umount`` and ``cp``."""

    def __init__(self, layout: Layout, lock_timeout: float | None = 600.0, run: Runner = subprocess.run) -> None:
        self.layout = layout
        self.lock_timeout = lock_timeout
        self._run = run

    # ------------------------------------------------------------------ records
    def _lock(self, name: str) -> flock:
        fs.ensure_dir(self.layout.locks_dir, 0o700)
        return flock(self.layout.volume_lock(name), timeout=self.lock_timeout)

    def exists(self, name: str) -> bool:
        return os.path.isfile(self.layout.volume_record(name))

    def get(self, name: str) -> Volume:
        check_name(name)
        path = self.layout.volume_record(name)
        try:
            data = trust.read_trusted(path, what="volume record")
        except FileNotFoundError:
            raise NotFound("volume", name) from None
        return Volume.from_json(json.loads(data))

    def names(self) -> list[str]:
        try:
            entries = sorted(os.listdir(self.layout.volumes_dir))
        except FileNotFoundError:
            return []
        return [n for n in entries if NAME_PATTERN.fullmatch(n) and self.exists(n)]

    def list(self) -> list[Volume]:
        out = []
        for name in self.names():
            try:
                out.append(self.get(name))
            except NotFound:  # removed meanwhile
                continue
        return out

    def create(self, name: str | None = None, labels: t.Mapping[str, str] | None = None,
               options: t.Mapping[str, str] | None = None, anonymous: bool = False) -> tuple[Volume, bool]:
        """The volume *name* (a new anonymous one when None) and whether it was created now. An existing
        volume is returned as it is, as Docker does."""
        labels = check_labels(dict(labels or {}))
        options = check_driver_options(dict(options or {}))
        if name is None:
            name = os.urandom(32).hex()
            anonymous = True
        check_name(name)
        if anonymous:
            labels[ANONYMOUS_LABEL] = ""
        trust.secure_root(self.layout, create=True)
        fs.ensure_dir(self.layout.volumes_dir, 0o700)
        with self._lock(name):
            if self.exists(name):
                return self.get(name), False
            vdir = self.layout.volume_dir(name)
            fs.ensure_dir(vdir, 0o700)
            # _data is 0755: the container's users reach it through the bind mount, not through vdir
            fs.ensure_dir(self.layout.volume_data(name), 0o755)
            volume = Volume(name=name, labels=dict(sorted(labels.items())), options=options,
                            created_at=now_rfc3339())
            # the record is written last: a volume without volume.json does not exist
            fs.atomic_write_json(self.layout.volume_record(name), volume.to_json(), mode=0o600)
            fs.fsync_dir(self.layout.volumes_dir)
        return volume, True

    def claim(self) -> VolumeClaim:
        """Shared use locks on the volumes a container create ensures, held until its record is written:
        a removal (:meth:`remove` with *keep*) waits for them, then sees the new container among the users."""
        return VolumeClaim(self)

    def _use_lock(self, name: str, shared: bool = False) -> flock:
        fs.ensure_dir(self.layout.locks_dir, 0o700)
        return flock(self.layout.volume_use_lock(name), shared=shared, timeout=self.lock_timeout)

    def remove(self, name: str, keep: t.Callable[[str], bool] | None = None) -> bool:
        """Unmount and delete the volume. *keep(name)*, asked under the volume's exclusive use lock (no
        create is between ensuring the volume and writing its record), says whether containers use it: then
        nothing is removed and the result is False (*keep* may raise instead)."""
        check_name(name)
        with self._use_lock(name):
            if keep is not None and self.exists(name) and keep(name):
                return False
            self._remove(name)
        return True

    def orphans(self) -> list[str]:
        """The anonymous volumes the monitor of a removed ``--rm`` container left to remove
        (``layout.volume_orphaned``, which names the container: one that still exists keeps them for now)."""
        out = []
        for name in self.names():
            try:
                with open(self.layout.volume_orphaned(name), "rb") as fh:
                    owner = fh.read().decode("ascii", "replace")
            except FileNotFoundError:
                continue
            if not (owner.isalnum() and os.path.isdir(self.layout.container_dir(owner))):
                out.append(name)
        return out

    def remove_orphans(self, keep: t.Callable[[str], bool]) -> list[str]:
        """Remove the :meth:`orphans` that no container uses (*keep*); one in use stays, as an ordinary volume."""
        removed = []
        for name in self.orphans():
            try:
                if self.remove(name, keep):
                    removed.append(name)
                else:
                    fs.remove_quietly(self.layout.volume_orphaned(name))
            except NotFound:
                continue
        return removed

    def _remove(self, name: str) -> None:
        with self._lock(name):
            if not self.exists(name):
                raise NotFound("volume", name)
            data = self.layout.volume_data(name)
            if os.path.ismount(data):
                self._umount(name, data)
            # the record goes first: a removal cut short leaves no half volume behind, only garbage
            os.unlink(self.layout.volume_record(name))
            fs.rmtree(self.layout.volume_dir(name))

    def usage(self, name: str) -> int:
        """Bytes of the volume's content (Docker's ``UsageData.Size``)."""
        return fs.tree_size(self.layout.volume_data(name))

    # ------------------------------------------------------------------ use by containers
    def mountpoint(self, name: str) -> str:
        """``_data``, with the driver's file system mounted there (a tmpfs, a bind, a device)."""
        volume = self.get(name)
        data = self.layout.volume_data(name)
        if volume.options and not os.path.ismount(data):
            with self._lock(name):
                if not os.path.ismount(data):
                    self._mount(volume, data)
        return data

    def _mount(self, volume: Volume, data: str) -> None:
        opts = volume.options
        kind = opts["type"]
        argv = ["mount", "-t", kind]
        if opts.get("o"):
            argv += ["-o", opts["o"]]
        argv += [opts.get("device") or kind, data]
        self._command(volume.name, "mount", argv)

    def _umount(self, name: str, data: str) -> None:
        self._command(name, "unmount", ["umount", data])
        if os.path.ismount(data):
            raise VolumeError(name, "unmount", f"{data} is still a mountpoint")

    def _command(self, name: str, step: str, argv: list[str]) -> None:
        try:
            proc = self._run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        except OSError as exc:
            raise VolumeError(name, step, f"{argv[0]}: {exc.strerror}") from None
        if proc.returncode != 0:
            err = (proc.stderr or b"").decode("utf-8", "replace").strip()
            raise VolumeError(name, step, err or f"{' '.join(argv)} exited with {proc.returncode}")

    def let_traverse(self, name: str) -> None:
        """Let other users pass through ``volumes/`` and the volume's directory (o+x, never read nor write):
        a container's root under user namespaces is another user, and its runtime binds ``_data`` from there."""
        for path in (self.layout.volumes_dir, self.layout.volume_dir(name)):
            mode = os.stat(path).st_mode & 0o7777
            if mode & 0o011 != 0o011:
                os.chmod(path, mode | 0o011)

    def copied_up(self, name: str) -> bool:
        return os.path.exists(self.layout.volume_copied(name))

    def copy_up(self, name: str, source: str | None, owner: tuple[int, int] | None = None) -> bool:
        """The first mount of volume *name*: copy the image's directory *source* (a host path of the mounted
        rootfs, resolved by the caller; None or missing: nothing to copy) into it when it is empty, once.

        *owner* (uid, gid): who gets an empty volume's root when there is nothing to copy (the remapped
        root under user namespaces). Returns whether anything was copied."""
        if self.copied_up(name):
            return False
        data = self.mountpoint(name)
        with self._lock(name):
            if self.copied_up(name):
                return False
            copying = self.layout.volume_copying(name)
            staging = os.path.join(data, STAGING)
            resumed = os.path.exists(copying)
            has_source = source is not None and os.path.isdir(source) and not os.path.islink(source)
            own = [e for e in os.listdir(data) if e != STAGING]
            copied = False
            if has_source and (resumed or not own) and os.listdir(source):  # type: ignore[arg-type]
                fs.atomic_write(copying, b"", mode=0o600)
                self._copy(name, source, staging, data)  # type: ignore[arg-type]
                copied = True
            elif os.path.lexists(staging):
                fs.rmtree(staging)
            if not own or resumed:
                self._take_attributes(data, source if has_source else None, owner)
            fs.atomic_write(self.layout.volume_copied(name), b"", mode=0o600)
            fs.remove_quietly(copying)
        return copied

    def _copy(self, name: str, source: str, staging: str, data: str) -> None:
        fs.rmtree(staging)  # a copy cut short: start it again
        self._command(name, "copy-up", ["cp", "-a", "--", source + "/.", staging])
        for entry in sorted(os.listdir(staging)):
            target = os.path.join(data, entry)
            if not os.path.lexists(target):  # moved before a crash: complete already
                os.rename(os.path.join(staging, entry), target)
        fs.rmtree(staging)
        fs.fsync_dir(data)

    @staticmethod
    def _take_attributes(data: str, source: str | None, owner: tuple[int, int] | None) -> None:
        """The volume's root takes the owner and mode of the directory it is mounted over (Docker does)."""
        if source is not None:
            st = os.stat(source)
            os.chown(data, st.st_uid, st.st_gid)
            os.chmod(data, st.st_mode & 0o7777)
        elif owner is not None:
            os.chown(data, owner[0], owner[1])


class VolumeClaim:
    """The shared use locks of :meth:`LocalVolumes.claim`; :meth:`create` ensures a volume under its lock."""

    def __init__(self, volumes: LocalVolumes) -> None:
        self.volumes = volumes
        self._held: dict[str, flock] = {}

    def hold(self, name: str) -> None:
        """Take volume *name*'s shared use lock (once) until :meth:`release`."""
        if name in self._held:
            return
        lock = self.volumes._use_lock(name, shared=True)
        lock.__enter__()
        self._held[name] = lock

    def create(self, name: str | None = None, labels: t.Mapping[str, str] | None = None) -> tuple[Volume, bool]:
        """:meth:`LocalVolumes.create`, the volume's use lock taken first (an anonymous one's name made here)."""
        anonymous = name is None
        if name is None:
            name = os.urandom(32).hex()
        self.hold(check_name(name))
        return self.volumes.create(name, labels=labels, anonymous=anonymous)

    def release(self) -> None:
        for lock in self._held.values():
            lock.__exit__()
        self._held.clear()

    def __enter__(self) -> VolumeClaim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
