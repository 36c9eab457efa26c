# SPDX-License-Identifier: GPL-3.0-or-later
"""Normalised container options + image config -> OCI runtime spec (1.0.2), with Docker's defaults.

The runc ``specconv`` of Berth: a PURE translation, no I/O.  Everything that needs the host is passed
in by the caller (``ContainerService``):

==================  =====================================================================================
``user_db``         ``kind -> text | None`` for ``"passwd"`` and ``"group"``: the container's own
                    ``/etc/passwd`` and ``/etc/group`` (None when the file is missing)
``files``           host paths of the engine-managed files bound into the container:
                    ``hostname``, ``hosts``, ``resolv.conf`` (each optional) and ``shm`` (a host
                    directory for ``/dev/shm`` of a shareable IPC namespace; a tmpfs otherwise)
``base_rlimits``    OCI rlimits the container starts from (``runtime.current_rlimits()``)
``init_path``       host path of the init binary for ``init: true``, bound read-only at
                    :data:`INIT_PATH` (Docker binds docker-init at /sbin/docker-init)
``host_devices``    ``host path -> [device]`` for every path ``devices`` names (a directory lists every
                    device below it); with ``privileged`` the key ``"/dev"`` lists all host devices.
                    A device is ``{"path", "type" ("c"|"b"), "major", "minor", "fileMode", "uid", "gid"}``
``namespace_paths`` ``ns type -> path`` for namespaces joined from another container
                    (``network_mode``/``ipc_mode``/``pid_mode: container:<name>``)
``id_mappings``     ``{"uidMappings": [...], "gidMappings": [...]}``: the container runs in a new user
                    namespace with these maps (the engine's ``userns-remap`` or ``userns_mode: private``;
                    ignored with ``userns_mode: host``). None: no user namespace
``host_hostname``   the host's name, used as the hostname with ``network_mode: host`` (Docker does)
``task_mounts``     the container record's volume, bind and tmpfs mounts (``services/containers/mounts.py``:
                    ``Type``, ``Source``, ``Destination``, ``RW``, ``Propagation``, tmpfs ``Options``)
``arch``/``kernel``/``cap_last``   forwarded to the seccomp profile and capability resolution
==================  =====================================================================================

Docker rules implemented here (docs/dev/runtime-design.md, "Docker defaults"):

* process args: ``entrypoint`` replaces ENTRYPOINT and clears CMD, ``command`` replaces CMD, an empty
  ``entrypoint`` resets ENTRYPOINT and keeps CMD; nothing left -> ``InvalidOption("command", ...)``;
* env: ``PATH`` (default), ``HOSTNAME``, ``TERM=xterm`` with a tty, then the task's env and secret_env
  (the plain values: the service puts them in), then the image's env for keys the task did not set;
  ``HOME`` from passwd when nobody set it;
* user: ``name|uid[:group|gid]`` resolved like runc's ``GetExecUser`` (supplementary groups from
  /etc/group membership unless a group is given; a uid not in passwd is allowed, a name is not),
  plus ``groups`` (Docker's ``--group-add``);
* hostname: the first 12 characters of the ID unless set; ``domainname`` when set;
* mounts: proc, /dev tmpfs, devpts, sysfs (ro), cgroup (ro), mqueue, /dev/shm, then the task's tmpfs
  mounts (Docker's ``noexec,nosuid,nodev,rprivate`` merged with the task's options), /etc binds, init,
  volumes and binds (``rbind`` + propagation, ``ro``), parents before children;
* masked and read-only paths (none when privileged or with ``systempaths=unconfined``);
* capabilities: ``runtime.resolve_caps`` (all when privileged) as bounding/effective/permitted;
* seccomp: ``runtime.default_seccomp_profile(caps)`` unless privileged or ``seccomp=unconfined``;
  a user profile (already parsed by the options) in Docker's or OCI's format;
* device cgroup: deny all, then Docker's/runc's default allow list, then the task's devices
  (allow all when privileged);
* ``linux.resources`` from the resource options (``cpus`` -> period 100000, quota cpus*100000; memory
  without ``memory_swap`` -> swap = 2 x memory, Docker's default);
* ``cgroupsPath`` = ``<cgroup_parent or /berth>/<id>``.
"""
from __future__ import annotations

import posixpath

from ..errors import InvalidOption
from ..runtime import resolve_caps
# the process and the linux parts, re-exported (__all__): callers use spec.resources, spec.exec_process...
from .spec_linux import (
    CPU_PERIOD, DEFAULT_CGROUP_PARENT, DEFAULT_DEVICE_RULES, cgroups_path, device_cgroup_rules, linux_devices,
    namespaces, resources, rlimits, seccomp, user_namespace, user_profile,
)
from .spec_process import (
    DEFAULT_PATH, exec_process, process_args, process_env, resolve_user,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time: ``berth run`` builds a spec (runtime/__init__.py)
    import typing as t

    from .spec_process import UserDb

__all__ = [
    "CPU_PERIOD", "DEFAULT_CGROUP_PARENT", "DEFAULT_DEVICE_RULES", "DEFAULT_PATH", "DEFAULT_SHM_SIZE", "INIT_PATH",
    "MASKED_PATHS", "OCI_VERSION", "READONLY_PATHS", "build", "cgroups_path", "device_cgroup_rules", "exec_process",
    "linux_devices", "merge_tmpfs_options", "namespaces", "process_args", "process_env", "resolve_user", "resources",
    "rlimits", "seccomp", "user_namespace", "user_profile",
]

OCI_VERSION = "1.0.2"
DEFAULT_SHM_SIZE = 64 * 1024 * 1024
#: Where the init binary is bound inside the container (``init: true``).
INIT_PATH = "/sbin/berth-init"

MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
    "/sys/dev/block",  # not in Docker's list: podman masks it (block device numbers and names of the host)
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

_ETC_FILES = (("hostname", "/etc/hostname"), ("hosts", "/etc/hosts"), ("resolv.conf", "/etc/resolv.conf"))
_TMPFS_DEFAULTS = ("noexec", "nosuid", "nodev", "rprivate")
#: tmpfs flags that cancel each other, grouped (Docker's MergeTmpfsOptions keeps the last of a group).
_FLAG_GROUPS = {
    **dict.fromkeys(("ro", "rw"), "rdonly"),
    **dict.fromkeys(("suid", "nosuid"), "nosuid"),
    **dict.fromkeys(("dev", "nodev"), "nodev"),
    **dict.fromkeys(("exec", "noexec"), "noexec"),
    **dict.fromkeys(("sync", "async"), "sync"),
    **dict.fromkeys(("mand", "nomand"), "mand"),
    **dict.fromkeys(("atime", "noatime"), "noatime"),
    **dict.fromkeys(("diratime", "nodiratime"), "nodiratime"),
    **dict.fromkeys(("relatime", "norelatime"), "relatime"),
    **dict.fromkeys(("strictatime", "nostrictatime"), "strictatime"),
    **dict.fromkeys(
        ("private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"), "propagation"
    ),
}


# ====================================================================== the builder
def build(
    options: t.Mapping[str, t.Any],
    image_config: t.Mapping[str, t.Any] | None,
    daemon: t.Any = None,
    *,
    container_id: str,
    rootfs: str,
    files: t.Mapping[str, str] | None = None,
    user_db: UserDb | None = None,
    name: str | None = None,
    base_rlimits: t.Sequence[t.Mapping[str, t.Any]] | None = None,
    init_path: str | None = None,
    host_devices: t.Mapping[str, t.Sequence[t.Mapping[str, t.Any]]] | None = None,
    namespace_paths: t.Mapping[str, str] | None = None,
    id_mappings: t.Mapping[str, t.Sequence[t.Mapping[str, int]]] | None = None,
    host_hostname: str | None = None,
    arch: str | None = None,
    kernel: tuple[int, int] | None = None,
    cap_last: int | None = None,
    task_mounts: t.Sequence[t.Mapping[str, t.Any]] = (),
) -> dict[str, t.Any]:
    """The OCI runtime spec for a container (see the module docstring for the keyword arguments).

    *options* are normalised options (``options.container.normalise_options``); *image_config* is the
    image config's ``config`` section (``Env``, ``Cmd``, ``Entrypoint``, ``User``, ``WorkingDir``...);
    *daemon* is the DaemonConfig (or None for all defaults).  Raises ``InvalidOption`` naming the option.
    """
    opts = options
    img = image_config or {}
    files = files or {}
    privileged = bool(opts.get("privileged"))
    network = opts.get("network_mode") or "none"

    hostname = opts.get("hostname") or ""
    if not hostname:
        hostname = host_hostname if network == "host" and host_hostname else container_id[:12]

    args = process_args(opts, img)
    mounts = _default_mounts(opts, privileged, files)
    if opts.get("init"):
        if not init_path:
            raise InvalidOption("init", True, "no init binary is available on this host")
        args = [INIT_PATH, "--"] + args
        mounts.append(_bind(init_path, INIT_PATH, readonly=True))
    mounts = _with_user_mounts(mounts, opts, files, task_mounts)

    user = resolve_user(opts.get("user") or img.get("User") or "", user_db, opts.get("groups") or ())
    env = process_env(opts, img, hostname=hostname, home=user["home"])

    caps = resolve_caps(opts.get("capabilities"), opts.get("cap_drop"), privileged, last=cap_last)
    security_opts = opts.get("security_opts") or {}
    no_new_privs = security_opts.get("no-new-privileges")
    if no_new_privs is None:
        no_new_privs = bool(_daemon_get(daemon, "no-new-privileges", False))

    process: dict[str, t.Any] = {
        "terminal": bool(opts.get("tty")),
        "user": {"uid": user["uid"], "gid": user["gid"]},
        "args": args,
        "env": env,
        "cwd": opts.get("working_dir") or _image_workdir(img),
        "capabilities": {"bounding": list(caps), "effective": list(caps), "permitted": list(caps)},
        "rlimits": rlimits(opts.get("ulimits"), base_rlimits, _daemon_get(daemon, "default-ulimits", None)),
        "noNewPrivileges": bool(no_new_privs),
        "oomScoreAdj": int(opts.get("oom_score_adj") or 0),
    }
    if user["additional_gids"]:
        process["user"]["additionalGids"] = user["additional_gids"]

    devices = linux_devices(opts, privileged, host_devices)
    userns = user_namespace(opts, id_mappings)
    if userns and (namespace_paths or {}).get("network"):
        # sysfs can only be mounted by the owner of the network namespace, and a bridge container's is the
        # engine's (the host's user namespace): the host's /sys is bound instead, as podman and runc do
        for m in mounts:
            if m["destination"] == "/sys" and m["type"] == "sysfs":
                m.update(type="bind", source="/sys", options=["rbind", "rprivate"] + m["options"])
    linux: dict[str, t.Any] = {
        "namespaces": namespaces(opts, namespace_paths, _daemon_get(daemon, "default-cgroupns-mode", "private"),
                                 user=userns),
        "resources": resources(opts, device_cgroup_rules(opts, privileged, devices)),
        "cgroupsPath": cgroups_path(opts.get("cgroup_parent"), container_id),
    }
    if devices:
        linux["devices"] = devices
    if opts.get("sysctls"):
        linux["sysctl"] = dict(opts["sysctls"])
    if userns:
        linux["uidMappings"] = [dict(m) for m in id_mappings["uidMappings"]]  # type: ignore[index]
        linux["gidMappings"] = [dict(m) for m in id_mappings["gidMappings"]]  # type: ignore[index]
    if not privileged and security_opts.get("systempaths") != "unconfined":
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
    profile = seccomp(security_opts.get("seccomp"), caps, privileged, arch=arch, kernel=kernel)
    if profile is not None:
        linux["seccomp"] = profile

    spec: dict[str, t.Any] = {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": rootfs, "readonly": bool(opts.get("read_only"))},
        "mounts": mounts,
        "linux": linux,
    }
    if opts.get("uts") != "host":
        spec["hostname"] = hostname
        if opts.get("domainname"):
            spec["domainname"] = opts["domainname"]
    container_name = name or opts.get("name")
    if container_name:
        spec["annotations"] = {"berth.container.name": container_name}
    return spec


def _daemon_get(daemon: t.Any, key: str, default: t.Any) -> t.Any:
    """A daemon.json key, or *default* when there is no config or the key is not part of its schema."""
    if daemon is None:
        return default
    try:
        value = daemon.get(key)
    except (KeyError, AttributeError):
        return default
    return default if value is None else value


def _image_workdir(img: t.Mapping[str, t.Any]) -> str:
    wd = img.get("WorkingDir") or ""
    return posixpath.normpath(wd) if wd.startswith("/") else "/"


# ====================================================================== mounts
def _bind(source: str, destination: str, readonly: bool = False) -> dict[str, t.Any]:
    opts = ["rbind", "rprivate"] + (["ro"] if readonly else [])
    return {"destination": destination, "type": "bind", "source": source, "options": opts}


def _default_mounts(opts: t.Mapping[str, t.Any], privileged: bool, files: t.Mapping[str, str]) -> list[dict]:
    sys_ro = [] if privileged else ["ro"]
    mounts: list[dict[str, t.Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev"] + sys_ro},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": sys_ro + ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    ]  # fmt: skip
    ipc = opts.get("ipc_mode") or "private"
    if ipc == "host":
        mounts.append(_bind("/dev/shm", "/dev/shm"))
    elif ipc != "none":
        if files.get("shm"):
            mounts.append(_bind(files["shm"], "/dev/shm"))
        else:
            size = int(opts.get("shm_size") or DEFAULT_SHM_SIZE)
            mounts.append({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                           "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={size}"]})  # fmt: skip
    return mounts


def merge_tmpfs_options(options: t.Sequence[str]) -> list[str]:
    """Docker's MergeTmpfsOptions: the last flag of a conflicting group and the last ``key=`` win."""
    out: list[str] = []
    seen: set[str] = set()
    for option in reversed(options):
        if option == "defaults":
            continue
        key = _FLAG_GROUPS.get(option) or ("=" + option.partition("=")[0] if "=" in option else option)
        if key in seen:
            continue
        seen.add(key)
        out.insert(0, option)
    return out


def _depth(path: str) -> int:
    return len([p for p in path.split("/") if p])


def _task_mount(m: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """A record mount (volume, bind, tmpfs) as an OCI mount."""
    ro = [] if m.get("RW", True) else ["ro"]
    if m["Type"] == "tmpfs":
        words = list(_TMPFS_DEFAULTS) + list(m.get("Options") or ()) + ro
        return {"destination": m["Destination"], "type": "tmpfs", "source": "tmpfs",
                "options": merge_tmpfs_options(words)}
    return {"destination": m["Destination"], "type": "bind", "source": m["Source"],
            "options": ["rbind", m.get("Propagation") or "rprivate"] + ro}


def _with_user_mounts(mounts: list[dict], opts: t.Mapping[str, t.Any], files: t.Mapping[str, str],
                      task_mounts: t.Sequence[t.Mapping[str, t.Any]] = ()) -> list[dict]:
    """Defaults not overridden by the task's mounts, then the task's mounts, parents before children."""
    extra: list[dict[str, t.Any]] = [m for m in mounts if m["destination"] == INIT_PATH]
    base = [m for m in mounts if m["destination"] != INIT_PATH]
    for path, data in (opts.get("tmpfs") or {}).items():
        words = list(_TMPFS_DEFAULTS) + [w for w in data.split(",") if w]
        extra.append({"destination": path, "type": "tmpfs", "source": "tmpfs", "options": merge_tmpfs_options(words)})
    readonly = bool(opts.get("read_only"))
    for key, destination in _ETC_FILES:
        if files.get(key):
            extra.append(_bind(files[key], destination, readonly=readonly))
    extra += [_task_mount(m) for m in task_mounts]
    taken = {m["destination"] for m in extra}
    kept = [m for m in base if m["destination"] not in taken]
    return kept + sorted(extra, key=lambda m: _depth(m["destination"]))
