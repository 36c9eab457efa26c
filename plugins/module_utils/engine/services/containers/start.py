# SPDX-License-Identifier: GPL-3.0-or-later
"""``start`` and ``run``: mount the rootfs, write the OCI bundle, hand the container to its monitor.

The guard comes first: a container that is running (paused, restarting) already is left alone, as Docker
does; any other state that cannot start fails with ``InvalidState`` (``lifecycle.require``). On the start
path of ``berth run``: no typing, json, re or dataclasses at import time, imports inside the functions
that need them (docs/dev/runtime-design.md, "Start path").
"""
from __future__ import annotations

import os

from ...core import fs
from ...core.locks import flock
from ...errors import Conflict, InvalidOption, NotFound
from ...options import container as copts
from ...core import cjson
from ...supervisor import ContainerStatus, lifecycle
from . import _common, records
from .records import ContainerRecord, RunResult

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    from .records import Stdio
    from .service import ContainerService

#: Docker's ``--init`` runs its bundled tini; Berth uses the host's static tini (Debian package ``tini``).
INIT_BINARIES = ("/usr/bin/tini-static", "/usr/local/bin/tini-static", "/sbin/tini-static")
#: the states in which a start is a no-op (a start that raced another one)
ACTIVE = (ContainerStatus.RUNNING, ContainerStatus.PAUSED, ContainerStatus.RESTARTING)


def start(svc: ContainerService, name: str, stdio: Stdio | None = None, spec: dict[str, t.Any] | None = None) -> t.Any:
    """Start a created or exited container; returns the monitor handle (for attached callers), None
    when it was running already: a start that raced another one is a no-op, as in Docker. *spec*: the
    bundle's spec when the caller built it a moment ago (``run``: ``create`` did)."""
    cid = records.require(svc, name)
    path = svc.layout.start_lock(cid)
    try:
        # Held until the container runs (the monitor's "started"): a second start waits here, then
        # finds it running. The container lock cannot do that: the starter takes it to create.
        with flock(path, timeout=svc.lock_timeout):
            return _start(svc, cid, stdio, spec)
    except FileNotFoundError as exc:
        if exc.filename != path:
            raise
        raise NotFound("container", name) from None


def _start(svc: ContainerService, cid: str, stdio: Stdio | None, spec: dict[str, t.Any] | None = None) -> t.Any:
    from ...supervisor import prefork

    record = records.load(svc, cid)
    if records.state(svc, cid).status in ACTIVE:
        return None
    attach = None
    if stdio is not None:
        attach = {"stdin": stdio.stdin, "stdout": stdio.stdout, "stderr": stdio.stderr, "tty": stdio.tty}
        keys = stdio.escape_keys()
        if keys:
            attach["detach_keys"] = keys.hex()
    # The monitor and its starter are forked first: the monitor's interpreter starts and the starter
    # imports the runtime while we mount the rootfs and write the bundle (on another core); go()
    # lets the starter create the container once that is done, cancel() ends them untouched.
    pre = prefork(svc.layout, cid, runtime=_common.runtime_for(svc, record.runtime), attach=attach)
    try:
        with lifecycle.locked(svc.layout, cid, svc.lock_timeout):
            state = records.state(svc, cid)
            if state.status in ACTIVE:
                pre.cancel()
                return None
            lifecycle.require(state.status, "start", name=record.name)
            _prepare(svc, record, spec)
            new = state.replace(manually_stopped=False, error="")
            if new != state:
                lifecycle.save(svc.layout, cid, new)
    except BaseException:
        pre.cancel()
        raise
    try:
        handle = pre.go()
    except BaseException:
        lifecycle.unmount_below(svc.layout.rootfs(cid), include_self=True)
        raise
    _common.event(svc, "start", record)
    return handle


def run(
    svc: ContainerService,
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
    from .create import create_with_spec

    opts = dict(options)
    if remove:
        opts["auto_remove"] = True
    cid, spec = create_with_spec(svc, opts, name=name, pull=pull, check_ports=False)
    record = records.load(svc, cid)
    _common.event(svc, "create", record)
    if str(record.options.get("network_mode") or "").startswith("container:"):
        spec = None  # the other container's namespace is looked up at the start (_shared_netns)
    try:
        handle = start(svc, cid, stdio=None if detach else stdio, spec=spec)
    except Conflict:
        svc.remove(cid, force=True)  # a host port that is taken: nothing of the run is left (create checks too)
        raise
    except BaseException:
        if remove:
            svc.remove(cid, force=True)
        raise
    if on_start is not None and handle is not None:
        on_start(cid, handle.monitor_pid)
    if detach:
        return RunResult(cid, record.name, None)
    code = wait_attached(handle)
    if remove and code is not None and record.mounts:
        # --rm takes the container's anonymous volumes too (docker does); the monitor removed the container
        # before it reported the exit. A detached --rm container's monitor leaves them marked for the volume
        # component to remove (lifecycle.orphan_volumes).
        from ...supervisor import anonymous_volumes
        from .mounts import remove_anonymous

        remove_anonymous(svc, anonymous_volumes(record.mounts))
    return RunResult(cid, record.name, code)


def wait_attached(handle: t.Any) -> int | None:
    """The exit code of a container started with *stdio* (after all its output was delivered); None when
    the caller typed the detach keys (the container runs on)."""
    from ...supervisor import wait_exit

    return wait_exit(handle)


def restore(svc: ContainerService) -> list[str]:
    """After a reboot: start the containers whose restart policy says they should run, as dockerd does
    when it starts: ``always`` ones even when they were stopped by hand, ``unless-stopped`` ones only
    when they were not, ``on-failure`` ones that did not exit 0."""
    started = []
    for cid, record, state in records.each(svc):
        policy = record.options.get("restart_policy") or "no"
        if state.status.active or policy == "no":
            continue
        if policy == "unless-stopped" and state.manually_stopped:
            continue
        if policy == "on-failure" and state.exit_code == 0:
            continue
        start(svc, cid)
        started.append(cid)
    return started


# ==================================================================== the rootfs and the bundle
def _prepare(svc: ContainerService, record: ContainerRecord, spec: dict[str, t.Any] | None = None) -> None:
    """Mount the rootfs and write the OCI bundle (rebuilt at every start, as Docker does; *spec*: the one
    ``create`` built a moment ago, for ``run``)."""
    from ...supervisor import overlay
    from ...runtime import LinuxSyscalls

    layout = svc.layout
    cid = record.id
    bridged = copts.uses_bridge(record.options)
    # not earlier: no thread may run while the monitor and its starter are forked (prefork): a child would
    # inherit the import lock the thread holds, and hang at its first import
    preload = None
    if bridged and not os.path.ismount(layout.container_file(cid, "netns")):
        preload = _preload_pyroute2()
    # before anything is mounted: a lost secret fails the start (a *spec* holds them already)
    secrets = _secret_values(svc, record) if spec is None else None
    idmapped = bool(record.userns) and _common.idmap_supported(svc)
    lower = _common.layers_of(svc, record, shifted=not idmapped)
    rootfs = layout.rootfs(cid)
    if not overlay.is_mounted(rootfs):
        empty = fs.ensure_dir(os.path.join(layout.root, "empty"), 0o755)
        syscalls = LinuxSyscalls()
        mounter = syscalls
        if record.options.get("auto_remove"):
            mounter = VolatileOverlay(mounter, layout.work(cid))

        def mount(layers: list[str], base: str | None = None) -> None:
            overlay.mount_rootfs(mounter, layout.root, layers, layout.upper(cid), layout.work(cid),
                                 rootfs, empty, base=base)

        if idmapped:
            from ...supervisor import idmap

            where = os.path.join(layout.container_dir(cid), "idmapped")
            try:
                with _common.idmapped_layers(syscalls, record, lower, where) as mapped:
                    mount(mapped, base=where)
            except OSError as exc:
                if exc.errno not in idmap.UNSUPPORTED:
                    raise
                idmap.forget(layout)  # probed as working, refused now: probe again next time
                mount(_common.layers_of(svc, record))  # the shifted copies
        else:
            mount(lower)
    if record.mounts:
        from .mounts import prepare

        prepare(svc, record, rootfs)
    if bridged:
        if preload is not None:
            preload.join()
        _setup_network(svc, record)
    if spec is None:
        options = record.options
        if secrets:
            options = {**options, "secret_env": secrets}
        spec = bundle_spec(svc, cid, record.name, options, _common.image_config(svc, record.image),
                           record.userns, lambda kind: _common.read_in_rootfs(rootfs, f"/etc/{kind}"), record.mounts,
                           starting=True)
    # compact (the C encoder: indent=2 through json.dumps costs ~1 ms for a spec), no fsync: it is
    # written again at every start
    fs.atomic_write(os.path.join(layout.bundle(cid), "config.json"), cjson.dumps(spec),
                    mode=0o600, fsync=False)


def bundle_spec(svc: ContainerService, cid: str, name: str, options: t.Mapping[str, t.Any],
                image: t.Mapping[str, t.Any], userns: t.Mapping[str, t.Any] | None,
                user_db: t.Callable[[str], str | None],
                mounts: t.Sequence[t.Mapping[str, t.Any]] = (), starting: bool = False) -> dict[str, t.Any]:
    """The OCI spec of the bundle (supervisor/spec.py ``build``): built at create, which fails on what
    would fail the start (``user: nosuchuser``), and again at every start (*starting*), from the container's
    own files. *options* hold the plain ``secret_env`` values, *image* is the image's config, *user_db*
    reads ``/etc/passwd`` and ``/etc/group`` (from the image layers at create, the mounted rootfs at
    start), *mounts* the record's volume, bind and tmpfs mounts."""
    from ...supervisor import spec as specmod
    from ...runtime import current_rlimits

    layout = svc.layout
    files = {n: layout.container_file(cid, n) for n in ("hostname", "hosts", "resolv.conf")}
    namespace_paths = {"network": layout.container_file(cid, "netns")} if copts.uses_bridge(options) else None
    mode = options.get("network_mode") or ""
    if mode.startswith("container:"):
        target, path = _shared_netns(svc, mode, starting)
        namespace_paths = {"network": path}
        # Docker's rule: the container sees the other one's hosts and resolv.conf
        files.update({n: layout.container_file(target, n) for n in ("hosts", "resolv.conf")
                      if os.path.exists(layout.container_file(target, n))})
    return specmod.build(
        _common.applicable(options),
        image.get("config") or {},
        svc.config,
        container_id=cid,
        rootfs=layout.rootfs(cid),
        files=files,
        user_db=user_db,
        name=name,
        base_rlimits=current_rlimits(),
        init_path=_init_path() if options.get("init") else None,
        host_devices=_host_devices(options),
        id_mappings=userns,
        host_hostname=os.uname().nodename,
        task_mounts=mounts,
        namespace_paths=namespace_paths,
    )


def _shared_netns(svc: ContainerService, mode: str, starting: bool) -> tuple[str, str]:
    """``network_mode: container:<name>``: the other container's ID and the path of its network namespace:
    the engine-made ``netns`` file of a bridge container, else ``/proc/<pid>/ns/net`` while it runs. At
    create it must exist; at start it must run (InvalidOption naming network_mode otherwise)."""
    name = mode[len("container:"):]
    target = records.lookup(svc, name)
    if target is None:
        raise InvalidOption("network_mode", mode, f"no such container: {name}")
    netns = svc.layout.container_file(target, "netns")
    if os.path.ismount(netns):
        return target, netns
    current = records.state(svc, target)
    if current.status in (ContainerStatus.RUNNING, ContainerStatus.PAUSED) and current.pid:
        return target, f"/proc/{current.pid}/ns/net"
    if not starting:
        return target, netns  # create: the start looks again
    raise InvalidOption("network_mode", mode, f"container {name} is not running")


def _preload_pyroute2() -> t.Any:
    """Import pyroute2 in a thread (~80-170 ms, most of the bridge start path) while this one mounts the
    rootfs; returns the thread (joined before the namespace is wired)."""
    import threading

    def load() -> None:
        try:
            from ...network import import_pyroute2

            import_pyroute2()
        except Exception:  # noqa: BLE001  (the setup itself reports a missing pyroute2)
            pass

    thread = threading.Thread(target=load, name="berth-pyroute2", daemon=True)
    thread.start()
    return thread


def _setup_network(svc: ContainerService, record: ContainerRecord) -> None:
    """The container's network namespace, veths, addresses, ports and hosts file (a restart keeps them)."""
    opts = record.options
    exposed: list[str] = []
    if opts.get("publish_all_ports"):
        exposed = list((_common.image_config(svc, record.image).get("config") or {}).get("ExposedPorts") or {})
    svc.networks.setup_container(record.id, record.name, opts, opts.get("hostname") or record.id[:12], exposed)


def _secret_values(svc: ContainerService, record: ContainerRecord) -> dict[str, str]:
    """The plain ``secret_env`` values of *record*, from its bundle, each checked against its seal (create.py
    wrote them there)."""
    sealed = record.options.get("secret_env") or {}
    if not sealed:
        return {}
    spec = fs.read_json(os.path.join(svc.layout.bundle(record.id), "config.json")) or {}
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


class VolatileOverlay:
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
