# SPDX-License-Identifier: GPL-3.0-or-later
"""What several container verbs share: runtime selection, the image-store files a container reads, and
what of its options the host applies.

On the start path of ``berth run``: no typing, json, re or dataclasses at import time, imports inside the
functions that need them (docs/dev/runtime-design.md, "Start path").
"""
from __future__ import annotations

import os

from ...core import fs
from ...errors import EngineError, InvalidOption, NotFound
from ...options import container as copts

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    from .records import ContainerRecord
    from .service import ContainerService

DEFAULT_RUNTIME = "berth"
#: runtimes found on PATH by name when daemon.json ``runtimes`` does not list them
PATH_RUNTIMES = ("runc", "crun")


# ==================================================================== runtime selection
def runtime_name(svc: ContainerService, opts: t.Mapping[str, t.Any]) -> str:
    return str(opts.get("runtime") or svc.config.get("default-runtime") or DEFAULT_RUNTIME)


def runtimes(svc: ContainerService) -> dict[str, dict[str, t.Any]]:
    """The runtimes containers can use: ``{name: {"path": binary or None}}`` (``docker info``'s Runtimes;
    Berth's own has no binary)."""
    out: dict[str, dict[str, t.Any]] = {DEFAULT_RUNTIME: {"path": None}}
    for name in PATH_RUNTIMES:
        path = fs.which(name)
        if path:
            out[name] = {"path": path}
    for name, entry in (svc.config.get("runtimes") or {}).items():
        out[name] = {"path": (entry or {}).get("path")}
    return out


def runtime_for(svc: ContainerService, name: str) -> dict[str, t.Any]:
    """{"name", "path"} for the monitor; raises for an unknown runtime."""
    if name == DEFAULT_RUNTIME:
        return {"name": DEFAULT_RUNTIME, "path": None}
    configured = svc.config.get("runtimes") or {}
    if name in configured:
        path = (configured[name] or {}).get("path")
        if not path:
            raise InvalidOption("runtime", name, f"runtimes.{name} in {svc.config.path} has no path")
    else:
        path = fs.which(name) if name in PATH_RUNTIMES else None
        if not path:
            known = ", ".join(sorted({DEFAULT_RUNTIME, *PATH_RUNTIMES, *configured}))
            raise InvalidOption("runtime", name, f"unknown runtime (known: {known})")
    return {"name": name, "path": path}


def oci_runtime(svc: ContainerService, name: str) -> t.Any:
    from ...runtime import BerthRuntime, ExternalRuntime

    spec = runtime_for(svc, name)
    state_root = os.path.join(svc.layout.runtime_state_dir, spec["name"])
    if spec["path"] is None:
        return BerthRuntime(state_root)
    return ExternalRuntime(spec["path"], state_root)


# ==================================================================== image-store files
# What ``run`` needs of an image, read from the data-root files the store writes (core/layout.py)
# instead of loading ImageStore/ImageService: ~15 ms of imports on every ``berth run``. Anything
# these cannot answer with certainty goes to the image service.
def local_image(svc: ContainerService, name: str) -> str | None:
    """The image ID of *name* when it is a tag found in repositories.json, else None (ask the image
    service: digests, IDs and ID prefixes, malformed names, images to pull)."""
    from ...core.reference import ImageReference, is_full_id

    if not isinstance(name, str) or is_full_id(name):
        return None
    try:
        ref = ImageReference.parse(name)
    except EngineError:
        return None
    if ref.digest or not ref.tagged:
        return None
    repos = fs.read_json(svc.layout.repositories) or {}
    image_id = (repos.get("tags") or {}).get(ref.tagged)
    return image_id if isinstance(image_id, str) else None


def image_layers(svc: ContainerService, image_id: str, userns: t.Mapping[str, t.Any] | None = None) -> list[str] | None:
    """The layer directories of a complete image, top first (overlay's lowerdir order); None when the
    record, the config or a layer is missing (``ImageStore.complete``). With a *userns* mapping (the
    record's), the copies shifted into it (store/remap.py), made where missing."""
    rec = fs.read_json(svc.layout.image_record(image_id))
    if not rec or not os.path.exists(svc.layout.blob(image_id)):
        return None
    diff_ids = [x["diff_id"] for x in rec.get("layers") or ()]
    if not all(os.path.exists(svc.layout.layer_meta(d)) for d in diff_ids):
        return None
    if userns:
        return remapped_layers(svc, userns).ensure(list(reversed(diff_ids)))
    return [svc.layout.layer_diff(d) for d in reversed(diff_ids)]


def layers_of(svc: ContainerService, record: ContainerRecord, shifted: bool = True) -> list[str]:
    """:func:`image_layers` of the container's image (the copies shifted into its user namespace when
    *shifted* and it has one); NotFound when the image is incomplete."""
    lower = image_layers(svc, record.image, record.userns if shifted else None)
    if lower is None:
        raise NotFound("image", f"{record.image_name} ({record.image[:19]}) of container {record.name}")
    return lower


def idmap_supported(svc: ContainerService) -> bool:
    """Whether user-namespaced containers get idmapped layers (supervisor/idmap.py) rather than copies; asked
    once per service."""
    if svc.idmap is None:
        from ...supervisor import idmap
        from ...runtime import LinuxSyscalls

        svc.idmap = idmap.supported(svc.layout, LinuxSyscalls())
    return svc.idmap


def idmapped_layers(syscalls: t.Any, record: ContainerRecord, layers: list[str], where: str) -> t.Any:
    """``with`` it: *layers* idmapped through the container's maps, attached below *where* (supervisor/idmap.py)."""
    from ...config.userns import IdMapping
    from ...supervisor import idmap

    m = IdMapping.from_json(record.userns)
    return idmap.IdmappedLayers(syscalls, layers, idmap.map_text(m.uids), idmap.map_text(m.gids), where)


def remapped_layers(svc: ContainerService, userns: t.Mapping[str, t.Any]) -> t.Any:
    from ...config.userns import IdMapping, to_host
    from ...store.remap import RemappedLayers

    m = IdMapping.from_json(userns)
    return RemappedLayers(svc.layout, m.key, lambda uid, gid: (to_host(uid, m.uids), to_host(gid, m.gids)),
                          svc.lock_timeout)


def image_config(svc: ContainerService, image_id: str) -> dict[str, t.Any]:
    """The image's config (``ImageStore.verified_config`` without the store, for the start path), checked
    against its digest, the image ID: a truncated or edited config never reaches a container."""
    from ...core import cjson, trust
    from ...core.fasthash import sha256

    try:
        data = trust.read_trusted(svc.layout.blob(image_id), "blob")
    except FileNotFoundError:
        from ...errors import StoreError

        raise StoreError(f"blob {image_id} is missing from the store {svc.layout.root}") from None
    algo, _sep, want = image_id.partition(":")
    if algo != "sha256" or sha256(data).hexdigest() != want:
        from ...errors import DamagedContent

        raise DamagedContent("image config", image_id, "its content does not match its digest")
    try:
        return dict(cjson.loads(data))
    except (ValueError, TypeError):
        from ...errors import DamagedContent

        raise DamagedContent("image config", image_id, "not a JSON object") from None


def platform_warning(svc: ContainerService, image: t.Any) -> str | None:
    """docker run/create's warning when the local image *image* is for another platform than this host's
    (moby's daemon/create.go); None when it matches or is not here (a pull reports its own)."""
    from ...core.reference import host_platform, platform_mismatch

    if not isinstance(image, str) or not image:
        return None
    try:
        image_id = local_image(svc, image) or svc.images.resolve(image)
        if not image_id:
            return None
        return platform_mismatch(image_config(svc, image_id), host_platform())
    except EngineError:
        return None  # a damaged or missing image: create says so


def log_config(svc: ContainerService, opts: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """Docker's ``LogConfig`` of a new container (moby's mergeAndVerifyLogConfig): the driver of the options,
    else the engine configuration's ``log-driver``; with the configuration's driver, its ``log-opts`` fill
    the options the container does not set. A configured value Berth cannot use fails naming the file and key."""
    from ...errors import ConfigError

    default = svc.config.get("log-driver") or "json-file"
    driver = opts.get("log_driver")
    if not driver:
        try:
            driver = copts.log_driver(default, "log-driver")
        except InvalidOption as exc:
            raise ConfigError(svc.config.path, "log-driver", f"{default!r}: {exc.reason}") from None
    config = dict(opts.get("log_options") or {})
    configured = svc.config.get("log-opts") or {}
    if driver == default and configured and driver != "none":
        try:
            configured = copts.log_options(configured, "log-opts")
        except InvalidOption as exc:
            raise ConfigError(svc.config.path, exc.field, f"{exc.value!r}: {exc.reason}") from None
        config = {**configured, **config}
    return {"Type": driver, "Config": {k: config[k] for k in sorted(config)}}


# ==================================================================== the event log
def event(svc: ContainerService, action: str, record: ContainerRecord, **attributes: t.Any) -> None:
    """Record a container event (core/eventlog.py): docker's attributes, the image and name, the
    container's labels, and *attributes* (``exitCode``, ``signal``, ``execID``...)."""
    from ...core import eventlog

    attrs = {**(record.options.get("labels") or {}), "image": record.image_name, "name": record.name, **attributes}
    eventlog.record(svc.layout.events_log, "container", action, record.id, attrs)


def signal_text(signal: str | int) -> str:
    """A signal as docker's kill event shows it: its number (``SIGKILL``, ``kill``, ``9`` -> ``"9"``)."""
    if isinstance(signal, int) or str(signal).isdigit():
        return str(int(signal))
    try:
        return str(copts.signal_number(copts.signal_name(signal, "signal")))
    except InvalidOption:
        return str(signal)


# ==================================================================== options as the host applies them
def unsupported(options: t.Mapping[str, t.Any]) -> dict[str, str]:
    """{option: why} for the set options this host cannot apply (Docker warns and discards these)."""
    out: dict[str, str] = {}
    if options.get("blkio_weight"):
        from ...runtime import io_weight_supported

        if not io_weight_supported():
            out["blkio_weight"] = ("this kernel does not support block I/O weight (no blkio.weight or "
                                   "blkio.bfq.weight, or no io controller): the weight is discarded, as Docker does")
    return out


def shown(options: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
    """*options* as results show them: ``secret_env`` masked (neither values nor seals)."""
    if not options.get("secret_env"):
        return options
    return {**options, "secret_env": copts.mask_secrets(options["secret_env"])}


def applicable(options: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
    """*options* without what this host cannot apply (see :func:`unsupported`)."""
    drop = unsupported(options)
    return {k: v for k, v in options.items() if k not in drop} if drop else options


def read_in_rootfs(rootfs: str, path: str) -> str | None:
    """Read a file of the container's own tree, resolving symlinks inside it (never on the host)."""
    from ...runtime import secure_join

    try:
        real = secure_join(rootfs, path)
        with open(real, encoding="utf-8", errors="replace") as fh:
            return fh.read(1 << 20)
    except OSError:
        return None


def read_in_layers(layers: t.Sequence[str], path: str, _links: int = 0) -> str | None:
    """Read a file of an image through its layer directories (top first, overlay's ``lowerdir`` order),
    nothing mounted: what the container's tree will show there before it ran (``create`` and check mode
    need its /etc/passwd and /etc/group). Overlay's rules (store/changes.py): a 0:0 character device
    is a whiteout (the name is deleted), an opaque directory or a non-directory hides the layers below;
    symlinks resolve inside the image (40 at most, as the kernel)."""
    import stat as _stat

    parts = [p for p in path.split("/") if p not in ("", ".")]
    for layer in layers:
        cur = layer
        hidden = False  # an opaque directory on the way: the layers below do not show through
        for i, part in enumerate(parts):
            cur = os.path.join(cur, part)
            try:
                st = os.lstat(cur)
            except OSError:
                if hidden:
                    return None
                break  # not in this layer: the layers below may have it
            mode = st.st_mode
            if _stat.S_ISCHR(mode) and st.st_rdev == 0:
                return None
            if _stat.S_ISLNK(mode):
                if _links >= 40:
                    return None
                target = os.readlink(cur)
                here = "/" + "/".join(parts[:i])
                rest = "/".join(parts[i + 1:])
                new = os.path.join(target if target.startswith("/") else os.path.join(here, target), rest)
                return read_in_layers(layers, os.path.normpath(new), _links + 1)
            if i == len(parts) - 1:
                if not _stat.S_ISREG(mode):
                    return None
                try:
                    with open(cur, encoding="utf-8", errors="replace") as fh:
                        return fh.read(1 << 20)
                except OSError:
                    return None
            if not _stat.S_ISDIR(mode):
                return None
            if not hidden:
                try:
                    hidden = os.getxattr(cur, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
                except OSError:
                    pass
        else:
            return None
    return None
