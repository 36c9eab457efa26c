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
  mounts (Docker's ``noexec,nosuid,nodev,rprivate`` merged with the task's options), /etc binds, init;
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
from _collections_abc import Mapping  # what typing.Mapping checks, without importing typing or collections

from ..core.accounts import parse_group, parse_passwd
from ..errors import InvalidOption
from ..runtime import (
    RLIM_INFINITY, SECCOMP_ARCHITECTURES, all_caps, default_seccomp_profile, kernel_version, memory_swap_total,
    native_arch, resolve_caps,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time: ``berth run`` builds a spec (runtime/__init__.py)
    import typing as t

    UserDb = t.Callable[[str], t.Optional[str]]

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_CGROUP_PARENT = "/berth"
DEFAULT_SHM_SIZE = 64 * 1024 * 1024
#: Where the init binary is bound inside the container (``init: true``).
INIT_PATH = "/sbin/berth-init"
CPU_PERIOD = 100_000  # microseconds, Docker's period for --cpus

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

#: Docker's default device cgroup: deny everything, then allow mknod of any node and the usual devices.
DEFAULT_DEVICE_RULES: tuple[dict[str, t.Any], ...] = (
    {"allow": False, "access": "rwm"},
    {"allow": True, "type": "c", "access": "m"},
    {"allow": True, "type": "b", "access": "m"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},  # /dev/null
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},  # /dev/zero
    {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"},  # /dev/full
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},  # /dev/random
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},  # /dev/urandom
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},  # /dev/tty
    {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},  # /dev/console
    {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},  # /dev/ptmx
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},  # /dev/pts/*
    {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"},  # /dev/net/tun
)

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
    mounts = _with_user_mounts(mounts, opts, files)

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


# ====================================================================== process
def process_args(options: t.Mapping[str, t.Any], image_config: t.Mapping[str, t.Any]) -> list[str]:
    """Docker's ENTRYPOINT/CMD combination (daemon ``merge`` + ``getEntrypointAndArgs``)."""
    entrypoint = options.get("entrypoint")
    command = options.get("command")
    if entrypoint is None:
        entrypoint = list(image_config.get("Entrypoint") or [])
        if not command:
            command = list(image_config.get("Cmd") or [])
    elif not entrypoint and not command:
        command = list(image_config.get("Cmd") or [])  # an empty entrypoint resets it and keeps CMD
    args = list(entrypoint or []) + list(command or [])
    if not args or not args[0]:
        raise InvalidOption("command", command, "no command specified: the image has no CMD or ENTRYPOINT; set command")
    return args


def _env_key(item: str) -> str:
    return item.partition("=")[0]


def _replace_or_append(env: list[str], more: t.Iterable[str]) -> list[str]:
    """Docker's ReplaceOrAppendEnvValues: same key replaces in place, new keys are appended."""
    out = list(env)
    index = {_env_key(e): i for i, e in enumerate(out)}
    for item in more:
        key = _env_key(item)
        if key in index:
            out[index[key]] = item
        else:
            index[key] = len(out)
            out.append(item)
    return out


def process_env(
    options: t.Mapping[str, t.Any], image_config: t.Mapping[str, t.Any], *, hostname: str, home: str
) -> list[str]:
    """``PATH``, ``HOSTNAME``, ``TERM`` (tty), then the task's env and secret_env (plain values here), then
    the image's env, then ``HOME``."""
    config_env = [f"{k}={v}" for k, v in (options.get("env") or {}).items()]
    config_env += [f"{k}={v}" for k, v in (options.get("secret_env") or {}).items()]
    mine = {_env_key(e) for e in config_env}
    config_env += [str(e) for e in image_config.get("Env") or [] if _env_key(str(e)) not in mine]
    base = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}"]
    if options.get("tty"):
        base.append("TERM=xterm")
    env = _replace_or_append(base, config_env)
    if "HOME" not in {_env_key(e) for e in env}:
        env.append(f"HOME={home}")
    return env


def exec_process(
    spec: t.Mapping[str, t.Any],
    command: t.Sequence[str],
    *,
    user: str | None = None,
    env: t.Mapping[str, str] | None = None,
    workdir: str | None = None,
    tty: bool = False,
    privileged: bool = False,
    user_db: UserDb | None = None,
    cap_last: int | None = None,
) -> dict[str, t.Any]:
    """The OCI ``process`` of ``docker exec`` in a container started from *spec*.

    Inherits the container's process (env, cwd, user, capabilities, rlimits, no_new_privs); *user*
    is resolved against the container's files (*user_db*, with HOME following the user), *env* replaces
    or extends the environment, ``TERM=xterm`` is added for a tty, *privileged* grants every capability.
    """
    base = spec.get("process") or {}
    args = [str(a) for a in command]
    if not args or not args[0]:
        raise InvalidOption("command", list(command), "no command specified")
    if workdir and not workdir.startswith("/"):
        raise InvalidOption("chdir", workdir, "the working directory must be an absolute path")
    proc_env = list(base.get("env") or [])
    if tty and "TERM" not in {_env_key(e) for e in proc_env}:
        proc_env.append("TERM=xterm")
    process: dict[str, t.Any] = {
        "terminal": bool(tty),
        "user": dict(base.get("user") or {"uid": 0, "gid": 0}),
        "args": args,
        "env": proc_env,
        "cwd": posixpath.normpath(workdir) if workdir else base.get("cwd") or "/",
        "noNewPrivileges": bool(base.get("noNewPrivileges")),
    }
    if user:
        resolved = resolve_user(user, user_db)
        process["user"] = {"uid": resolved["uid"], "gid": resolved["gid"]}
        if resolved["additional_gids"]:
            process["user"]["additionalGids"] = resolved["additional_gids"]
        process["env"] = _replace_or_append(process["env"], [f"HOME={resolved['home']}"])
    if env:
        process["env"] = _replace_or_append(process["env"], [f"{k}={v}" for k, v in env.items()])
    if privileged:
        caps = all_caps(cap_last)
        process["capabilities"] = {"bounding": list(caps), "effective": list(caps), "permitted": list(caps)}
    elif base.get("capabilities") is not None:
        process["capabilities"] = {k: list(v) for k, v in base["capabilities"].items()}
    for key in ("rlimits", "oomScoreAdj", "apparmorProfile"):
        if base.get(key) is not None:
            process[key] = base[key]
    return process


# ====================================================================== user and groups
_MAX_ID = 2**31 - 1


def _numeric(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def resolve_user(spec: str, user_db: UserDb | None, extra_groups: t.Iterable[str] = ()) -> dict[str, t.Any]:
    """runc's ``GetExecUser`` (defaults uid 0, gid 0, HOME /) plus Docker's ``--group-add``.

    Returns ``{"uid", "gid", "additional_gids", "home"}``; a user or group *name* that the container's
    files do not know raises ``InvalidOption("user"/"groups", ...)``; numeric IDs need no entry.
    """
    read = user_db or (lambda _kind: None)
    passwd = parse_passwd(read("passwd"))
    group = parse_group(read("group"))
    user_part, _sep, group_part = spec.partition(":")
    uid_arg, gid_arg = _numeric(user_part), _numeric(group_part)
    uid, gid, home, sgids = 0, 0, "/", []

    if user_part:
        found = [u for u in passwd if (u.id == uid_arg if uid_arg is not None else u.name == user_part)]
    else:
        found = [u for u in passwd if u.id == 0]
    matched = ""
    if found:
        matched, uid, gid, home = found[0].name, found[0].id, found[0].gid, found[0].home or "/"
    elif user_part:
        if uid_arg is None:
            raise InvalidOption("user", spec, f"no user {user_part!r} in the container's /etc/passwd")
        if uid_arg > _MAX_ID:
            raise InvalidOption("user", spec, "the uid is out of range")
        uid = uid_arg

    if group_part:
        hits = [g for g in group if (g.id == gid_arg if gid_arg is not None else g.name == group_part)]
        if hits:
            gid = hits[0].id
        elif gid_arg is None:
            raise InvalidOption("user", spec, f"no group {group_part!r} in the container's /etc/group")
        elif gid_arg > _MAX_ID:
            raise InvalidOption("user", spec, "the gid is out of range")
        else:
            gid = gid_arg
    elif matched:
        sgids = [g.id for g in group if matched in g.members]

    for item in extra_groups:
        number = _numeric(str(item))
        if number is not None:
            sgids.append(number)
            continue
        hits = [g for g in group if g.name == item]
        if not hits:
            raise InvalidOption("groups", item, "no such group in the container's /etc/group")
        sgids.append(hits[0].id)
    unique: list[int] = []
    for g in sgids:
        if g not in unique:
            unique.append(g)
    return {"uid": uid, "gid": gid, "additional_gids": unique, "home": home}


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


def _with_user_mounts(mounts: list[dict], opts: t.Mapping[str, t.Any], files: t.Mapping[str, str]) -> list[dict]:
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
    taken = {m["destination"] for m in extra}
    kept = [m for m in base if m["destination"] not in taken]
    return kept + sorted(extra, key=lambda m: _depth(m["destination"]))


# ====================================================================== namespaces, resources, devices
def user_namespace(
    opts: t.Mapping[str, t.Any], id_mappings: t.Mapping[str, t.Sequence[t.Mapping[str, int]]] | None
) -> bool:
    """Whether the container gets a user namespace: maps were given and ``userns_mode`` is not ``host``.
    ``userns_mode: private`` without maps is an error naming the option."""
    mode = opts.get("userns_mode") or ""
    if mode == "host":
        return False
    has_maps = bool(id_mappings and id_mappings.get("uidMappings") and id_mappings.get("gidMappings"))
    if mode == "private" and not has_maps:
        raise InvalidOption("userns_mode", "private", "no subordinate user and group ID ranges are configured")
    return has_maps


def namespaces(
    opts: t.Mapping[str, t.Any], paths: t.Mapping[str, str] | None = None, cgroupns: str = "private",
    user: bool | None = None,
) -> list[dict[str, str]]:
    """pid, network, ipc, uts, mount, cgroup (+ user): new, joined by path, or the host's (left out).
    *user*: a new user namespace (default: ``userns_mode`` is ``private``)."""
    paths = paths or {}
    out: list[dict[str, str]] = []

    def add(kind: str, mode: str, field: str) -> None:
        if mode == "host":
            return
        if mode.startswith("container:"):
            if not paths.get(kind):
                raise InvalidOption(
                    field, mode, f"the {kind} namespace of {mode[10:]} is not available (is it running?)"
                )
            out.append({"type": kind, "path": paths[kind]})
            return
        out.append({"type": kind})

    add("pid", opts.get("pid_mode") or "", "pid_mode")
    add("network", opts.get("network_mode") or "none", "network_mode")
    add("ipc", opts.get("ipc_mode") or "private", "ipc_mode")
    add("uts", opts.get("uts") or "", "uts")
    out.append({"type": "mount"})
    if cgroupns != "host":
        out.append({"type": "cgroup"})
    if user if user is not None else opts.get("userns_mode") == "private":
        out.append({"type": "user"})
    return out


def cgroups_path(parent: str | t.Mapping[str, t.Any] | None, container_id: str) -> str:
    """``<cgroup_parent or /berth>/<id>``; *parent* is the option's value or the options mapping."""
    if isinstance(parent, Mapping):
        parent = parent.get("cgroup_parent")
    return posixpath.join(parent or DEFAULT_CGROUP_PARENT, container_id)


def resources(
    opts: t.Mapping[str, t.Any], device_rules: list[dict[str, t.Any]] | None = None
) -> dict[str, t.Any]:
    """``linux.resources`` from the resource options (only what is set).

    Without *device_rules* the result has no ``devices`` key: what ``ContainerService.update`` applies
    to a running container (an update never changes device access).
    """
    res: dict[str, t.Any] = {} if device_rules is None else {"devices": device_rules}
    memory: dict[str, t.Any] = {}
    limit = opts.get("memory") or 0
    if limit:
        memory["limit"] = limit
    if opts.get("memory_reservation"):
        memory["reservation"] = opts["memory_reservation"]
    swap = memory_swap_total(limit, opts.get("memory_swap"))
    if swap:
        memory["swap"] = swap
    if opts.get("oom_killer"):
        memory["disableOOMKiller"] = True
    if memory:
        res["memory"] = memory
    cpu: dict[str, t.Any] = {}
    if opts.get("cpu_shares"):
        cpu["shares"] = opts["cpu_shares"]
    if opts.get("cpus"):
        cpu["period"] = CPU_PERIOD
        cpu["quota"] = opts["cpus"] * CPU_PERIOD // 10**9
    else:
        if opts.get("cpu_period"):
            cpu["period"] = opts["cpu_period"]
        if opts.get("cpu_quota"):
            cpu["quota"] = opts["cpu_quota"]
    if opts.get("cpuset_cpus"):
        cpu["cpus"] = opts["cpuset_cpus"]
    if opts.get("cpuset_mems"):
        cpu["mems"] = opts["cpuset_mems"]
    if cpu:
        res["cpu"] = cpu
    if (opts.get("pids_limit") or 0) > 0:
        res["pids"] = {"limit": opts["pids_limit"]}
    if opts.get("blkio_weight"):
        res["blockIO"] = {"weight": opts["blkio_weight"]}
    return res


def _device_rules(opts: t.Mapping[str, t.Any], privileged: bool) -> list[dict[str, t.Any]]:
    if privileged:
        return [{"allow": True, "access": "rwm"}]
    return [dict(r) for r in DEFAULT_DEVICE_RULES]


def linux_devices(
    opts: t.Mapping[str, t.Any],
    privileged: bool,
    host_devices: t.Mapping[str, t.Sequence[t.Mapping[str, t.Any]]] | None,
) -> list[dict[str, t.Any]]:
    """``linux.devices`` for the task's devices (all host devices when privileged)."""
    host_devices = host_devices or {}
    out: dict[str, dict[str, t.Any]] = {}
    if privileged:
        for dev in host_devices.get("/dev", ()):
            out[dev["path"]] = _device(dev, dev["path"])
    for item in opts.get("devices") or ():
        src, dst = item["path_on_host"], item["path_in_container"]
        found = host_devices.get(src)
        if not found:
            raise InvalidOption("devices", f"{src}:{dst}", "no such device on the host")
        for dev in found:
            rel = posixpath.relpath(dev["path"], src)
            path = dst if rel == "." else posixpath.join(dst, rel)
            out[path] = _device(dev, path)
    return [out[k] for k in sorted(out)]


def _device(dev: t.Mapping[str, t.Any], path: str) -> dict[str, t.Any]:
    if dev.get("type") not in ("c", "b", "u", "p"):
        raise InvalidOption("devices", dev.get("path"), "not a character or block device")
    entry = {"path": path, "type": dev["type"], "major": int(dev["major"]), "minor": int(dev["minor"])}
    for key in ("fileMode", "uid", "gid"):
        if dev.get(key) is not None:
            entry[key] = int(dev[key])
    return entry


def device_cgroup_rules(
    opts: t.Mapping[str, t.Any], privileged: bool, devices: t.Sequence[t.Mapping[str, t.Any]]
) -> list[dict[str, t.Any]]:
    """The device cgroup list: defaults (or allow-all) plus an allow rule per task device."""
    rules = _device_rules(opts, privileged)
    if privileged:
        return rules
    perms = {d["path_in_container"]: d["cgroup_permissions"] for d in opts.get("devices") or ()}
    for dev in devices:
        access = next((p for base, p in perms.items() if dev["path"] == base or dev["path"].startswith(base + "/")),
                      "rwm")
        rules.append({"allow": True, "type": dev["type"], "major": dev["major"], "minor": dev["minor"],
                      "access": access})
    return rules


# ====================================================================== rlimits and seccomp
def rlimits(
    ulimits: t.Sequence[t.Mapping[str, t.Any]] | None,
    base: t.Sequence[t.Mapping[str, t.Any]] | None,
    daemon_defaults: t.Mapping[str, t.Any] | None = None,
) -> list[dict[str, t.Any]]:
    """The caller's limits, overridden by daemon.json ``default-ulimits``, overridden by ``ulimits``."""
    out: dict[str, dict[str, t.Any]] = {}
    for rl in base or ():
        out[rl["type"]] = {"type": rl["type"], "soft": int(rl["soft"]), "hard": int(rl["hard"])}

    def put(name: str, soft: int, hard: int) -> None:
        kind = "RLIMIT_" + name.upper()
        out[kind] = {"type": kind, "soft": _oci_limit(soft), "hard": _oci_limit(hard)}

    for name, value in (daemon_defaults or {}).items():
        if isinstance(value, Mapping):
            put(str(value.get("Name") or name), int(value.get("Soft", 0)), int(value.get("Hard", 0)))
    for ul in ulimits or ():
        put(ul["name"], ul["soft"], ul["hard"])
    return [out[k] for k in sorted(out)]


def _oci_limit(value: int) -> int:
    return RLIM_INFINITY if value < 0 else value


def seccomp(
    setting: t.Any,
    caps: t.Sequence[str],
    privileged: bool,
    *,
    arch: str | None = None,
    kernel: tuple[int, int] | None = None,
) -> dict[str, t.Any] | None:
    """``linux.seccomp``: None when privileged or unconfined, Docker's default, or the user's profile."""
    if privileged or setting == "unconfined":
        return None
    if setting is None:
        return default_seccomp_profile(caps, arch, kernel=kernel)
    if not isinstance(setting, Mapping):
        raise InvalidOption("security_opts", f"seccomp={setting}", "the seccomp profile was not loaded")
    return user_profile(setting, caps, arch=arch, kernel=kernel)


def user_profile(
    profile: t.Mapping[str, t.Any],
    caps: t.Sequence[str],
    *,
    arch: str | None = None,
    kernel: tuple[int, int] | None = None,
) -> dict[str, t.Any]:
    """A user seccomp profile -> OCI ``linux.seccomp``.

    Accepts Docker's format (``archMap``, ``syscalls[].name|names``, ``includes``/``excludes`` on
    ``caps``, ``arches`` and ``minKernel``), evaluated like Docker's ``setupSeccomp``, and the OCI format.
    """
    goarch = native_arch(arch)
    held = {c.upper() for c in caps}
    kver = kernel if kernel is not None else kernel_version()
    out: dict[str, t.Any] = {"defaultAction": profile["defaultAction"]}
    for key in ("defaultErrnoRet", "listenerPath", "listenerMetadata", "flags"):
        if profile.get(key) is not None:
            out[key] = profile[key]
    if profile.get("archMap"):
        native = SECCOMP_ARCHITECTURES.get(goarch, ())
        arches: list[str] = []
        for entry in profile["archMap"]:
            if native and entry.get("architecture") == native[0]:
                arches = [entry["architecture"]] + list(entry.get("subArchitectures") or [])
        out["architectures"] = arches
    elif profile.get("architectures"):
        out["architectures"] = list(profile["architectures"])
    syscalls = []
    for i, rule in enumerate(profile.get("syscalls") or []):
        if not _conditions_hold(rule.get("includes") or {}, held, goarch, kver, include=True):
            continue
        if rule.get("excludes") and _conditions_hold(rule["excludes"], held, goarch, kver, include=False):
            continue
        names = list(rule.get("names") or ([rule["name"]] if rule.get("name") else []))
        if not names or not rule.get("action"):
            raise InvalidOption("security_opts", f"syscalls[{i}]", "a seccomp rule needs names and an action")
        entry: dict[str, t.Any] = {"names": names, "action": rule["action"]}
        for key in ("errnoRet", "args"):
            if rule.get(key) is not None:
                entry[key] = rule[key]
        syscalls.append(entry)
    out["syscalls"] = syscalls
    return out


def _conditions_hold(
    cond: t.Mapping[str, t.Any], held: set[str], goarch: str, kver: tuple[int, int], *, include: bool
) -> bool:
    """includes: every condition holds; excludes: any condition holds (Docker's semantics)."""
    checks = []
    if cond.get("caps"):
        caps = [c.upper() if c.upper().startswith("CAP_") else "CAP_" + c.upper() for c in cond["caps"]]
        checks.append(all(c in held for c in caps) if include else any(c in held for c in caps))
    if cond.get("arches"):
        checks.append(goarch in cond["arches"])
    if cond.get("minKernel"):
        major, _dot, minor = str(cond["minKernel"]).partition(".")
        want = (int(major or 0), int((minor.split(".")[0] or 0)))
        checks.append(kver >= want)
    if not checks:
        return include
    return all(checks) if include else any(checks)
