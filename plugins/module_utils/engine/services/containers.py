# SPDX-License-Identifier: GPL-3.0-or-later
"""Container use cases: create, start, stop, remove, exec, logs, inspect ...

The only place that combines the image store, the container options, the
spec builder, the OCI runtime and the monitor.  See docs/dev/runtime-design.md.

Who writes a container's state: this service writes ``created``,
``manually_stopped``, ``paused``/``running`` for pause/unpause and
``removing``; the monitor writes everything about the running process.
"""
from __future__ import annotations

import os
import time

from ..core import fs, trust
from ..core.layout import Layout
from ..core.locks import flock
from ..core.value import Value
from ..errors import Conflict, EngineError, InvalidOption, NotFound
from ..options import container as copts
from ..core import cjson
from ..supervisor import ContainerState, ContainerStatus, lifecycle

# Start-path note (``berth run``): the image store and image service (core.oci, digests and hashlib,
# store.layers: ~15 ms of imports), filters, timefmt and typing are loaded where used; ``run`` reads the
# few image-store files it needs directly (``_local_image``, ``_image_layers``, ``_image_config``).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    from ..config.daemon import DaemonConfig
    from ..store.images import ImageStore
    from .images import ImageService

SIGKILL = 9
#: What the runtime makes in a container's upper dir to mount on (supervisor/spec.py: the default mounts and
#: the engine's /etc files; ``diff`` adds spec.INIT_PATH). Docker keeps these in the container's init
#: layer, so ``docker diff`` never lists them; neither does :meth:`ContainerService.diff`.
RUNTIME_MOUNTPOINTS = ("/proc", "/sys", "/dev", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf")

DEFAULT_RUNTIME = "berth"
#: runtimes found on PATH by name when daemon.json ``runtimes`` does not list them
PATH_RUNTIMES = ("runc", "crun")
#: Docker's ``--init`` runs its bundled tini; Berth uses the host's static tini (Debian package ``tini``).
INIT_BINARIES = ("/usr/bin/tini-static", "/usr/local/bin/tini-static", "/sbin/tini-static")
NAME_ADJECTIVES = (
    "brave", "calm", "eager", "fond", "gentle", "happy", "jolly", "keen", "lucid", "merry", "nimble",
    "proud", "quiet", "relaxed", "serene", "sharp", "steady", "swift", "tender", "vivid", "witty", "zen",
)
NAME_NOUNS = (
    "anchor", "buoy", "cove", "dock", "ferry", "galley", "harbor", "jetty", "keel", "lagoon", "mast",
    "pier", "quay", "reef", "sail", "tide", "vessel", "wharf", "yawl", "beacon", "capstan", "mooring",
)


class Stdio(Value):
    """The caller's file descriptors for an attached run or exec: stdin (or None), stdout, stderr, tty."""

    __slots__ = _fields = ("stdin", "stdout", "stderr", "tty")
    _defaults = {"tty": False}
    stdin: int | None
    stdout: int
    stderr: int
    tty: bool


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
    changes), None without one."""

    __slots__ = _fields = ("id", "name", "created", "image", "image_name", "options", "runtime", "healthcheck",
                           "userns")
    _defaults = {"healthcheck": None, "userns": None}
    id: str
    name: str
    created: str
    image: str
    image_name: str
    options: dict[str, t.Any]
    runtime: str
    healthcheck: dict[str, t.Any] | None
    userns: dict[str, t.Any] | None

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
        )


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
        #: idmapped layers for user namespaces (None: not asked yet; supervisor/idmap.py)
        self._idmap: bool | None = None

    @property
    def store(self) -> ImageStore:
        if callable(self._store):
            self._store = self._store()
        return self._store

    @property
    def images(self) -> ImageService:
        if callable(self._images):
            self._images = self._images()
        return self._images

    # ================================================================ lookup
    def _ids(self) -> list[str]:
        try:
            names = os.listdir(self.layout.containers_dir)
        except FileNotFoundError:
            return []
        return [n for n in names if len(n) == 64 and os.path.exists(self.layout.container_config(n))]

    def _record(self, container_id: str) -> ContainerRecord:
        try:
            data = fs.read_json(self.layout.container_config(container_id))
        except ValueError as exc:  # torn by a crash (--rm containers are written without fsync)
            raise EngineError(f"corrupt container record {self.layout.container_config(container_id)}: {exc}") \
                from None
        if data is None:
            raise NotFound("container", container_id)
        return ContainerRecord.from_json(data)

    def lookup(self, name: str) -> str | None:
        """Container ID for a name, full ID or unique ID prefix (Docker's order); None when absent."""
        if not isinstance(name, str) or not name:
            raise InvalidOption("name", name, "a container name or ID is required")
        name = name.lstrip("/")
        if len(name) == 64 and os.path.exists(self.layout.container_config(name)):
            return name
        link = self.layout.name_link(name)
        try:
            target = os.readlink(link)
        except OSError:
            target = ""
        if target:
            cid = os.path.basename(target)
            if os.path.exists(self.layout.container_config(cid)):
                return cid
        if all(c in "0123456789abcdef" for c in name):
            matches = [i for i in self._ids() if i.startswith(name)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise Conflict(f"multiple containers found with provided prefix: {name}")
        return None

    def require(self, name: str) -> str:
        cid = self.lookup(name)
        if cid is None:
            raise NotFound("container", name)
        return cid

    def _state(self, container_id: str) -> ContainerState:
        """The state, reconciled: a container whose monitor and init are gone is said to be exited; one
        whose monitor alone is gone gets a replacement monitor (:meth:`_replace_monitor`)."""
        state = lifecycle.reconcile(self.layout, container_id)
        if lifecycle.orphaned(state, container_id):
            state = self._replace_monitor(container_id, state)
        return state

    def _replace_monitor(self, cid: str, state: ContainerState) -> ContainerState:
        """Start a monitor that takes over the running container (``monitor_ops.adopt``: its exit, restart
        policy and ``--rm`` work again); where that fails, record why (``berth ps`` shows it)."""
        from ..supervisor import adopt

        try:
            adopt(self.layout, cid, runtime=self._runtime_for(self._record(cid).runtime), pid=state.pid)
        except EngineError as exc:
            reason = str(exc)

            def mark(s: ContainerState) -> ContainerState:
                if not lifecycle.orphaned(s, cid):
                    return s  # gone meanwhile, or taken over by another caller's replacement
                return s.replace(error=f"{lifecycle.UNSUPERVISED_ERROR}: {reason}")

            return lifecycle.update(self.layout, cid, mark, timeout=self.lock_timeout)
        return lifecycle.load(self.layout, cid)

    def users_of_image(self, image_id: str) -> list[str]:
        """IDs of the containers created from *image_id* (the image store refuses to delete it)."""
        out = []
        for cid in self._ids():
            try:
                if self._record(cid).image == image_id:
                    out.append(cid)
            except (NotFound, KeyError, ValueError):
                continue
        return out

    def remapped_layers_in_use(self) -> set[tuple[str, str]]:
        """``(mapping key, diff ID)`` of the remapped layer copies the containers use (image garbage
        collection keeps these)."""
        from ..config.userns import IdMapping

        out = set()
        for cid in self._ids():
            try:
                record = self._record(cid)
            except (NotFound, EngineError):
                continue
            if not record.userns:
                continue
            key = IdMapping.from_json(record.userns).key
            rec = fs.read_json(self.layout.image_record(record.image)) or {}
            out.update((key, x["diff_id"]) for x in rec.get("layers") or ())
        return out

    def desired(self, name: str) -> dict[str, t.Any]:
        return dict(self._record(self.require(name)).options)

    # ================================================================ create
    def create(self, options: t.Mapping[str, t.Any], name: str | None = None, pull: str = "missing") -> str:
        """Create a container from normalised *options* (``options.container.normalise_options``; plain
        ``secret_env`` values, which the record keeps as seals and the bundle as values)."""
        opts = dict(options)
        image_name = opts.get("image")
        if not image_name:
            raise InvalidOption("image", image_name, "an image is required")
        if name is not None:  # before any pull, and before anything is written
            name = copts.container_name(name, "name")
        self._check_supported(opts)
        image_id = self._image_for(str(image_name), pull, opts.get("platform"))
        runtime = self._runtime_name(opts)
        self._runtime_for(runtime)  # fail early on an unknown runtime
        userns = self._userns_for(opts)
        secrets = opts.get("secret_env") or {}
        if secrets:  # the record keeps seals; the values go to the bundle only (_write_secrets)
            opts["secret_env"] = copts.seal_secrets(secrets, os.urandom(16).hex())
        if not os.path.isdir(self.layout.tmp_dir):
            self.store.ensure()
        for d in (self.layout.containers_dir, self.layout.names_dir):
            fs.ensure_dir(d, 0o700)
        cid = os.urandom(32).hex()
        cdir = self.layout.container_dir(cid)
        os.makedirs(cdir, mode=0o700)
        try:
            final_name = self._claim_name(cid, name)
            record = ContainerRecord(
                id=cid,
                name=final_name,
                created=_now_rfc3339(),
                image=image_id,
                image_name=str(image_name),
                options=opts,
                runtime=runtime,
                healthcheck=self._healthcheck(image_id, opts),
                userns=userns.to_json() if userns is not None else None,
            )
            for d in (self.layout.upper(cid), self.layout.work(cid), self.layout.rootfs(cid), self.layout.bundle(cid)):
                fs.ensure_dir(d, 0o755)
            self._write_files(record)
            if secrets:
                self._write_secrets(cid, secrets, durable=not opts.get("auto_remove"))
            if userns is not None:
                self._own_for_userns(cid, userns)
                if not self._idmap_supported():
                    self._image_layers(image_id, record.userns)  # the shifted layer copies, made now, not at start
            # --rm: no fsync (gone when it exits, garbage after a crash: lifecycle.save explains)
            durable = not opts.get("auto_remove")
            lifecycle.save(self.layout, cid, ContainerState(), durable=durable)
            # The record is written last: a container without config.json does not exist.
            fs.atomic_write_json(self.layout.container_config(cid), record.to_json(), mode=0o600, fsync=durable,
                                 pretty=False)
        except BaseException:
            lifecycle.remove_name_links(self.layout, cid)
            fs.rmtree(cdir)
            raise
        return cid

    def host_warnings(self, options: t.Mapping[str, t.Any]) -> list[str]:
        """What this host cannot apply of *options*, as ``field: why`` (``docker create``'s Warnings).

        The options are recorded as given (so the ``container`` module stays idempotent) and the
        settings are left out of what is applied, as Docker discards them.
        """
        return [f"{key}: {why}" for key, why in _unsupported(options).items()]

    def _healthcheck(self, image_id: str, opts: t.Mapping[str, t.Any]) -> dict[str, t.Any] | None:
        image_cfg = self._image_config(image_id).get("config") or {}
        hc = copts.effective(opts, image_cfg).get("healthcheck")
        if not hc or list(hc.get("test") or hc.get("Test") or []) in ([], ["NONE"]):
            return None
        return dict(hc)

    def _check_supported(self, opts: t.Mapping[str, t.Any]) -> None:
        mode = opts.get("network_mode")
        if mode not in (None, "none", "host"):
            raise InvalidOption(
                "network_mode", mode, "only 'none' and 'host' are supported so far (bridge networking comes later)"
            )

    # ================================================================ user namespaces
    def _userns_for(self, opts: t.Mapping[str, t.Any]) -> t.Any:
        """The ``IdMapping`` a new container runs with, or None (config/userns.py; Docker's rules)."""
        mode = opts.get("userns_mode") or ""
        remap = str(self.config.get("userns-remap") or "")
        if mode == "host" or (mode == "" and not remap):
            return None
        from ..config import userns
        from ..errors import ConfigError

        trust.secure_root(self.layout, create=True)
        fs.ensure_dir(self.layout.locks_dir, 0o700)
        try:
            mapping = userns.resolve(
                remap or userns.DEFAULT_VALUE, self.host_files, config_path=self.config.path,
                lock=lambda: flock(os.path.join(self.layout.locks_dir, "userns-account.lock"),
                                   timeout=self.lock_timeout),
            )
        except ConfigError as exc:
            if remap:
                raise
            raise InvalidOption("userns_mode", "private", f"userns-remap is not set, so the default account "
                                                          f"{userns.DEFAULT_ACCOUNT} is used: {exc.reason}") from None
        if mapping is None:  # remapped onto root: Docker leaves user namespaces off
            if mode == "private":
                raise InvalidOption("userns_mode", "private", f"userns-remap {remap!r} maps onto root")
            return None
        copts.check_userns(opts, True)
        return mapping

    def _own_for_userns(self, cid: str, mapping: t.Any) -> None:
        """What the container's root must reach and own (moby ``setupDaemonRoot``): the path down to its
        directory is traversable (the data root and containers/ get o+x, a parent without it is an error),
        its directory is root:<mapped gid> 0710, and upper/, work/, rootfs/ and the engine-managed files
        belong to the mapped root."""
        uid, gid = mapping.root_uid, mapping.root_gid
        parent = os.path.dirname(self.layout.root)
        while True:
            st = os.stat(parent)
            if not st.st_mode & 0o001:
                from ..errors import ConfigError

                raise ConfigError(self.config.path, "data-root", f"{parent} (above the data root "
                                  f"{self.layout.root}) does not let other users traverse it (o+x): the "
                                  f"remapped root {uid}:{gid} of user namespaces could not reach its containers")
            if parent == "/":
                break
            parent = os.path.dirname(parent)
        for d in (self.layout.root, self.layout.containers_dir):
            mode = os.stat(d).st_mode & 0o7777
            if mode & 0o011 != 0o011:
                os.chmod(d, mode | 0o011)
        cdir = self.layout.container_dir(cid)
        os.chown(cdir, 0, gid)
        os.chmod(cdir, 0o710)
        for path in (self.layout.upper(cid), self.layout.work(cid), self.layout.rootfs(cid),
                     *(self.layout.container_file(cid, n) for n in ("hostname", "hosts", "resolv.conf"))):
            os.chown(path, uid, gid)

    def _image_for(self, image_name: str, pull: str, platform: str | None) -> str:
        image_id = self.local_image(image_name) if pull != "always" else None
        if image_id is not None:
            return image_id
        image_id = self.images.resolve(image_name)
        if pull == "always" or (image_id is None and pull == "missing"):
            if image_id is not None and "@" in image_name:
                return image_id
            return self.images.pull(image_name, platform).image_id
        if image_id is None:
            raise NotFound("image", image_name)
        return image_id

    def _claim_name(self, cid: str, name: str | None) -> str:
        """Create ``names/<name>``; the symlink is the atomic uniqueness check."""
        target = os.path.join("..", "containers", cid)
        if name is not None:
            self._link_name(cid, name)
            return name
        for attempt in range(100):
            r = os.urandom(3)  # not secrets: its import costs ~2 ms and a name needs no secrecy
            candidate = f"{NAME_ADJECTIVES[r[0] % len(NAME_ADJECTIVES)]}_{NAME_NOUNS[r[1] % len(NAME_NOUNS)]}"
            if attempt >= 10:
                candidate += str(r[2] % 100)
            try:
                os.symlink(target, self.layout.name_link(candidate))
                return candidate
            except FileExistsError:
                continue
        raise EngineError("could not find a free container name")

    def _link_name(self, cid: str, name: str) -> None:
        """``names/<name>`` -> *cid*, or Docker's Conflict naming the container that holds the name (read
        from the link itself: its owner may still be being created, with no record yet)."""
        link = self.layout.name_link(name)
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

    def _write_files(self, record: ContainerRecord) -> None:
        opts = record.options
        host_net = opts.get("network_mode") == "host"
        hostname = os.uname().nodename if host_net else (opts.get("hostname") or record.id[:12])
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
                 "fe00::0\tip6-localnet", "ff00::0\tip6-mcastprefix", "ff02::1\tip6-allnodes",
                 "ff02::2\tip6-allrouters"]
        if host_net:
            try:
                with open("/etc/hosts") as fh:
                    hosts = fh.read()
            except OSError:
                hosts = "\n".join(lines) + "\n"
        else:
            hosts = "\n".join(lines) + "\n"
        fs.atomic_write(self.layout.container_file(record.id, "hostname"), hostname + "\n", fsync=False)
        fs.atomic_write(self.layout.container_file(record.id, "hosts"), hosts, fsync=False)
        fs.atomic_write(self.layout.container_file(record.id, "resolv.conf"), self._resolv_conf(), fsync=False)

    # ================================================================ secret_env
    # A secret's value lives in one place: the bundle's config.json (root-only, 0600), in process.env,
    # where the runtime and exec need it. ``create`` writes a bundle holding only that env; every start
    # reads the values back before it rebuilds the bundle. The record keeps seals (options.container.seal).
    def _write_secrets(self, cid: str, secrets: t.Mapping[str, str], durable: bool = True) -> None:
        spec = {"process": {"env": [f"{k}={v}" for k, v in secrets.items()]}}
        fs.atomic_write(os.path.join(self.layout.bundle(cid), "config.json"), cjson.dumps(spec), mode=0o600,
                        fsync=durable)

    def _secret_values(self, record: ContainerRecord) -> dict[str, str]:
        """The plain ``secret_env`` values of *record*, from its bundle, each checked against its seal."""
        sealed = record.options.get("secret_env") or {}
        if not sealed:
            return {}
        spec = fs.read_json(os.path.join(self.layout.bundle(record.id), "config.json")) or {}
        found = dict(str(e).partition("=")[::2] for e in (spec.get("process") or {}).get("env") or ())
        out = {}
        for name, seal in sealed.items():
            value = found.get(name)
            if value is None or not copts.is_sealed(name, value, seal):
                raise InvalidOption(f"secret_env.{name}", copts.SECRET_MASK,
                                    f"the value of container {record.name} is lost (its bundle was removed or "
                                    "changed): recreate the container with the secret")
            out[name] = value
        return out

    def _resolv_conf(self) -> str:
        dns = self.config.get("dns")
        search = self.config.get("dns-search")
        opts = self.config.get("dns-opts")
        try:
            with open("/etc/resolv.conf") as fh:
                host = fh.read()
        except OSError:
            host = ""
        if not (dns or search or opts):
            # Like Docker without a user-defined network: the host's file, minus loopback resolvers
            # (which cannot be reached from another network namespace).
            kept = [ln for ln in host.splitlines() if not _loopback_nameserver(ln)]
            return "\n".join(kept) + "\n"
        out = []
        servers = dns or [ln.split()[1] for ln in host.splitlines() if ln.startswith("nameserver ") and len(ln.split()) > 1]
        out += [f"nameserver {s}" for s in servers]
        if search:
            out.append("search " + " ".join(search))
        if opts:
            out.append("options " + " ".join(opts))
        return "\n".join(out) + "\n"

    # ================================================================ image-store files
    # What ``run`` needs of an image, read from the data-root files the store writes (core/layout.py)
    # instead of loading ImageStore/ImageService: ~15 ms of imports on every ``berth run``. Anything
    # these cannot answer with certainty goes to the image service.
    def local_image(self, name: str) -> str | None:
        """The image ID of *name* when it is a tag found in repositories.json, else None (ask the image
        service: digests, IDs and ID prefixes, malformed names, images to pull)."""
        from ..core.reference import ImageReference, is_full_id

        if not isinstance(name, str) or is_full_id(name):
            return None
        try:
            ref = ImageReference.parse(name)
        except EngineError:
            return None
        if ref.digest or not ref.tagged:
            return None
        repos = fs.read_json(self.layout.repositories) or {}
        image_id = (repos.get("tags") or {}).get(ref.tagged)
        return image_id if isinstance(image_id, str) else None

    def _image_layers(self, image_id: str, userns: t.Mapping[str, t.Any] | None = None) -> list[str] | None:
        """The layer directories of a complete image, top first (overlay's lowerdir order); None when the
        record, the config or a layer is missing (``ImageStore.complete``). With a *userns* mapping (the
        record's), the copies shifted into it (store/remap.py), made where missing."""
        rec = fs.read_json(self.layout.image_record(image_id))
        if not rec or not os.path.exists(self.layout.blob(image_id)):
            return None
        diff_ids = [x["diff_id"] for x in rec.get("layers") or ()]
        if not all(os.path.exists(self.layout.layer_meta(d)) for d in diff_ids):
            return None
        if userns:
            return self._remapped_layers(userns).ensure(list(reversed(diff_ids)))
        return [self.layout.layer_diff(d) for d in reversed(diff_ids)]

    def _layers_of(self, record: ContainerRecord, shifted: bool = True) -> list[str]:
        """:meth:`_image_layers` of the container's image (the copies shifted into its user namespace when
        *shifted* and it has one); NotFound when the image is incomplete."""
        lower = self._image_layers(record.image, record.userns if shifted else None)
        if lower is None:
            raise NotFound("image", f"{record.image_name} ({record.image[:19]}) of container {record.name}")
        return lower

    def _idmap_supported(self) -> bool:
        """Whether user-namespaced containers get idmapped layers (supervisor/idmap.py) rather than copies."""
        if self._idmap is None:
            from ..supervisor import idmap
            from ..runtime import LinuxSyscalls

            self._idmap = idmap.supported(self.layout, LinuxSyscalls())
        return self._idmap

    @staticmethod
    def _idmapped_layers(syscalls: t.Any, record: ContainerRecord, layers: list[str], where: str) -> t.Any:
        """``with`` it: *layers* idmapped through the container's maps, attached below *where* (supervisor/idmap.py)."""
        from ..config.userns import IdMapping
        from ..supervisor import idmap

        m = IdMapping.from_json(record.userns)
        return idmap.IdmappedLayers(syscalls, layers, idmap.map_text(m.uids), idmap.map_text(m.gids), where)

    def _remapped_layers(self, userns: t.Mapping[str, t.Any]) -> t.Any:
        from ..config.userns import IdMapping, to_host
        from ..store.remap import RemappedLayers

        m = IdMapping.from_json(userns)
        return RemappedLayers(self.layout, m.key, lambda uid, gid: (to_host(uid, m.uids), to_host(gid, m.gids)),
                              self.lock_timeout)

    def _image_config(self, image_id: str) -> dict[str, t.Any]:
        """The image's config blob (``ImageStore.config``)."""
        data = fs.read_json(self.layout.blob(image_id))
        if data is None:
            from ..errors import StoreError

            raise StoreError(f"blob {image_id} is missing from the store {self.layout.root}")
        return dict(data)

    # ================================================================ runtime selection
    def _runtime_name(self, opts: t.Mapping[str, t.Any]) -> str:
        return str(opts.get("runtime") or self.config.get("default-runtime") or DEFAULT_RUNTIME)

    def runtimes(self) -> dict[str, dict[str, t.Any]]:
        """The runtimes containers can use: ``{name: {"path": binary or None}}`` (``docker info``'s Runtimes;
        Berth's own has no binary)."""
        out: dict[str, dict[str, t.Any]] = {DEFAULT_RUNTIME: {"path": None}}
        for name in PATH_RUNTIMES:
            path = fs.which(name)
            if path:
                out[name] = {"path": path}
        for name, entry in (self.config.get("runtimes") or {}).items():
            out[name] = {"path": (entry or {}).get("path")}
        return out

    def _runtime_for(self, name: str) -> dict[str, t.Any]:
        """{"name", "path"} for the monitor; raises for an unknown runtime."""
        if name == DEFAULT_RUNTIME:
            return {"name": DEFAULT_RUNTIME, "path": None}
        configured = self.config.get("runtimes") or {}
        if name in configured:
            path = (configured[name] or {}).get("path")
            if not path:
                raise InvalidOption("runtime", name, f"runtimes.{name} in {self.config.path} has no path")
        else:
            path = fs.which(name) if name in PATH_RUNTIMES else None
            if not path:
                known = ", ".join(sorted({DEFAULT_RUNTIME, *PATH_RUNTIMES, *configured}))
                raise InvalidOption("runtime", name, f"unknown runtime (known: {known})")
        return {"name": name, "path": path}

    def _oci_runtime(self, name: str) -> t.Any:
        from ..runtime import BerthRuntime, ExternalRuntime

        spec = self._runtime_for(name)
        state_root = os.path.join(self.layout.runtime_state_dir, spec["name"])
        if spec["path"] is None:
            return BerthRuntime(state_root)
        return ExternalRuntime(spec["path"], state_root)

    # ================================================================ start
    def start(self, name: str, stdio: Stdio | None = None) -> t.Any:
        """Start a created or exited container; returns the monitor handle (for attached callers), None
        when it was running already: a start that raced another one is a no-op, as in Docker."""
        cid = self.require(name)
        path = self.layout.start_lock(cid)
        try:
            # Held until the container runs (the monitor's "started"): a second start waits here, then
            # finds it running. The container lock cannot do that: the starter takes it to create.
            with flock(path, timeout=self.lock_timeout):
                return self._start(cid, stdio)
        except FileNotFoundError as exc:
            if exc.filename != path:
                raise
            raise NotFound("container", name) from None

    def _start(self, cid: str, stdio: Stdio | None) -> t.Any:
        from ..supervisor import prefork

        record = self._record(cid)
        active = (ContainerStatus.RUNNING, ContainerStatus.PAUSED, ContainerStatus.RESTARTING)
        if self._state(cid).status in active:
            return None
        attach = None
        if stdio is not None:
            attach = {"stdin": stdio.stdin, "stdout": stdio.stdout, "stderr": stdio.stderr, "tty": stdio.tty}
        # The monitor and its starter are forked first: the monitor's interpreter starts and the starter
        # imports the runtime while we mount the rootfs and write the bundle (on another core); go()
        # lets the starter create the container once that is done, cancel() ends them untouched.
        pre = prefork(self.layout, cid, runtime=self._runtime_for(record.runtime), attach=attach)
        try:
            with lifecycle.locked(self.layout, cid, self.lock_timeout):
                state = self._state(cid)
                if state.status in active:
                    pre.cancel()
                    return None
                lifecycle.require(state.status, "start", name=record.name)
                self._prepare(record)
                new = state.replace(manually_stopped=False, error="")
                if new != state:
                    lifecycle.save(self.layout, cid, new)
        except BaseException:
            pre.cancel()
            raise
        try:
            return pre.go()
        except BaseException:
            self._unmount(cid)
            raise

    def _prepare(self, record: ContainerRecord) -> None:
        """Mount the rootfs and write the OCI bundle (rebuilt at every start, as Docker does)."""
        from ..supervisor import overlay, spec as specmod
        from ..runtime import LinuxSyscalls, current_rlimits

        cid = record.id
        secrets = self._secret_values(record)  # before anything is mounted: a lost secret fails the start
        idmapped = bool(record.userns) and self._idmap_supported()
        lower = self._layers_of(record, shifted=not idmapped)
        rootfs = self.layout.rootfs(cid)
        if not overlay.is_mounted(rootfs):
            empty = fs.ensure_dir(os.path.join(self.layout.root, "empty"), 0o755)
            syscalls = LinuxSyscalls()
            mounter = syscalls
            if record.options.get("auto_remove"):
                mounter = _VolatileOverlay(mounter, self.layout.work(cid))

            def mount(layers: list[str], base: str | None = None) -> None:
                overlay.mount_rootfs(mounter, self.layout.root, layers, self.layout.upper(cid), self.layout.work(cid),
                                     rootfs, empty, base=base)

            if idmapped:
                from ..supervisor import idmap

                where = os.path.join(self.layout.container_dir(cid), "idmapped")
                try:
                    with self._idmapped_layers(syscalls, record, lower, where) as mapped:
                        mount(mapped, base=where)
                except OSError as exc:
                    if exc.errno not in idmap.UNSUPPORTED:
                        raise
                    idmap.forget(self.layout)  # probed as working, refused now: probe again next time
                    mount(self._layers_of(record))  # the shifted copies
            else:
                mount(lower)
        image_config = (self._image_config(record.image).get("config") or {})
        options = _applicable(record.options)
        if secrets:
            options = {**options, "secret_env": secrets}
        spec = specmod.build(
            options,
            image_config,
            self.config,
            container_id=cid,
            rootfs=rootfs,
            files={n: self.layout.container_file(cid, n) for n in ("hostname", "hosts", "resolv.conf")},
            user_db=lambda kind: _read_in_rootfs(rootfs, f"/etc/{kind}"),
            name=record.name,
            base_rlimits=current_rlimits(),
            init_path=_init_path() if record.options.get("init") else None,
            host_devices=_host_devices(record.options),
            id_mappings=record.userns,
            host_hostname=os.uname().nodename,
        )
        spec["root"] = {"path": rootfs, "readonly": bool(record.options.get("read_only"))}
        # compact (the C encoder: indent=2 through json.dumps costs ~1 ms for a spec), no fsync: it is
        # written again at every start
        fs.atomic_write(os.path.join(self.layout.bundle(cid), "config.json"), cjson.dumps(spec),
                        mode=0o600, fsync=False)

    def _unmount(self, cid: str) -> None:
        lifecycle.unmount_below(self.layout.rootfs(cid), include_self=True)

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
        """``docker run``: create then start; attached runs wait for the exit code.

        *on_start(container_id, monitor_pid)* is called once the container runs (an attached CLI
        forwards SIGWINCH and other signals from then on).
        """
        opts = dict(options)
        if remove:
            opts["auto_remove"] = True
        cid = self.create(opts, name=name, pull=pull)
        record = self._record(cid)
        try:
            handle = self.start(cid, stdio=None if detach else stdio)
        except BaseException:
            if remove:
                self.remove(cid, force=True)
            raise
        if on_start is not None and handle is not None:
            on_start(cid, handle.monitor_pid)
        if detach:
            return RunResult(cid, record.name, None)
        return RunResult(cid, record.name, self.wait_attached(handle))

    @staticmethod
    def wait_attached(handle: t.Any) -> int:
        """The exit code of a container started with *stdio* (after all its output was delivered)."""
        from ..supervisor import wait_exit

        return wait_exit(handle)

    def attach(self, name: str, stdio: Stdio) -> int:
        """``docker attach``: live output to *stdio*, its stdin to the container; returns the exit code."""
        import selectors

        from ..supervisor import attach_connect

        cid = self.require(name)
        record = self._record(cid)
        state = self._state(cid)
        if state.status is not ContainerStatus.RUNNING:
            raise Conflict(f"You cannot attach to a {state.status.value} container, start it first")
        sock = attach_connect(self.layout, cid, timeout=None)
        tty = bool(record.options.get("tty"))
        sel = selectors.DefaultSelector()
        sel.register(sock, selectors.EVENT_READ)
        if stdio.stdin is not None:
            sel.register(stdio.stdin, selectors.EVENT_READ)
        buf = b""
        try:
            while True:
                for key, dummy in sel.select():
                    if key.fileobj is sock:
                        chunk = sock.recv(65536)
                        if not chunk:
                            return self.wait(cid)
                        if tty:
                            _write_all(stdio.stdout, chunk)
                            continue
                        buf += chunk
                        while len(buf) >= 8:
                            size = int.from_bytes(buf[4:8], "big")
                            if len(buf) < 8 + size:
                                break
                            _write_all(stdio.stderr if buf[0] == 2 else stdio.stdout, buf[8 : 8 + size])
                            buf = buf[8 + size :]
                    else:
                        data = os.read(key.fd, 65536)
                        if not data:
                            sel.unregister(key.fileobj)
                            continue
                        sock.sendall(data)
        finally:
            sel.close()
            sock.close()

    # ================================================================ stop / kill / restart
    def stop(self, name: str, timeout: int | None = None, signal: str | None = None) -> bool:
        """Send the stop signal, wait *timeout* seconds, then SIGKILL. Returns whether it was running."""
        cid = self.require(name)
        record = self._record(cid)
        self._state(cid)  # a lost monitor is replaced first: the exit this stop causes is recorded

        def mark(s: ContainerState) -> ContainerState:
            return s.replace(manually_stopped=True)

        state = lifecycle.update(self.layout, cid, mark, timeout=self.lock_timeout)
        if state.status is ContainerStatus.RESTARTING:
            self._wait_status(cid, lambda s: not s.status.active, 15)
            return True
        if not state.status.active:
            return False
        sig = copts.signal_number(
            signal or record.options.get("stop_signal") or _image_stop_signal(self.store, record) or "SIGTERM"
        )
        if timeout is None:
            timeout = record.options.get("stop_timeout")
        if timeout is None:
            timeout = copts.DEFAULT_STOP_TIMEOUT
        runtime = self._oci_runtime(record.runtime)
        if state.status is ContainerStatus.PAUSED:
            self._kill(runtime, cid, SIGKILL)
            self._resume_quietly(runtime, cid)
        else:
            self._kill(runtime, cid, sig)
        if timeout < 0 or not self._wait_status(cid, lambda s: not s.status.active, float(timeout)):
            self._kill(runtime, cid, SIGKILL)
            if not self._wait_status(cid, lambda s: not s.status.active, 30.0):
                raise EngineError(f"container {record.name} did not stop after SIGKILL")
        return True

    def _kill(self, runtime: t.Any, cid: str, sig: int) -> None:
        try:
            runtime.kill(cid, int(sig), all=False)
        except EngineError:
            state = lifecycle.load(self.layout, cid)
            if state.pid and _alive(state.pid):
                os.kill(state.pid, int(sig))

    @staticmethod
    def _resume_quietly(runtime: t.Any, cid: str) -> None:
        try:
            runtime.resume(cid)
        except EngineError:
            pass

    def _wait_status(self, cid: str, done: t.Callable[[ContainerState], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            try:
                state = self._state(cid)
            except NotFound:
                return True
            if done(state):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def restart(self, name: str, timeout: int | None = None) -> None:
        cid = self.require(name)
        self.stop(cid, timeout=timeout)
        self._wait_status(cid, lambda s: not s.status.active and s.monitor_pid == 0 or _dead(s.monitor_pid), 10)
        self.start(cid)

    def kill(self, name: str, signal: str | int = "KILL") -> None:
        cid = self.require(name)
        record = self._record(cid)
        state = self._state(cid)
        lifecycle.require(state.status, "kill", name=record.name)
        sig = signal if isinstance(signal, int) else copts.signal_number(str(signal))
        self._kill(self._oci_runtime(record.runtime), cid, sig)

    def pause(self, name: str) -> None:
        self._freeze(name, "pause", ContainerStatus.PAUSED)

    def unpause(self, name: str) -> None:
        self._freeze(name, "unpause", ContainerStatus.RUNNING)

    def _freeze(self, name: str, verb: str, status: ContainerStatus) -> None:
        """pause (freezer on) or unpause (off), under the container lock."""
        cid = self.require(name)
        record = self._record(cid)
        with lifecycle.locked(self.layout, cid, self.lock_timeout):
            state = self._state(cid)
            lifecycle.require(state.status, verb, name=record.name)
            runtime = self._oci_runtime(record.runtime)
            (runtime.pause if verb == "pause" else runtime.resume)(cid)
            lifecycle.save(self.layout, cid, state.transition(status))

    def wait(self, name: str, condition: str = "not-running", timeout: float | None = None) -> int:
        cid = self.require(name)
        if condition not in ("not-running", "next-exit", "removed"):
            raise InvalidOption("condition", condition, "expected not-running, next-exit or removed")
        first = self._state(cid)
        if condition == "next-exit":
            seen = first.finished_at

            def done(s: ContainerState) -> bool:
                return s.finished_at != seen and not s.status.active
        else:
            def done(s: ContainerState) -> bool:
                return not s.status.active and s.status is not ContainerStatus.RESTARTING

        limit = float("inf") if timeout is None else timeout
        last = first
        deadline = time.monotonic() + limit
        while True:
            try:
                last = self._state(cid)
            except NotFound:
                return last.exit_code
            if condition != "removed" and done(last):
                return last.exit_code
            if time.monotonic() >= deadline:
                raise EngineError(f"timed out waiting for container {name}")
            time.sleep(0.05)

    # ================================================================ remove / rename
    def remove(self, name: str, force: bool = False) -> bool:
        cid = self.lookup(name)
        if cid is None:
            return False
        record = self._record(cid)
        state = self._state(cid)
        if state.status.active:
            if not force:
                lifecycle.require(state.status, "remove", name=record.name)
            self.stop(cid, timeout=0)
        runtime = self._oci_runtime(record.runtime)

        def mark(s: ContainerState) -> ContainerState:
            return s.transition(ContainerStatus.REMOVING) if s.status is not ContainerStatus.REMOVING else s

        try:
            lifecycle.update(self.layout, cid, mark, timeout=self.lock_timeout)
        except NotFound:
            return True
        try:
            runtime.delete(cid, force=True)
        except EngineError:
            pass
        lifecycle.remove_container_files(self.layout, cid)
        return True

    def rename(self, name: str, new_name: str) -> None:
        cid = self.require(name)
        new_name = copts.container_name(new_name, "new_name")
        record = self._record(cid)
        if new_name == record.name:
            return
        with lifecycle.locked(self.layout, cid, self.lock_timeout):
            self._link_name(cid, new_name)
            updated = record.replace(name=new_name)
            fs.atomic_write_json(self.layout.container_config(cid), updated.to_json(), mode=0o600)
            fs.remove_quietly(self.layout.name_link(record.name))

    def update(self, name: str, options: t.Mapping[str, t.Any]) -> bool:
        """Change resources and the restart policy in place (``docker update``)."""
        cid = self.require(name)
        bad = [k for k in options if k not in copts.UPDATABLE]
        if bad:
            raise InvalidOption(bad[0], _shown(options)[bad[0]],
                                "cannot be updated in place (the container must be recreated)")
        with lifecycle.locked(self.layout, cid, self.lock_timeout):
            record = self._record(cid)
            merged = dict(record.options)
            for key, value in options.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            if merged == record.options:
                return False
            copts.check_options(merged)
            state = self._state(cid)
            if state.status in (ContainerStatus.RUNNING, ContainerStatus.PAUSED):
                self._apply_resources(record, merged)
            updated = record.replace(options=merged)
            fs.atomic_write_json(self.layout.container_config(cid), updated.to_json(), mode=0o600)
        return True

    def _apply_resources(self, record: ContainerRecord, options: t.Mapping[str, t.Any]) -> None:
        from ..supervisor import spec as specmod
        from ..runtime import cgroup_manager

        resources = specmod.resources(_applicable(options))
        manager = cgroup_manager(specmod.cgroups_path(options, record.id))
        manager.update(resources)

    # ================================================================ queries
    def inspect(self, name: str) -> dict[str, t.Any]:
        cid = self.require(name)
        return self._inspect(cid)

    def _inspect(self, cid: str) -> dict[str, t.Any]:
        record = self._record(cid)
        state = self._state(cid)
        spec = fs.read_json(os.path.join(self.layout.bundle(cid), "config.json")) or {}
        process = spec.get("process") or {}
        args = list(process.get("args") or [])
        opts = record.options
        image_cfg: dict[str, t.Any] = {}
        if self.store.has(record.image):
            image_cfg = self.store.config(record.image).get("config") or {}
        eff = copts.effective(opts, image_cfg)
        restart = {"Name": opts.get("restart_policy", "no") or "no", "MaximumRetryCount": opts.get("restart_retries", 0)}
        log_opts = {k: str(v) for k, v in (opts.get("log_options") or {}).items()}
        return {
            "Id": cid,
            "Created": record.created,
            "Path": args[0] if args else "",
            "Args": args[1:],
            "State": lifecycle.docker_state(state),
            "Image": record.image,
            "ResolvConfPath": self.layout.container_file(cid, "resolv.conf"),
            "HostnamePath": self.layout.container_file(cid, "hostname"),
            "HostsPath": self.layout.container_file(cid, "hosts"),
            "LogPath": self.layout.container_log(cid) if opts.get("log_driver", "json-file") != "none" else "",
            "Name": "/" + record.name,
            "RestartCount": state.restart_count,
            "Driver": "overlay",
            "Platform": "linux",
            "HostConfig": {
                "Runtime": record.runtime,
                "NetworkMode": opts.get("network_mode", "none"),
                "RestartPolicy": restart,
                "AutoRemove": bool(opts.get("auto_remove")),
                "LogConfig": {"Type": opts.get("log_driver", "json-file"), "Config": log_opts},
                "Privileged": bool(opts.get("privileged")),
                "ReadonlyRootfs": bool(opts.get("read_only")),
                "CapAdd": opts.get("capabilities"),
                "CapDrop": opts.get("cap_drop"),
                "Memory": opts.get("memory", 0),
                "MemoryReservation": opts.get("memory_reservation", 0),
                "MemorySwap": opts.get("memory_swap", 0),
                "NanoCpus": opts.get("cpus", 0),
                "CpuShares": opts.get("cpu_shares", 0),
                "CpuPeriod": opts.get("cpu_period", 0),
                "CpuQuota": opts.get("cpu_quota", 0),
                "CpusetCpus": opts.get("cpuset_cpus", ""),
                "CpusetMems": opts.get("cpuset_mems", ""),
                "PidsLimit": opts.get("pids_limit"),
                "BlkioWeight": opts.get("blkio_weight", 0),
                "CgroupParent": opts.get("cgroup_parent", ""),
                "ShmSize": opts.get("shm_size", copts.DEFAULT_SHM_SIZE),
                "Sysctls": opts.get("sysctls"),
                "Ulimits": [{"Name": u["name"], "Soft": u["soft"], "Hard": u["hard"]} for u in opts.get("ulimits") or []],
                "SecurityOpt": _security_opt_list(opts.get("security_opts")),
                "Init": opts.get("init"),
                "UsernsMode": opts.get("userns_mode", ""),
            },
            "GraphDriver": {
                "Name": "overlay",
                "Data": {
                    "MergedDir": self.layout.rootfs(cid),
                    "UpperDir": self.layout.upper(cid),
                    "WorkDir": self.layout.work(cid),
                },
            },
            "Config": {
                "Hostname": opts.get("hostname") or cid[:12],
                "Domainname": opts.get("domainname", ""),
                "User": eff.get("user") or "",
                "Tty": bool(opts.get("tty")),
                "OpenStdin": bool(opts.get("interactive")),
                "Env": [f"{k}={v}" for k, v in {
                    **(eff.get("env") or {}), **copts.mask_secrets(opts.get("secret_env"))}.items()],
                "Cmd": eff.get("command"),
                "Entrypoint": eff.get("entrypoint"),
                "Image": record.image_name,
                "WorkingDir": eff.get("working_dir") or "",
                "Labels": eff.get("labels") or {},
                "StopSignal": eff.get("stop_signal") or copts.DEFAULT_STOP_SIGNAL,
                "StopTimeout": opts.get("stop_timeout"),
                "Healthcheck": eff.get("healthcheck"),
            },
            "Berth": {"Desired": _shown(opts), "Runtime": record.runtime, "IdMappings": record.userns},
        }

    def _args(self, record: ContainerRecord) -> list[str]:
        """ENTRYPOINT + CMD as the container runs them (from the options and the image)."""
        image_cfg: dict[str, t.Any] = {}
        if self.store.has(record.image):
            image_cfg = self.store.config(record.image).get("config") or {}
        eff = copts.effective(record.options, image_cfg)
        return list(eff.get("entrypoint") or []) + list(eff.get("command") or [])

    def list(self, all: bool = False, filters: t.Mapping[str, t.Any] | None = None) -> list[dict[str, t.Any]]:
        from ..core import timefmt
        from . import filters as filters_

        flt = filters_.normalise(filters, CONTAINER_FILTERS)
        out = []
        for cid in self._ids():
            try:
                record = self._record(cid)
                state = self._state(cid)
            except (NotFound, EngineError):
                continue
            if not all and not state.status.active and "status" not in flt:
                continue
            if not _match(flt, record, state, self.images):
                continue
            eff_cmd = _command_text(self._args(record))
            out.append(
                {
                    "Id": cid,
                    "Names": ["/" + record.name],
                    "Image": record.image_name,
                    "ImageID": record.image,
                    "Command": eff_cmd,
                    "Created": int(timefmt.parse_rfc3339(record.created) or 0),
                    "State": state.status.value,
                    "Status": _status_text(state),
                    "Labels": record.options.get("labels") or {},
                    "HostConfig": {"NetworkMode": record.options.get("network_mode", "none")},
                }
            )
        out.sort(key=lambda x: -x["Created"])
        return out

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
        from ..supervisor import logs as logmod

        cid = self.require(name)
        record = self._record(cid)
        if record.options.get("log_driver") == "none":
            raise EngineError(f'configured logging driver does not support reading (container {record.name}: "none")')

        def running() -> bool:
            try:
                return self._state(cid).status.active
            except NotFound:
                return False

        return logmod.read_logs(
            self.layout.container_log(cid),
            follow=follow,
            tail=tail,
            since=since,
            until=until,
            stdout=stdout,
            stderr=stderr,
            still_running=running,
        )

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
        """Run *command* in the running container; returns its exit code (0 when detached)."""
        from ..supervisor import spec as specmod

        cid = self.require(name)
        record = self._record(cid)
        state = self._state(cid)
        if state.status is not ContainerStatus.RUNNING:
            if state.status is ContainerStatus.PAUSED:
                raise Conflict(f"Container {cid} is paused, unpause the container before exec")
            raise Conflict(f"Container {cid} is not running")
        if not command:
            raise InvalidOption("command", list(command), "no command specified")
        for field, value in (("command", list(command)), ("env", dict(env or {})), ("user", user),
                             ("workdir", workdir)):
            copts.check_no_nul(value, field)
        spec = fs.read_json(os.path.join(self.layout.bundle(cid), "config.json")) or {}
        rootfs = self.layout.rootfs(cid)
        process = specmod.exec_process(
            spec,
            list(command),
            user=user,
            env=dict(env or {}),
            workdir=workdir,
            tty=tty,
            privileged=privileged,
            user_db=lambda kind: _read_in_rootfs(rootfs, f"/etc/{kind}"),
        )
        from ..runtime import set_subreaper

        runtime = self._oci_runtime(record.runtime)
        # The exec'd process may be a grandchild (PID namespace join, external runtimes):
        # become its reaper so that waitpid() sees its exit status.
        set_subreaper()
        if tty and not detach:
            return self._exec_tty(runtime, cid, process, stdio)
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            if stdio is not None and not detach:
                fds = (stdio.stdin if stdio.stdin is not None else devnull, stdio.stdout, stdio.stderr)
            else:
                fds = (devnull, devnull, devnull)
            pid = runtime.exec(cid, process, stdio=fds, detach=detach)
        finally:
            os.close(devnull)
        if detach:
            return 0
        return _wait_child(pid)

    @staticmethod
    def _exec_tty(runtime: t.Any, cid: str, process: dict[str, t.Any], stdio: Stdio | None) -> int:
        """``exec -t``: a pty from the runtime (console socket), copied to and from the caller's fds."""
        import signal as _sig

        from ..runtime import ConsoleProxy

        proxy = ConsoleProxy(stdio.stdin if stdio else None, stdio.stdout if stdio else os.open(os.devnull, os.O_WRONLY))
        old = None
        try:
            pid = runtime.exec(cid, process, console_socket=proxy.path)
            proxy.accept()
            old = _sig.signal(_sig.SIGWINCH, lambda *_: proxy.copy_winsize())
            status = proxy.run(pid)
        finally:
            if old is not None:
                _sig.signal(_sig.SIGWINCH, old)
            proxy.close()
        if os.WIFSIGNALED(status):
            return 128 + os.WTERMSIG(status)
        return os.WEXITSTATUS(status)

    def top(self, name: str, ps_args: str | None = None) -> dict[str, t.Any]:
        from ..runtime import cgroup_manager
        from ..supervisor import spec as specmod

        cid = self.require(name)
        record = self._record(cid)
        state = self._state(cid)
        if state.status not in (ContainerStatus.RUNNING, ContainerStatus.PAUSED):
            raise Conflict(f"Container {cid} is not running")
        pids = cgroup_manager(specmod.cgroups_path(record.options, cid)).pids()
        if ps_args and ps_args.strip() != "-ef":
            return _ps_top(ps_args, set(pids))
        rows = []
        for pid in sorted(pids):
            info = _proc_info(pid)
            if info:
                rows.append(info)
        return {"Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"], "Processes": rows}

    def stats(self, name: str) -> dict[str, t.Any]:
        from ..core import timefmt

        from ..runtime import cgroup_manager
        from ..supervisor import spec as specmod

        cid = self.require(name)
        record = self._record(cid)
        state = self._state(cid)
        base = {"id": cid, "name": "/" + record.name, "read": timefmt.now_rfc3339()}
        if state.status not in (ContainerStatus.RUNNING, ContainerStatus.PAUSED):
            return dict(base, memory_stats={}, cpu_stats={}, pids_stats={})
        stats = cgroup_manager(specmod.cgroups_path(record.options, cid)).stats()
        return dict(base, **stats)

    # ================================================================ filesystem: diff / export
    def diff(self, name: str) -> list[dict[str, t.Any]]:
        """``docker diff``: what the container changed of its image's files, ``[{"Path", "Kind"}]`` sorted by
        path, ``Kind`` as in Docker's API (0 changed, 1 added, 2 deleted). Read from the upper dir beside the
        image layers, nothing mounted; the mountpoints the runtime makes there are no changes (store/changes.py)."""
        from ..supervisor import INIT_PATH
        from ..store import changes

        cid = self.require(name)
        record = self._record(cid)
        mountpoints = RUNTIME_MOUNTPOINTS + (INIT_PATH,)
        with lifecycle.locked(self.layout, cid, self.lock_timeout):
            self._still_there(cid, name)
            found = changes.diff(self.layout.upper(cid), self._layers_of(record, shifted=False), mountpoints)
        kinds = {changes.CHANGED: 0, changes.ADDED: 1, changes.DELETED: 2}
        return [{"Path": path, "Kind": kinds[kind]} for kind, path in found]

    def export(self, name: str, out: t.BinaryIO) -> int:
        """``docker export``: the container's whole filesystem (the image layers with its changes, flattened)
        as a tar stream written to *out* (store/changes.py ``write_tar``); returns the number of entries.

        A container whose rootfs is mounted (running, paused) is read through it: a directory fd opened under
        the container lock, which is then released (the monitor records an exit under it), and which keeps
        reading what the kernel keeps of the mount should the container stop meanwhile. Otherwise the upper
        dir and the image layers are mounted read-only for the export (:meth:`_readonly_rootfs`), and the lock
        is held until the tar is written, so that the container cannot start meanwhile.
        """
        from ..supervisor import overlay
        from ..store import changes

        cid = self.require(name)
        record = self._record(cid)
        owner: t.Callable[[int, int], tuple[int, int]] | None = None
        if record.userns:  # the host IDs of a user-namespaced container back to its own, as Docker does
            from ..config.userns import IdMapping, to_container

            m = IdMapping.from_json(record.userns)

            def back(uid: int, gid: int) -> tuple[int, int]:
                return to_container(uid, m.uids), to_container(gid, m.gids)

            owner = back
        with lifecycle.locked(self.layout, cid, self.lock_timeout):
            self._still_there(cid, name)
            rootfs = self.layout.rootfs(cid)
            if not overlay.is_mounted(rootfs):
                fd = self._readonly_rootfs(record)
                try:
                    return changes.write_tar(fd, out, owner)
                finally:
                    os.close(fd)
            fd = os.open(rootfs, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            return changes.write_tar(fd, out, owner)
        finally:
            os.close(fd)

    def export_file(self, name: str, path: str) -> int:
        """:meth:`export` into the file *path*, atomically: written to a temporary file beside it, renamed over
        it once complete and synced; a failed export leaves *path* as it was."""
        cid = self.require(name)
        if os.path.isdir(path):
            raise InvalidOption("output", path, "is a directory; name the archive file to write")
        try:
            target = fs.AtomicFile(path)
        except OSError as exc:
            raise InvalidOption("output", path, f"cannot write there: {exc.strerror or exc}") from None
        with target as fh:
            return self.export(cid, fh)

    def _readonly_rootfs(self, record: ContainerRecord) -> int:
        """A directory fd of the read-only overlay of the container's upper dir over its image layers.

        The mount is detached (``MNT_DETACH``) as soon as the fd is open: the kernel keeps it for the fd
        and drops it when the fd is closed, so no mount is left behind whatever happens to this process.
        """
        from ..supervisor import overlay
        from ..runtime import LinuxSyscalls

        cid = record.id
        idmapped = bool(record.userns) and self._idmap_supported()
        layers = self._layers_of(record, shifted=not idmapped)
        empty = fs.ensure_dir(os.path.join(self.layout.root, "empty"), 0o755)
        target = os.path.join(self.layout.container_dir(cid), f"export-{os.urandom(6).hex()}")
        os.mkdir(target, 0o700)
        syscalls = LinuxSyscalls()

        def mount(lower: list[str], base: str | None = None) -> None:
            overlay.mount_readonly(syscalls, self.layout.root, [self.layout.upper(cid), *lower], target, empty,
                                   base=base)

        try:
            fd = -1
            try:
                if idmapped:  # the layers as the container sees them, as its start mounts them
                    where = os.path.join(self.layout.container_dir(cid), f"idmapped-{os.urandom(6).hex()}")
                    with self._idmapped_layers(syscalls, record, layers, where) as mapped:
                        mount(mapped, base=where)
                else:
                    mount(layers)
                fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError as exc:
                raise EngineError(f"cannot mount the filesystem of container {record.name} to export it: "
                                  f"{exc.strerror or exc}") from None
            finally:
                try:
                    lifecycle.unmount_below(target, include_self=True)
                except BaseException:
                    if fd >= 0:
                        os.close(fd)
                    raise
            return fd
        finally:
            try:
                os.rmdir(target)
            except OSError:
                pass  # still mounted: unmount_below raised, naming it

    def _still_there(self, cid: str, name: str) -> None:
        """Under the container lock: NotFound when the container was removed since it was looked up."""
        if not os.path.exists(self.layout.container_config(cid)):
            raise NotFound("container", name)

    def prune(self, filters: t.Mapping[str, t.Any] | None = None) -> dict[str, t.Any]:
        from ..core import timefmt
        from . import filters as filters_

        flt = filters_.normalise(filters, ("until", "label"))
        deleted = []
        reclaimed = 0
        until = filters_.until(flt.get("until"))
        for cid in self._ids():
            try:
                record = self._record(cid)
                state = self._state(cid)
            except (NotFound, EngineError):
                continue
            if state.status.active:
                continue
            if until is not None and not (timefmt.parse_rfc3339(record.created) or 0) < until:
                continue
            if "label" in flt and not filters_.labels_match(flt["label"], record.options.get("labels") or {}):
                continue
            size = fs.dir_size(self.layout.upper(cid))
            if self.remove(cid):
                deleted.append(cid)
                reclaimed += size
        return {"ContainersDeleted": deleted, "SpaceReclaimed": reclaimed}

    def sweep_locks(self) -> int:
        """Delete the lock files of containers that no longer exist (a caller that locked a container
        while it was being removed made one again); returns how many. One that is held stays."""
        from ..core.locks import flock

        try:
            names = os.listdir(self.layout.locks_dir)
        except FileNotFoundError:
            return 0
        count = 0
        for name in names:
            if not (name.startswith("container-") and name.endswith(".lock")):
                continue
            cid = name[len("container-"):-len(".lock")]
            if os.path.isdir(self.layout.container_dir(cid)):
                continue
            try:
                with flock(self.layout.container_lock(cid), timeout=0):
                    if not os.path.isdir(self.layout.container_dir(cid)):
                        os.unlink(self.layout.container_lock(cid))
                        count += 1
            except (EngineError, FileNotFoundError):
                continue
        return count

    def restore(self) -> list[str]:
        """After a reboot: start the containers whose restart policy says they should run, as dockerd does
        when it starts: ``always`` ones even when they were stopped by hand, ``unless-stopped`` ones only
        when they were not, ``on-failure`` ones that did not exit 0."""
        started = []
        for cid in self._ids():
            try:
                record = self._record(cid)
                state = self._state(cid)
            except (NotFound, EngineError):
                continue
            policy = record.options.get("restart_policy") or "no"
            if state.status.active or policy == "no":
                continue
            if policy == "unless-stopped" and state.manually_stopped:
                continue
            if policy == "on-failure" and state.exit_code == 0:
                continue
            self.start(cid)
            started.append(cid)
        return started

    def disk_usage(self) -> list[dict[str, t.Any]]:
        out = []
        for item in self.list(all=True):
            item = dict(item)
            item["SizeRw"] = fs.dir_size(self.layout.upper(item["Id"]))
            out.append(item)
        return out


# ==================================================================== helpers
class _VolatileOverlay:
    """The rootfs mounter of a ``--rm`` container: overlayfs with ``volatile`` (podman does the same).

    A volatile overlay never syncs its upper filesystem; without it, every unmount syncs the whole host
    filesystem the upper directory lives on (``ovl_sync_fs``): 1.5-2.5 ms on the test hosts, on the path
    between the container's exit and ``run`` returning, and more when the disk is busy. The price is the
    kernel's crash rule: after a crash such an upper dir must not be mounted again, and the kernel
    leaves ``work/work/incompat/volatile`` behind to refuse it. An auto-remove container's upper dir is
    thrown away when it exits (and is garbage after a crash), so the marker is cleared before each mount
    (a ``create --rm`` whose first start failed can start again). Kernels without the option (before 5.10)
    get the plain mount."""

    def __init__(self, syscalls: t.Any, workdir: str) -> None:
        self._sys = syscalls
        self._workdir = workdir

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
        if fstype != "overlay" or not data or "upperdir=" not in data:
            self._sys.mount(source, target, fstype, flags, data)
            return
        try:
            os.rmdir(os.path.join(self._workdir, "work", "incompat", "volatile"))
        except OSError:
            pass
        try:
            self._sys.mount(source, target, fstype, flags, data + ",volatile")
        except OSError as exc:
            if exc.errno != 22:  # EINVAL: an older kernel
                raise
            self._sys.mount(source, target, fstype, flags, data)

    def umount2(self, target: str, flags: int) -> None:
        self._sys.umount2(target, flags)


def _ps_top(ps_args: str, pids: set[int]) -> dict[str, t.Any]:
    """``docker top NAME ARGS``: the host's ``ps ARGS``, the rows of the container's processes (moby's
    parsePSOutput: the PID column found by its title, the last column keeps its spaces)."""
    import shlex
    import subprocess

    try:
        argv = shlex.split(ps_args)
    except ValueError as exc:
        raise InvalidOption("ps_args", ps_args, f"cannot be split into arguments: {exc}") from None
    ps = fs.which("ps")
    if not ps:
        raise EngineError("ps options need the host's ps command, which is not installed")
    res = subprocess.run([ps, *argv], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise InvalidOption("ps_args", ps_args, f"ps failed: {res.stderr.strip() or res.returncode}")
    lines = res.stdout.splitlines()
    titles = lines[0].split() if lines else []
    if "PID" not in titles:
        raise InvalidOption("ps_args", ps_args, "the ps output has no PID column")
    col = titles.index("PID")
    rows = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in pids:
            rows.append(fields)
    return {"Titles": titles, "Processes": rows}


def _unsupported(options: t.Mapping[str, t.Any]) -> dict[str, str]:
    """{option: why} for the set options this host cannot apply (Docker warns and discards these)."""
    out: dict[str, str] = {}
    if options.get("blkio_weight"):
        from ..runtime import io_weight_supported

        if not io_weight_supported():
            out["blkio_weight"] = ("this kernel does not support block I/O weight (no blkio.weight or "
                                   "blkio.bfq.weight, or no io controller): the weight is discarded, as Docker does")
    return out


def _shown(options: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
    """*options* as results show them: ``secret_env`` masked (neither values nor seals)."""
    if not options.get("secret_env"):
        return options
    return {**options, "secret_env": copts.mask_secrets(options["secret_env"])}


def _applicable(options: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
    """*options* without what this host cannot apply (see :func:`_unsupported`)."""
    drop = _unsupported(options)
    return {k: v for k, v in options.items() if k not in drop} if drop else options


def _now_rfc3339() -> str:
    """``timefmt.now_rfc3339()`` without its import of datetime (~2 ms on ``berth run``)."""
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + \
        ".%06d000Z" % (ns // 1000 % 1_000_000)


def _command_text(args: t.Sequence[str]) -> str:
    """docker ps's COMMAND: arguments joined, those with spaces single-quoted."""
    return " ".join(f"'{a}'" if (" " in a or not a) else a for a in args)


def _loopback_nameserver(line: str) -> bool:
    parts = line.split()
    return len(parts) >= 2 and parts[0] == "nameserver" and (parts[1].startswith("127.") or parts[1] == "::1")


def _read_in_rootfs(rootfs: str, path: str) -> str | None:
    """Read a file of the container's own tree, resolving symlinks inside it (never on the host)."""
    from ..runtime import secure_join

    try:
        real = secure_join(rootfs, path)
        with open(real, encoding="utf-8", errors="replace") as fh:
            return fh.read(1 << 20)
    except OSError:
        return None


def _init_path() -> str:
    """The host's static tini, bind-mounted read-only into the container as its PID 1 (``init: true``)."""
    for candidate in INIT_BINARIES:
        if os.path.exists(candidate):
            return candidate
    raise InvalidOption("init", True, "needs a static tini on the host (apt-get install tini: /usr/bin/tini-static)")


def _host_devices(opts: t.Mapping[str, t.Any]) -> dict[str, list[dict[str, t.Any]]]:
    """The host device nodes the options ask for: each ``devices`` entry (a node or a directory of
    nodes), and all of /dev for a privileged container."""
    import stat as _stat

    wanted = [d["path_on_host"] for d in opts.get("devices") or ()]
    if opts.get("privileged"):
        wanted.append("/dev")
    out: dict[str, list[dict[str, t.Any]]] = {}
    for top in wanted:
        found = []
        paths = [top]
        if os.path.isdir(top) and not os.path.islink(top):
            paths = []
            for dirpath, dirnames, filenames in os.walk(top):
                dirnames[:] = [d for d in dirnames if d not in ("pts", "shm", "mqueue")]
                paths.extend(os.path.join(dirpath, n) for n in filenames)
        for path in paths:
            try:
                st = os.stat(path)
            except OSError:
                continue
            kind = "c" if _stat.S_ISCHR(st.st_mode) else "b" if _stat.S_ISBLK(st.st_mode) else None
            if kind is None or (path == "/dev/console" and top == "/dev"):
                continue
            found.append({
                "path": path, "type": kind, "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
                "fileMode": _stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid,
            })
        if found:
            out[top] = found
    return out


def _image_stop_signal(store: ImageStore, record: ContainerRecord) -> str | None:
    try:
        return (store.config(record.image).get("config") or {}).get("StopSignal")
    except EngineError:
        return None


def _security_opt_list(sec: t.Mapping[str, t.Any] | None) -> list[str] | None:
    if not sec:
        return None
    out = []
    for key, value in sec.items():
        if key == "seccomp" and isinstance(value, dict):
            out.append("seccomp=<profile>")
        elif value is True:
            out.append(key)
        else:
            out.append(f"{key}={value}")
    return sorted(out)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BrokenPipeError:
            return
        view = view[n:]


def _wait_child(pid: int) -> int:
    """Exit code of our child (or orphaned descendant) *pid*: 128+N when killed by signal N."""
    while True:
        try:
            _got, status = os.waitpid(pid, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            raise EngineError(f"exec process {pid} is not a child of this process; its exit code is lost") from None
        if os.WIFSIGNALED(status):
            return 128 + os.WTERMSIG(status)
        return os.WEXITSTATUS(status)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _dead(pid: int) -> bool:
    return not pid or not _alive(pid)


def _status_text(state: ContainerState) -> str:
    """``Up 3 minutes``, ``Exited (0) 2 hours ago``, ``Created`` like docker ps."""
    from ..core import timefmt

    now = time.time()
    s = state.status
    if s is ContainerStatus.CREATED:
        return "Created"
    if s in (ContainerStatus.RUNNING, ContainerStatus.PAUSED):
        started = timefmt.parse_rfc3339(state.started_at) or now
        text = "Up " + timefmt.human_duration(now - started)
        if state.health:
            status = state.health.get("Status", "starting")
            text += " (health: starting)" if status == "starting" else f" ({status})"
        if state.error.startswith(lifecycle.UNSUPERVISED_ERROR):
            text += " (monitor lost)"
        return text + (" (Paused)" if s is ContainerStatus.PAUSED else "")
    if s is ContainerStatus.RESTARTING:
        finished = timefmt.parse_rfc3339(state.finished_at) or now
        return f"Restarting ({state.exit_code}) {timefmt.human_duration(now - finished)} ago"
    if s is ContainerStatus.EXITED:
        finished = timefmt.parse_rfc3339(state.finished_at) or now
        return f"Exited ({state.exit_code}) {timefmt.human_duration(now - finished)} ago"
    return s.value.capitalize()


CONTAINER_FILTERS = ("id", "name", "label", "status", "ancestor", "exited", "before", "since")


def _match(flt: dict[str, list[str]], record: ContainerRecord, state: ContainerState, images: "ImageService") -> bool:
    from . import filters as filters_

    if "id" in flt and not any(record.id.startswith(v) for v in flt["id"]):
        return False
    if "name" in flt and not any(v.lstrip("/") in record.name for v in flt["name"]):
        return False
    if "status" in flt:
        statuses = {ContainerStatus.EXITED.value, ContainerStatus.CREATED.value, ContainerStatus.RUNNING.value,
                    ContainerStatus.PAUSED.value, ContainerStatus.RESTARTING.value, ContainerStatus.DEAD.value,
                    ContainerStatus.REMOVING.value}
        for v in flt["status"]:
            if v not in statuses:
                raise InvalidOption("filters.status", v, f"expected one of {', '.join(sorted(statuses))}")
        if state.status.value not in flt["status"]:
            return False
    if "exited" in flt:
        if state.status is not ContainerStatus.EXITED or str(state.exit_code) not in flt["exited"]:
            return False
    if "label" in flt and not filters_.labels_match(flt["label"], record.options.get("labels") or {}):
        return False
    if "ancestor" in flt:
        ok = False
        for v in flt["ancestor"]:
            try:
                image_id = images.resolve(v)
            except EngineError:
                image_id = None
            if image_id == record.image or v == record.image_name:
                ok = True
        if not ok:
            return False
    return True


def _proc_info(pid: int) -> list[str] | None:
    """A ``ps -ef``-like row from /proc (no ps binary needed)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read().replace(b"\0", b" ").strip().decode(errors="replace")
        uid = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None
    rest = stat[stat.rindex(")") + 2 :].split()
    ppid = rest[1]
    utime, stime = int(rest[11]), int(rest[12])
    ticks = os.sysconf("SC_CLK_TCK")
    total = (utime + stime) // ticks
    tty = "?"
    comm = stat[stat.index("(") + 1 : stat.rindex(")")]
    return [
        str(uid),
        str(pid),
        ppid,
        "0",
        time.strftime("%H:%M", time.localtime(time.time())),
        tty,
        f"{total // 3600:02d}:{total // 60 % 60:02d}:{total % 60:02d}",
        cmdline or f"[{comm}]",
    ]
