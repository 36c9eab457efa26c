# SPDX-License-Identifier: GPL-3.0-or-later
"""``docker build``: the builder component (build/) over the image store and the container service.

:class:`StoreBackend` is the :class:`build.builder.Backend` the builder runs through: base images come
from the store (pulled when missing), each RUN runs in a build container created and started by the same
container service as ``berth run`` (its process output goes to the caller's file descriptor), COPY/ADD
extract a tar into a created container's root (``cp_to``, chrooted), and a step's layer is the tar of
the container's upper dir with its whiteouts (store/changes.py ``write_layer_tar``), ingested into the
store like a pulled layer. The step cache maps keys to image IDs under ``<data-root>/buildcache``.
"""
from __future__ import annotations

import contextlib
import json
import os
import tarfile
import tempfile
import typing as t

from ..build.builder import Backend, Builder, BuildOptions, BuildResult, WouldBuild
from ..build.context import Context
from ..build.dockerfile import parse
from ..core import fs, oci, trust
from ..core.reference import ImageReference, host_platform, is_full_id
from ..errors import BuildError, InvalidOption, InvalidReference
from ..store.images import LayerRef

# Imported where used, as store.archive below: a fully cached build writes no layer and starts no container.
# store.changes (~1.5 ms with store.unpack; a cached COPY reads the image's tree through it only to see whether
# its destination is a directory), threading (the removal of build containers).
if t.TYPE_CHECKING:
    import threading

    from ..store.images import ImageStore
    from .containers import ContainerService
    from .images import ImageService

Say = t.Callable[[str], None]


def quiet(_line: str) -> None:
    pass


class StoreBackend:
    """:class:`Backend` over a :class:`ContainerService` (and through it the store and the images)."""

    def __init__(self, store: ImageStore, images: t.Callable[[], ImageService],
                 containers: t.Callable[[], ContainerService],
                 output_fd: int, work: str, say: Say = quiet) -> None:
        self.store = store
        self.images = images
        self.layout = store.layout
        #: the container service, made when a step first needs a container (a cached build never does)
        self._containers = containers
        self.say = say
        self.dry_run = False
        self._removals: list[threading.Thread] = []
        self.removal_errors: list[str] = []
        self.output_fd = output_fd
        self.work = work  # a private temporary directory on the data root's file system
        self.cache_dir = self.layout.build_cache_dir

    @property
    def svc(self) -> ContainerService:
        return self._containers()

    # ------------------------------------------------------------------ images
    def base(self, name: str, pull: bool, platform: str | None) -> tuple[str, dict[str, t.Any]]:
        image_id = self.store.lookup(name)
        if self.dry_run and (image_id is None or pull):
            raise WouldBuild(name)
        if image_id is None or (pull and not name.startswith("sha256:")):
            image_id = self.images().pull(name, platform=platform).image_id
        return image_id, self.store.verified_config(image_id)

    def scratch(self) -> dict[str, t.Any]:
        plat = host_platform()
        cfg: dict[str, t.Any] = {"architecture": plat.get("architecture", ""), "os": plat.get("os", "linux"),
                                 "config": {}, "rootfs": {"type": "layers", "diff_ids": []}, "history": []}
        if plat.get("variant"):
            cfg["variant"] = plat["variant"]
        return cfg

    def commit(self, parent: str | None, config: dict[str, t.Any], layer: str | None) -> str:
        return commit_image(self.store, parent, config, layer)

    def kind(self, image: str, path: str) -> str | None:
        found = self._entry(image, path)
        if found is None:
            return None
        import stat

        return "dir" if stat.S_ISDIR(found[0].st_mode) else "file"

    def lstat(self, image: str, path: str) -> os.stat_result | None:
        found = self._entry(image, path)
        return None if found is None else found[0]

    def _entry(self, image: str, path: str) -> tuple[os.stat_result, list[str]] | None:
        from ..store import changes

        dirs = [self.layout.layer_diff(d) for d in reversed(self._diff_ids(image))]
        st: os.stat_result | None = None
        for part in [p for p in path.split("/") if p]:
            st, dirs = changes.image_entry(dirs, part)
            if st is None:
                return None
        if st is None:  # the root
            return os.stat("/"), dirs
        return st, dirs

    def _diff_ids(self, image: str) -> list[str]:
        return [x.diff_id for x in self.store.get(image).layers]

    def read(self, image: str, path: str) -> bytes | None:
        parent, name = os.path.split(path.rstrip("/"))
        found = self._entry(image, parent)
        if found is None:
            return None
        for d in found[1]:
            p = os.path.join(d, name)
            if os.path.lexists(p):
                if os.path.islink(p) or not os.path.isfile(p):
                    return None
                with open(p, "rb") as fh:
                    return fh.read()
        return None

    @contextlib.contextmanager
    def mount(self, image: str) -> t.Iterator[str]:
        from ..runtime import LinuxSyscalls
        from ..supervisor import lifecycle, overlay

        layers = [self.layout.layer_diff(d) for d in reversed(self._diff_ids(image))]
        target = tempfile.mkdtemp(prefix="from-", dir=self.work)
        empty = fs.ensure_dir(os.path.join(self.layout.root, "empty"), 0o755)
        if not layers:
            yield target
            return
        overlay.mount_readonly(LinuxSyscalls(), self.layout.root, layers, target, empty)
        try:
            yield target
        finally:
            lifecycle.unmount_below(target, include_self=True)

    # ------------------------------------------------------------------ containers
    def _container(self, image: str, argv: list[str], env: dict[str, str], network: str | None) -> str:
        from ..options.container import normalise_options

        params: dict[str, t.Any] = {"image": image, "command": argv, "entrypoint": [], "log_driver": "none"}
        if network:  # else the default bridge, as docker build's RUN (the engine config's DNS applies)
            params["network_mode"] = network
        if env:
            params["env"] = env
        try:
            options = normalise_options(params, environ={})
        except InvalidOption as exc:
            raise BuildError(f"cannot make the build container: {exc}") from None
        return self.svc.create(options)

    def _layer(self, cid: str) -> str:
        return layer_of(self.svc, cid, self.work)

    def run(self, image: str, argv: list[str], env: dict[str, str], network: str | None) -> tuple[int, str]:
        from .containers.records import Stdio

        # no removal thread may run while the start forks its starter: a child forked beside a running thread
        # can inherit a held lock (the import lock, or the IPAM flock the removal takes) and hang with it
        self.finish()
        cid = self._container(image, argv, env, network)
        self.say(f" ---> Running in {cid[:12]}")
        try:
            handle = self.svc.start(cid, Stdio(stdin=None, stdout=self.output_fd, stderr=self.output_fd))
            code = self.svc.wait_attached(handle)
            if code is None:
                raise BuildError(f"the build container {cid[:12]} was detached")
            return code, self._layer(cid)
        finally:
            self._remove(cid)
            self.say(f"Removing intermediate container {cid[:12]}")

    def put(self, image: str, archive: str) -> str:
        cid = self._container(image, ["/"], {}, None)
        try:
            with open(archive, "rb") as fh:
                self.svc.cp_to(cid, fh, "/", archive=True)
            return self._layer(cid)
        finally:
            self._remove(cid)

    def _remove(self, cid: str) -> None:
        """Remove a build container in the background (its files are many small unlinks): the next step
        runs meanwhile, unless it is a RUN (:meth:`run` waits first); :meth:`finish` waits for all of them."""

        def remove() -> None:
            try:
                self.svc.remove(cid, force=True)
            except Exception as exc:  # reported by finish(); the build's result does not depend on it
                self.removal_errors.append(f"cannot remove build container {cid[:12]}: {exc}")

        import threading

        thread = threading.Thread(target=remove, name=f"remove-{cid[:12]}", daemon=False)
        thread.start()
        self._removals.append(thread)

    def finish(self) -> None:
        for thread in self._removals:
            thread.join()
        self._removals.clear()

    # ------------------------------------------------------------------ cache
    def _cache_path(self, key: str) -> str:
        return os.path.join(self.cache_dir, key.split(":", 1)[-1])

    def cache_get(self, key: str) -> str | None:
        try:  # root's and written by no one else, or refused (UntrustedPath): the cache names what to reuse
            image = trust.read_trusted(self._cache_path(key), "build cache entry").decode("ascii").strip()
        except FileNotFoundError:
            return None
        return image if is_full_id(image) and self.store.complete(image) else None

    def cache_put(self, key: str, image: str) -> None:
        fs.ensure_dir(self.cache_dir, 0o700)
        fs.atomic_write(self._cache_path(key), image, mode=0o600, fsync=False)


if t.TYPE_CHECKING:
    _check: Backend = StoreBackend.__new__(StoreBackend)


def commit_image(store: ImageStore, parent: str | None, config: dict[str, t.Any], layer: str | None) -> str:
    """Store the image *config* whose layers are *parent*'s (its ``rootfs.diff_ids`` are set here) plus,
    when given, the layer tar file *layer* (ingested uncompressed, so that the blob is the tar); a Docker
    schema 2 manifest and config, so Healthcheck, OnBuild and Shell survive save and push. Returns the ID."""
    # Here, not at the top: a fully cached build commits nothing, and store.archive costs it ~5 ms.
    from ..store.archive.load import DOCKER_LAYER_TAR, docker_manifest

    refs = list(store.get(parent).layers) if parent else []
    cfg = dict(config)
    rootfs = dict(cfg.get("rootfs") or {"type": "layers"})
    if layer is not None:
        with open(layer, "rb") as fh:
            info = store.layers.ingest(fh, DOCKER_LAYER_TAR)
        if info.blob is None:
            raise BuildError(f"the layer {info.diff_id} was stored without its blob")
        refs.append(LayerRef(info.diff_id, str(info.blob), DOCKER_LAYER_TAR, info.blob_size))
    rootfs["diff_ids"] = [r.diff_id for r in refs]
    cfg["rootfs"] = rootfs
    data = json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()
    image_id, dummy = store.commit(data, refs, docker_manifest(data, refs), oci.DOCKER_MANIFEST, parent=parent or "")
    return image_id


def layer_of(svc: ContainerService, cid: str, work: str) -> str:
    """The container's changes as a layer tar file in *work* (its upper dir, with whiteouts; the runtime's
    mountpoints left out, as Docker keeps them in the init layer)."""
    from ..store import changes
    from ..supervisor import INIT_PATH
    from .containers.export import RUNTIME_MOUNTPOINTS

    fd, path = tempfile.mkstemp(prefix="layer-", suffix=".tar", dir=work)
    with os.fdopen(fd, "wb") as out:
        changes.write_layer_tar(svc.layout.upper(cid), out, RUNTIME_MOUNTPOINTS + (INIT_PATH,))
    return path


def build(
    store: ImageStore,
    images: t.Callable[[], ImageService],
    containers: t.Callable[[], ContainerService],
    context: str | None,
    dockerfile: str | None = None,
    dockerfile_text: str | None = None,
    tags: t.Sequence[str] = (),
    options: BuildOptions | None = None,
    say: Say = quiet,
    output_fd: int | None = None,
) -> BuildResult:
    """``docker build``: *context* a directory, a tarball (plain or compressed), a git URL
    (``URL#ref:subdir``) or None (a Dockerfile from *dockerfile_text*, no context); *dockerfile* the
    Dockerfile's path in the context (``Dockerfile``) or *dockerfile_text* its content. Steps are
    reported through *say*; RUN output goes to *output_fd* (None: discarded)."""
    opts = options or BuildOptions()
    refs = []
    for tag in tags:
        ref = ImageReference.parse(tag, field="tags")
        if ref.digest or ref.tagged is None:
            raise InvalidReference(tag, "a build is tagged with repository:tag, not a digest", "tags")
        refs.append(ref.tagged)
    if opts.dry_run:  # check mode writes nothing below the data root (a tarball or git context is unpacked in /tmp)
        work = tempfile.mkdtemp(prefix="berth-build-check-")
    else:
        store.ensure()
        work = tempfile.mkdtemp(prefix="build-", dir=store.layout.tmp_dir)
    null = None
    if output_fd is None:
        null = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
        output_fd = null
    try:
        root = _context_dir(context, work)
        ctx = Context(root)
        name, text = _dockerfile(ctx, dockerfile, dockerfile_text)
        parsed = parse(text, name)
        backend = StoreBackend(store, images, containers, output_fd, work, say)
        backend.dry_run = opts.dry_run
        lock = store.gc_lock(shared=True) if store.exists else contextlib.nullcontext()
        with lock:
            try:
                result = Builder(backend, ctx, parsed, opts, say, _duration, _go_duration).build()
            finally:
                backend.finish()
            if opts.dry_run:
                return result
            if refs:
                store.set_refs(result.image_id, refs)
        result.warnings.extend(backend.removal_errors)
        for warning in result.warnings:
            say(warning)
        say(f"Successfully built {result.image_id.split(':', 1)[1][:12]}")
        for tag in tags:
            say(f"Successfully tagged {tag}")
        return result
    finally:
        if null is not None:
            os.close(null)
        fs.rmtree(work)


def _duration(value: str, field: str) -> int:
    """HEALTHCHECK's ``--interval`` and friends, read as the container options read them (the option
    tables are loaded only for a HEALTHCHECK step)."""
    from ..options.container.normalise import duration

    return duration(value, field)


def _go_duration(ns: int) -> str:
    """A HEALTHCHECK duration in a history line, as Go prints it (the health checker's formatter)."""
    from ..supervisor import go_duration

    return go_duration(ns)


def _dockerfile(ctx: Context, dockerfile: str | None, text: str | None) -> tuple[str, str]:
    if text is not None:
        return dockerfile or "Dockerfile", text
    if ctx.root is None:
        raise InvalidOption("dockerfile", dockerfile, "a build without a context needs the Dockerfile's text")
    name = dockerfile or "Dockerfile"
    path = name if os.path.isabs(name) else os.path.join(ctx.root, name)
    try:
        with open(path, encoding="utf-8") as fh:
            return name, fh.read()
    except OSError as exc:
        raise InvalidOption("dockerfile", name, f"cannot read the Dockerfile {path}: {exc.strerror or exc}") from None


def _context_dir(context: str | None, work: str) -> str | None:
    """The build context as a directory: itself, or a tarball / git repository unpacked below *work*."""
    if context is None:
        return None
    if _is_git(context):
        return _git_context(context, work)
    if os.path.isdir(context):
        return context
    if os.path.isfile(context):
        if not tarfile.is_tarfile(context):
            raise InvalidOption("context", context, "is neither a directory, a tar archive nor a git URL")
        dest = fs.ensure_dir(os.path.join(work, "context"), 0o700)
        with tarfile.open(context, "r:*") as tf:
            _safe_extract(tf, dest, context)
        return dest
    raise InvalidOption("context", context, "no such directory, file or git repository")


def _is_git(context: str) -> bool:
    base = context.split("#", 1)[0]
    return (base.startswith(("git://", "git@")) or base.endswith(".git") or "#" in context
            and not os.path.exists(context) or base.startswith("file://"))


def _git_context(context: str, work: str) -> str:
    import shutil  # here: only a git context runs a command (~3 ms of imports a cached build does without)
    import subprocess

    url, dummy, fragment = context.partition("#")
    ref, dummy, subdir = fragment.partition(":")
    git = shutil.which("git")
    if git is None:
        raise BuildError("a git build context needs the git command")
    dest = os.path.join(work, "git")
    try:
        subprocess.run([git, "init", "-q", dest], check=True, capture_output=True)
        subprocess.run([git, "-C", dest, "fetch", "-q", "--depth=1", "--", url, ref or "HEAD"], check=True,
                       capture_output=True)
        subprocess.run([git, "-C", dest, "checkout", "-q", "FETCH_HEAD"], check=True, capture_output=True)
    except subprocess.CalledProcessError as exc:
        err = exc.stderr.decode("utf-8", "replace").strip() if exc.stderr else str(exc)
        raise BuildError(f"cannot fetch the git context {context}: {err}") from None
    fs.rmtree(os.path.join(dest, ".git"))
    root = os.path.realpath(os.path.join(dest, subdir)) if subdir else dest
    if not (root == dest or root.startswith(dest + os.sep)) or not os.path.isdir(root):
        raise InvalidOption("context", context, f"subdirectory {subdir!r} is not a directory of the repository")
    return root


def _safe_extract(tf: tarfile.TarFile, dest: str, label: str) -> None:
    """A context tarball below *dest*: names kept below it, nothing written through a symlink that leads
    out of it, devices skipped and set-ID bits dropped (a context is files, directories and links)."""
    real = os.path.realpath(dest)
    for member in tf:
        name = os.path.normpath("/" + member.name).lstrip("/")
        if not name or name == "." or member.isdev():
            continue
        parent = os.path.realpath(os.path.join(real, os.path.dirname(name)))
        if parent != real and not parent.startswith(real + os.sep):
            raise InvalidOption("context", label, f"{member.name} would be written outside the context")
        member.name = name
        if member.islnk():
            member.linkname = os.path.normpath("/" + member.linkname).lstrip("/")
        member.mode &= 0o1777
        try:
            tf.extract(member, real, set_attrs=True, numeric_owner=True)
        except (OSError, tarfile.TarError) as exc:
            raise InvalidOption("context", label, f"cannot unpack {member.name}: {exc}") from None
