# SPDX-License-Identifier: GPL-3.0-or-later
"""``create``: a new container's record, name, directories and files, from normalised options.

On the start path of ``berth run``: no typing, json, re or dataclasses at import time, imports inside the
functions that need them (docs/dev/runtime-design.md, "Start path").
"""
from __future__ import annotations

import os
import time

from ...core import fs, trust
from ...core.locks import flock
from ...errors import EngineError, InvalidOption, NotFound
from ...options import container as copts
from ...core import cjson
from ...supervisor import ContainerState, lifecycle
from . import _common
from .records import ContainerRecord, link_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    from .service import ContainerService

NAME_ADJECTIVES = (
    "brave", "calm", "eager", "fond", "gentle", "happy", "jolly", "keen", "lucid", "merry", "nimble",
    "proud", "quiet", "relaxed", "serene", "sharp", "steady", "swift", "tender", "vivid", "witty", "zen",
)
NAME_NOUNS = (
    "anchor", "buoy", "cove", "dock", "ferry", "galley", "harbor", "jetty", "keel", "lagoon", "mast",
    "pier", "quay", "reef", "sail", "tide", "vessel", "wharf", "yawl", "beacon", "capstan", "mooring",
)


def create(svc: ContainerService, options: t.Mapping[str, t.Any], name: str | None = None,
           pull: str = "missing") -> str:
    """Create a container from normalised *options* (``options.container.normalise_options``; plain
    ``secret_env`` values, which the record keeps as seals and the bundle as values). A new container has
    no state to guard: the checks are of the options, the name, the image, the runtime and the OCI spec
    they make (built as a start would: ``user: nosuchuser`` fails here), before anything is written."""
    return create_with_spec(svc, options, name, pull)[0]


def check(svc: ContainerService, options: t.Mapping[str, t.Any], name: str | None = None) -> None:
    """What :func:`create` checks, writing nothing (check mode): the options, the name, the runtime and,
    when the image is present, the OCI spec built against it. An image that is not present is not
    pulled: the spec is checked when the task really runs."""
    opts = dict(options)
    image_name = opts.get("image")
    if not image_name:
        raise InvalidOption("image", image_name, "an image is required")
    if name is not None:
        name = copts.container_name(name, "name")
    _check_supported(svc, opts)
    _common.runtime_for(svc, _common.runtime_name(svc, opts))
    image_id = _common.local_image(svc, str(image_name)) or svc.images.resolve(str(image_name))
    if image_id is None:
        return
    # user namespaces: their maps come from the host's accounts, which check mode must not create
    opts.pop("userns_mode", None)
    image = _common.image_config(svc, image_id)
    _spec_at_create(svc, "0" * 64, name, opts, image, image_id, None, _mounts(svc, opts, image, dry=True))


def _wants_mounts(opts: t.Mapping[str, t.Any], image: t.Mapping[str, t.Any]) -> bool:
    config = image.get("config") or {}
    return bool(config.get("Volumes") or opts.get("volumes") or opts.get("mounts") or opts.get("volumes_from"))


def _mounts(svc: ContainerService, opts: t.Mapping[str, t.Any], image: t.Mapping[str, t.Any],
            dry: bool = False, claim: t.Any = None) -> list[dict[str, t.Any]]:
    """The record's mounts (services/containers/mounts.py, imported only when there are any); the volumes
    are ensured under *claim* (``LocalVolumes.claim``)."""
    if not _wants_mounts(opts, image):
        return []
    from . import mounts

    return mounts.resolve(svc, opts, image.get("config") or {}, dry=dry, claim=claim)


def _spec_at_create(svc: ContainerService, cid: str, name: str | None, opts: t.Mapping[str, t.Any],
                    image: t.Mapping[str, t.Any], image_id: str, userns: t.Any,
                    mounts: t.Sequence[t.Mapping[str, t.Any]] = ()) -> dict[str, t.Any]:
    """The bundle's spec (start.bundle_spec), the user and groups looked up in the image's layers."""
    from .start import bundle_spec

    layers = _common.image_layers(svc, image_id)
    if layers is None:
        raise NotFound("image", f"{opts.get('image')} ({image_id[:19]})")
    return bundle_spec(svc, cid, name or "", opts, image, userns.to_json() if userns is not None else None,
                       lambda kind: _common.read_in_layers(layers, f"/etc/{kind}"), mounts)


def create_with_spec(svc: ContainerService, options: t.Mapping[str, t.Any], name: str | None = None,
                     pull: str = "missing", check_ports: bool = True) -> tuple[str, dict[str, t.Any]]:
    """:func:`create`, which returns the container's ID and the OCI spec it built (``run`` starts with it;
    it leaves the host ports to the start, which claims them, and removes the container if they are taken)."""
    opts = dict(options)
    image_name = opts.get("image")
    if not image_name:
        raise InvalidOption("image", image_name, "an image is required")
    if name is not None:  # before any pull, and before anything is written
        name = copts.container_name(name, "name")
    _check_supported(svc, opts, check_ports)
    image_id = _image_for(svc, str(image_name), pull, opts.get("platform"))
    runtime = _common.runtime_name(svc, opts)
    _common.runtime_for(svc, runtime)  # fail early on an unknown runtime
    userns = _userns_for(svc, opts)
    if userns is not None and runtime != "berth" and copts.uses_bridge(opts):
        raise InvalidOption("network_mode", opts.get("network_mode") or "bridge",
                            f"a bridge network with a user namespace needs runtime berth ({runtime} cannot exec "
                            "into its network namespace, which the engine owns): use network_mode none or host")
    image = _common.image_config(svc, image_id)
    cid = os.urandom(32).hex()
    spec = _spec_at_create(svc, cid, name, opts, image, image_id, userns, _mounts(svc, opts, image, dry=True))
    layout = svc.layout
    if not os.path.isdir(layout.tmp_dir):
        svc.store.ensure()
    for d in (layout.containers_dir, layout.names_dir):
        fs.ensure_dir(d, 0o700)
    cdir = layout.container_dir(cid)
    os.makedirs(cdir, mode=0o700)
    mounts: list[dict[str, t.Any]] = []
    # the volumes are ensured under their shared use locks, held until the record is written: a volume rm or
    # prune meanwhile waits, then finds this container among the users (volumes/local.py, LocalVolumes.claim)
    claim = svc.volumes.claim() if _wants_mounts(opts, image) else None
    secrets = opts.get("secret_env") or {}
    try:
        mounts = _mounts(svc, opts, image, claim=claim)  # the volumes made (after the spec: a bad option made none)
        if mounts:
            spec = _spec_at_create(svc, cid, name, opts, image, image_id, userns, mounts)
        if secrets:  # the record keeps seals; the values go to the bundle only (_write_secrets)
            opts["secret_env"] = copts.seal_secrets(secrets, os.urandom(16).hex())
        final_name = _claim_name(svc, cid, name)
        spec.setdefault("annotations", {})["berth.container.name"] = final_name
        record = ContainerRecord(
            id=cid,
            name=final_name,
            created=_now_rfc3339(),
            image=image_id,
            image_name=str(image_name),
            options=opts,
            runtime=runtime,
            healthcheck=_healthcheck(image, opts),
            userns=userns.to_json() if userns is not None else None,
            log_config=_common.log_config(svc, opts),
            mounts=mounts,
        )
        for d in (layout.upper(cid), layout.work(cid), layout.rootfs(cid), layout.bundle(cid)):
            fs.ensure_dir(d, 0o755)
        _write_files(svc, record)
        if secrets:
            _write_secrets(svc, cid, secrets, durable=not opts.get("auto_remove"))
        if userns is not None:
            _own_for_userns(svc, cid, userns)
            if not _common.idmap_supported(svc):
                _common.image_layers(svc, image_id, record.userns)  # the shifted layer copies, made now, not at start
        # --rm: no fsync (gone when it exits, garbage after a crash: lifecycle.save explains)
        durable = not opts.get("auto_remove")
        lifecycle.save(layout, cid, ContainerState(), durable=durable)
        # The record is written last: a container without config.json does not exist.
        fs.atomic_write_json(layout.container_config(cid), record.to_json(), mode=0o600, fsync=durable,
                             pretty=False)
    except BaseException:
        lifecycle.remove_name_links(layout, cid)
        fs.rmtree(cdir)
        if claim is not None:
            claim.release()  # a removal takes the use locks itself
        if mounts:
            from ...supervisor import anonymous_volumes
            from .mounts import remove_anonymous

            remove_anonymous(svc, anonymous_volumes(mounts))
        raise
    finally:
        if claim is not None:
            claim.release()
    return cid, spec


def host_warnings(options: t.Mapping[str, t.Any]) -> list[str]:
    """What this host cannot apply of *options*, as ``field: why`` (``docker create``'s Warnings).

    The options are recorded as given (so the ``container`` module stays idempotent) and the
    settings are left out of what is applied, as Docker discards them.
    """
    return [f"{key}: {why}" for key, why in _common.unsupported(options).items()]


def _healthcheck(image: t.Mapping[str, t.Any], opts: t.Mapping[str, t.Any]) -> dict[str, t.Any] | None:
    image_cfg = image.get("config") or {}
    hc = copts.effective(opts, image_cfg).get("healthcheck")
    if not hc or list(hc.get("test") or hc.get("Test") or []) in ([], ["NONE"]):
        return None
    return dict(hc)


def _check_supported(svc: ContainerService, opts: t.Mapping[str, t.Any], check_ports: bool = True) -> None:
    mode = opts.get("network_mode")
    if mode and mode.startswith("container:"):
        if opts.get("networks") or opts.get("published_ports") or opts.get("publish_all_ports"):
            raise InvalidOption("network_mode", mode, "a container sharing another one's network namespace has no "
                                                      "networks or published ports of its own")
        return
    if mode in (None, "none", "host", "bridge", "default") and not opts.get("networks") \
            and not opts.get("published_ports"):
        return
    from ..networks import container_networks

    for entry in container_networks(opts):
        if entry["name"] != "bridge" and not svc.networks.exists(entry["name"]):
            raise NotFound("network", entry["name"])
    if check_ports and opts.get("published_ports") and container_networks(opts):
        svc.networks.check_ports(opts)


# ==================================================================== user namespaces
def _userns_for(svc: ContainerService, opts: t.Mapping[str, t.Any]) -> t.Any:
    """The ``IdMapping`` a new container runs with, or None (config/userns.py; Docker's rules)."""
    mode = opts.get("userns_mode") or ""
    remap = str(svc.config.get("userns-remap") or "")
    if mode == "host" or (mode == "" and not remap):
        return None
    from ...config import userns
    from ...errors import ConfigError

    trust.secure_root(svc.layout, create=True)
    fs.ensure_dir(svc.layout.locks_dir, 0o700)
    try:
        mapping = userns.resolve(
            remap or userns.DEFAULT_VALUE, svc.host_files, config_path=svc.config.path,
            lock=lambda: flock(os.path.join(svc.layout.locks_dir, "userns-account.lock"),
                               timeout=svc.lock_timeout),
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


def _own_for_userns(svc: ContainerService, cid: str, mapping: t.Any) -> None:
    """What the container's root must reach and own (moby ``setupDaemonRoot``): the path down to its
    directory is traversable (the data root and containers/ get o+x, a parent without it is an error),
    its directory is root:<mapped gid> 0710, and upper/, work/, rootfs/ and the engine-managed files
    belong to the mapped root."""
    layout = svc.layout
    uid, gid = mapping.root_uid, mapping.root_gid
    parent = os.path.dirname(layout.root)
    while True:
        st = os.stat(parent)
        if not st.st_mode & 0o001:
            from ...errors import ConfigError

            raise ConfigError(svc.config.path, "data-root", f"{parent} (above the data root "
                              f"{layout.root}) does not let other users traverse it (o+x): the "
                              f"remapped root {uid}:{gid} of user namespaces could not reach its containers")
        if parent == "/":
            break
        parent = os.path.dirname(parent)
    for d in (layout.root, layout.containers_dir):
        mode = os.stat(d).st_mode & 0o7777
        if mode & 0o011 != 0o011:
            os.chmod(d, mode | 0o011)
    cdir = layout.container_dir(cid)
    os.chown(cdir, 0, gid)
    os.chmod(cdir, 0o710)
    for path in (layout.upper(cid), layout.work(cid), layout.rootfs(cid),
                 *(layout.container_file(cid, n) for n in ("hostname", "hosts", "resolv.conf"))):
        os.chown(path, uid, gid)


# ==================================================================== image, name, files
def _image_for(svc: ContainerService, image_name: str, pull: str, platform: str | None) -> str:
    image_id = _common.local_image(svc, image_name) if pull != "always" else None
    if image_id is not None:
        return image_id
    image_id = svc.images.resolve(image_name)
    if pull == "always" or (image_id is None and pull == "missing"):
        if image_id is not None and "@" in image_name:
            return image_id
        return svc.images.pull(image_name, platform).image_id
    if image_id is None:
        raise NotFound("image", image_name)
    return image_id


def _claim_name(svc: ContainerService, cid: str, name: str | None) -> str:
    """Create ``names/<name>``; the symlink is the atomic uniqueness check."""
    target = os.path.join("..", "containers", cid)
    if name is not None:
        link_name(svc, cid, name)
        return name
    for attempt in range(100):
        r = os.urandom(3)  # not secrets: its import costs ~2 ms and a name needs no secrecy
        candidate = f"{NAME_ADJECTIVES[r[0] % len(NAME_ADJECTIVES)]}_{NAME_NOUNS[r[1] % len(NAME_NOUNS)]}"
        if attempt >= 10:
            candidate += str(r[2] % 100)
        try:
            os.symlink(target, svc.layout.name_link(candidate))
            return candidate
        except FileExistsError:
            continue
    raise EngineError("could not find a free container name")


def _write_files(svc: ContainerService, record: ContainerRecord) -> None:
    """hostname, hosts and resolv.conf (network/dns.py); a bridge container's hosts file gets its address at
    start (services/networks.py rewrites it)."""
    from ...network import hosts_file, resolv_conf

    opts = record.options
    mode = opts.get("network_mode") or "bridge"
    host_net = mode == "host"
    hostname = os.uname().nodename if host_net else (opts.get("hostname") or record.id[:12])
    extra = [(str(k), str(v)) for k, v in (opts.get("etc_hosts") or {}).items()]
    hosts = None
    if host_net:
        try:
            with open("/etc/hosts") as fh:
                hosts = fh.read()
            hosts += "".join(f"{address}\t{name}\n" for name, address in extra)
        except OSError:
            hosts = None
    if hosts is None:
        hosts = hosts_file(hostname, extra_hosts=extra)
    try:
        with open("/etc/resolv.conf") as fh:
            host_resolv = fh.read()
    except OSError:
        host_resolv = ""
    resolv = resolv_conf(host_resolv, not host_net,
                         {"dns": opts.get("dns_servers"), "dns_search": opts.get("dns_search_domains"),
                          "dns_opts": opts.get("dns_opts")},
                         {k: svc.config.get(k) for k in ("dns", "dns-search", "dns-opts")})
    layout = svc.layout
    fs.atomic_write(layout.container_file(record.id, "hostname"), hostname + "\n", fsync=False)
    fs.atomic_write(layout.container_file(record.id, "hosts"), hosts, fsync=False)
    fs.atomic_write(layout.container_file(record.id, "resolv.conf"), resolv, fsync=False)


def _now_rfc3339() -> str:
    """``timefmt.now_rfc3339()`` without its import of datetime (~2 ms on ``berth run``)."""
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + \
        ".%06d000Z" % (ns // 1000 % 1_000_000)


# ==================================================================== secret_env
# A secret's value lives in one place: the bundle's config.json (root-only, 0600), in process.env,
# where the runtime and exec need it. ``create`` writes a bundle holding only that env; every start
# reads the values back before it rebuilds the bundle (start.py). The record keeps seals
# (options.container.seal).
def _write_secrets(svc: ContainerService, cid: str, secrets: t.Mapping[str, str], durable: bool = True) -> None:
    spec = {"process": {"env": [f"{k}={v}" for k, v in secrets.items()]}}
    fs.atomic_write(os.path.join(svc.layout.bundle(cid), "config.json"), cjson.dumps(spec), mode=0o600,
                    fsync=durable)
