# SPDX-License-Identifier: GPL-3.0-or-later
"""The container's file system view, as named steps (runc ``rootfs_linux.go``).

Called by :func:`init.container_init`, in this order, inside the new mount namespace:

1. :func:`prepare_root`: ``/`` becomes rslave (or the spec's ``rootfsPropagation``), the rootfs is bound
   onto itself unless it already is a mount point (pivot_root needs a mount point);
2. :func:`mount_all`: the spec's mounts in order (:func:`mount_entry`), targets created *inside* the
   rootfs (:func:`secure_join` resolves symlinks against the rootfs, never outside it);
3. :func:`create_devices`, :func:`setup_ptmx`, :func:`dev_symlinks` (when /dev is not a bind mount);
4. :func:`pivot_root` (``pivot_root(".", ".")`` then ``umount2(".", MNT_DETACH)``) or, for
   ``--no-pivot``, :func:`move_root`;
5. after the pivot: :func:`readonly_root`, :func:`readonly_paths`, :func:`mask_paths`.

Every kernel call goes through the injected ``Syscalls``; file creation inside the rootfs uses ``os``.
"""
from __future__ import annotations

import os
import stat as _stat

from . import syscalls as sc
from .mountinfo import unescape

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t  # noqa: F401
    from .syscalls import Syscalls

#: mount option -> (clears the flag?, flag). Everything else is file-system data ("mode=755").
MOUNT_OPTIONS = {
    "async": (True, sc.MS_SYNCHRONOUS),
    "atime": (True, sc.MS_NOATIME),
    "bind": (False, sc.MS_BIND),
    "defaults": (False, 0),
    "dev": (True, sc.MS_NODEV),
    "diratime": (True, sc.MS_NODIRATIME),
    "dirsync": (False, sc.MS_DIRSYNC),
    "exec": (True, sc.MS_NOEXEC),
    "iversion": (False, 1 << 23),
    "lazytime": (False, sc.MS_LAZYTIME),
    "loud": (True, sc.MS_SILENT),
    "mand": (False, sc.MS_MANDLOCK),
    "noatime": (False, sc.MS_NOATIME),
    "nodev": (False, sc.MS_NODEV),
    "nodiratime": (False, sc.MS_NODIRATIME),
    "noexec": (False, sc.MS_NOEXEC),
    "noiversion": (True, 1 << 23),
    "nolazytime": (True, sc.MS_LAZYTIME),
    "nomand": (True, sc.MS_MANDLOCK),
    "norelatime": (True, sc.MS_RELATIME),
    "nostrictatime": (True, sc.MS_STRICTATIME),
    "nosuid": (False, sc.MS_NOSUID),
    "nosymfollow": (False, sc.MS_NOSYMFOLLOW),
    "rbind": (False, sc.MS_BIND | sc.MS_REC),
    "relatime": (False, sc.MS_RELATIME),
    "remount": (False, sc.MS_REMOUNT),
    "ro": (False, sc.MS_RDONLY),
    "rw": (True, sc.MS_RDONLY),
    "silent": (False, sc.MS_SILENT),
    "strictatime": (False, sc.MS_STRICTATIME),
    "suid": (True, sc.MS_NOSUID),
    "sync": (False, sc.MS_SYNCHRONOUS),
}
PROPAGATION = {
    "private": sc.MS_PRIVATE,
    "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED,
    "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE,
    "rslave": sc.MS_SLAVE | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE,
    "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}
#: runc extensions that are not mount(2) data.
IGNORED_OPTIONS = frozenset({"tmpcopyup", "idmap", "ridmap"})
#: Flags a user namespace locks on a mount; a bind remount must repeat them or fail with EPERM.
LOCKED_FLAGS = (sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | sc.MS_NOATIME | sc.MS_NODIRATIME
                | sc.MS_RELATIME)
#: Flags of the tmpfs that holds the cgroup v1 hierarchies (runc ``defaultMountFlags``).
DEFAULT_MOUNT_FLAGS = sc.MS_NOEXEC | sc.MS_NOSUID | sc.MS_NODEV

DEFAULT_DEVICES = (
    {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666},
    {"path": "/dev/zero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o666},
    {"path": "/dev/full", "type": "c", "major": 1, "minor": 7, "fileMode": 0o666},
    {"path": "/dev/random", "type": "c", "major": 1, "minor": 8, "fileMode": 0o666},
    {"path": "/dev/urandom", "type": "c", "major": 1, "minor": 9, "fileMode": 0o666},
    {"path": "/dev/tty", "type": "c", "major": 5, "minor": 0, "fileMode": 0o666},
)
DEVICE_TYPES = {"c": _stat.S_IFCHR, "u": _stat.S_IFCHR, "b": _stat.S_IFBLK, "p": _stat.S_IFIFO}
DEV_SYMLINKS = (
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
)


class Progress:
    """What the init is doing right now; the error report names it."""

    __slots__ = ("step",)

    def __init__(self, step: str = "init") -> None:
        self.step = step


class MountOptions:
    """A parsed ``options`` list: mount(2) flags, propagation changes, data string."""

    __slots__ = ("flags", "propagation", "data")

    def __init__(self, flags: int, propagation: list[int], data: str) -> None:
        self.flags = flags
        self.propagation = propagation
        self.data = data

    def __repr__(self) -> str:
        return f"MountOptions(flags={self.flags:#x}, propagation={self.propagation!r}, data={self.data!r})"


def parse_options(options: t.Iterable[str] | None) -> MountOptions:
    flags = 0
    prop: list[int] = []
    data: list[str] = []
    for opt in options or ():
        known = MOUNT_OPTIONS.get(opt)
        if known is not None:
            clear, flag = known
            if clear:
                flags &= ~flag
            else:
                flags |= flag
        elif opt in PROPAGATION:
            prop.append(PROPAGATION[opt])
        elif opt not in IGNORED_OPTIONS:
            data.append(opt)
    return MountOptions(flags, prop, ",".join(data))


# ---------------------------------------------------------------- paths inside the rootfs
def secure_join(root: str, unsafe: str, max_links: int = 255) -> str:
    """*unsafe* resolved inside *root*: symlinks are followed as if *root* were ``/``, ``..`` stops
    at *root*; missing components are kept literally (filepath-securejoin semantics)."""
    root = root.rstrip("/") or "/"
    pending = [p for p in unsafe.split("/") if p]
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = resolved + [part]
        full = root + "/" + "/".join(candidate)
        try:
            st = os.lstat(full)
        except OSError:
            resolved = candidate
            continue
        if not _stat.S_ISLNK(st.st_mode):
            resolved = candidate
            continue
        links += 1
        if links > max_links:
            raise OSError(40, f"secure_join {unsafe}: too many levels of symbolic links in {root}")
        target = os.readlink(full)
        if target.startswith("/"):
            resolved = []
        pending = [p for p in target.split("/") if p] + pending
    return root + "/" + "/".join(resolved) if resolved else root


def mkdir_all(path: str, mode: int = 0o755) -> None:
    try:
        os.makedirs(path, mode)
    except FileExistsError:
        if not os.path.isdir(path):
            raise NotADirectoryError(20, f"mkdir {path}: exists and is not a directory") from None


def create_file(path: str, mode: int = 0o644) -> None:
    """An empty regular file at *path* (parents created); an existing file is kept, and not opened for
    writing: on the overlay root that would copy the image's file up into the container's layer (runc's
    ``O_CREAT`` alone does not)."""
    mkdir_all(os.path.dirname(path))
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, mode))
    except IsADirectoryError:
        pass


def _locked_flags(path: str) -> int:
    try:
        return os.statvfs(path).f_flag & LOCKED_FLAGS
    except OSError:
        return 0


# ---------------------------------------------------------------- step 1: propagation + root bind
def prepare_root(rootfs: str, propagation: str | None, syscalls: Syscalls, progress: Progress,
                 userns: bool = False) -> None:
    """Make our copy of ``/`` slave (or the requested propagation) and make *rootfs* a mount point.

    In a user namespace the rootfs is bound onto itself even when it is a mount point (runc always
    does): the copy of the overlay mount our mount namespace got from the host's is *locked*, and
    ``pivot_root`` refuses a locked new root with EINVAL; the bind mount is our own."""
    flag = PROPAGATION.get(propagation or "rslave", sc.MS_SLAVE | sc.MS_REC)
    progress.step = f"set propagation of / to {propagation or 'rslave'}"
    syscalls.mount(None, "/", None, flag, None)
    if flag & sc.MS_SHARED:
        # pivot_root refuses a new root whose parent mount is shared (runc rootfsParentMountPrivate).
        parent = _mount_point_of(rootfs)
        progress.step = f"make {parent} private"
        syscalls.mount(None, parent, None, sc.MS_PRIVATE, None)
    if userns or not _is_mount_point(rootfs):
        progress.step = f"bind mount rootfs {rootfs}"
        syscalls.mount(rootfs, rootfs, "bind", sc.MS_BIND | sc.MS_REC, None)


def _is_mount_point(path: str) -> bool:
    try:
        return os.stat(path).st_dev != os.stat(os.path.join(path, "..")).st_dev
    except OSError:
        return False


def _mount_point_of(path: str) -> str:
    best = "/"
    try:
        with open("/proc/self/mountinfo", "rb") as fh:
            for line in fh.read().decode(errors="replace").splitlines():
                mp = unescape(line.split(" ", 5)[4])
                if (path == mp or path.startswith(mp.rstrip("/") + "/")) and len(mp) > len(best):
                    best = mp
    except OSError:
        pass
    return best


class CgroupSource:
    """One host cgroup hierarchy as the init saw it before unsharing its cgroup namespace."""

    __slots__ = ("name", "path", "v2", "controllers")

    def __init__(self, name: str, path: str, v2: bool, controllers: str = "") -> None:
        self.name = name          # directory name under the container's /sys/fs/cgroup ("" = the root itself)
        self.path = path          # host directory of our cgroup in this hierarchy
        self.v2 = v2
        self.controllers = controllers

    def __repr__(self) -> str:
        return f"CgroupSource({self.name!r}, {self.path!r}, v2={self.v2})"


def cgroup_sources(proc_self: str = "/proc/self", cgroups_path: str | None = None) -> list[CgroupSource]:
    """Our cgroup directory in every mounted hierarchy (read before the cgroup namespace is unshared).

    With *cgroups_path*, only hierarchies where we sit in a cgroup ending with it (the container's own)
    are kept: the others would show the host's tree. A cgroup2 mount beside v1 hierarchies (hybrid
    hosts) is left out like runc does.
    """
    paths: dict[str, str] = {}
    with open(f"{proc_self}/cgroup", "rb") as fh:
        for line in fh.read().decode().splitlines():
            parts = line.split(":", 2)
            if len(parts) == 3:
                paths[parts[1]] = parts[2]
    out: list[CgroupSource] = []
    with open(f"{proc_self}/mountinfo", "rb") as fh:
        lines = fh.read().decode(errors="replace").splitlines()
    for line in lines:
        fields = line.split(" ")
        try:
            sep = fields.index("-")
        except ValueError:
            continue
        fstype = fields[sep + 1]
        if fstype not in ("cgroup", "cgroup2"):
            continue
        mount_root, mount_point = unescape(fields[3]), unescape(fields[4])
        if fstype == "cgroup2":
            cg_path, controllers = paths.get(""), ""
        else:
            opts = set(fields[sep + 3].split(","))
            cg_path, controllers = None, ""
            for ctrls, p in paths.items():
                if ctrls and set(ctrls.split(",")) <= opts:
                    cg_path, controllers = p, ctrls
                    break
        if cg_path is None:
            continue
        rel = cg_path
        if mount_root != "/" and (cg_path + "/").startswith(mount_root.rstrip("/") + "/"):
            rel = cg_path[len(mount_root.rstrip("/")):]
        source = mount_point.rstrip("/") + "/" + rel.strip("/") if rel.strip("/") else mount_point
        name = "" if mount_point.rstrip("/") == "/sys/fs/cgroup" else os.path.basename(mount_point.rstrip("/"))
        out.append(CgroupSource(name, source, fstype == "cgroup2", controllers))
    if any(not src.v2 for src in out):
        out = [src for src in out if not src.v2]
    if cgroups_path:
        tail = "/" + cgroups_path.strip("/")
        out = [src for src in out if src.path.rstrip("/").endswith(tail)]
    return out


class MountContext:
    """What mount_entry needs besides the mount itself."""

    __slots__ = ("rootfs", "bundle", "syscalls", "progress", "cgroup_sources", "cgroupns", "deferred_ro",
                 "bind_devices")

    def __init__(self, rootfs: str, bundle: str, syscalls: Syscalls, progress: Progress,
                 cgroup_sources: list[CgroupSource] | None = None, cgroupns: bool = False) -> None:
        self.rootfs = rootfs
        self.bundle = bundle
        self.syscalls = syscalls
        self.progress = progress
        self.cgroup_sources = cgroup_sources or []
        self.cgroupns = cgroupns
        #: (target, flags) to remount read-only after devices are created (a read-only /dev).
        self.deferred_ro: list[tuple[str, int]] = []
        self.bind_devices = False


def mount_all(mounts: t.Sequence[dict] | None, ctx: MountContext) -> None:
    for m in mounts or ():
        mount_entry(m, ctx)


def is_bind(m: dict) -> bool:
    opts = m.get("options") or ()
    return m.get("type") == "bind" or "bind" in opts or "rbind" in opts


def mount_entry(m: dict, ctx: MountContext) -> None:
    sys_ = ctx.syscalls
    dest = m["destination"]
    fstype = m.get("type") or ""
    source = m.get("source") or ""
    opts = parse_options(m.get("options"))
    ctx.progress.step = f"mount {fstype or 'bind'} on {dest}"
    target = secure_join(ctx.rootfs, dest)
    if is_bind(m):
        if not source.startswith("/"):
            source = os.path.join(ctx.bundle, source)
        _bind(source, target, opts, sys_)
        return
    if fstype == "cgroup":
        _mount_cgroup(m, target, opts, ctx)
        return
    mkdir_all(target)
    flags = opts.flags
    if fstype == "tmpfs" and flags & sc.MS_RDONLY and os.path.normpath(dest) == "/dev":
        flags &= ~sc.MS_RDONLY
        ctx.deferred_ro.append((target, opts.flags | sc.MS_REMOUNT))
    try:
        sys_.mount(source or fstype, target, fstype, flags, opts.data or None)
    except PermissionError:
        if fstype != "sysfs":
            raise
        # sysfs cannot be mounted in a user namespace without its own network namespace: bind the host's.
        _bind("/sys", target, parse_options(["rbind"] + [o for o in m.get("options") or () if o != "rw"]), sys_)
        return
    for pflag in opts.propagation:
        sys_.mount(None, target, None, pflag, None)


def _bind(source: str, target: str, opts: MountOptions, sys_: Syscalls) -> None:
    try:
        st = os.stat(source)
    except OSError as exc:
        raise OSError(exc.errno, f"bind mount source {source}: {os.strerror(exc.errno or 0)}") from None
    if _stat.S_ISDIR(st.st_mode):
        mkdir_all(target)
    else:
        create_file(target)
    sys_.mount(source, target, "bind", opts.flags & (sc.MS_BIND | sc.MS_REC) or sc.MS_BIND, None)
    for pflag in opts.propagation:
        sys_.mount(None, target, None, pflag, None)
    if opts.flags & ~(sc.MS_REC | sc.MS_REMOUNT | sc.MS_BIND):
        _remount(source, target, opts.flags, sys_)


def _remount(source: str | None, target: str, flags: int, sys_: Syscalls) -> None:
    flags = (flags | sc.MS_REMOUNT | sc.MS_BIND) & ~sc.MS_REC
    try:
        sys_.mount(source, target, None, flags, None)
    except PermissionError:
        # In a user namespace the flags locked on the source must be repeated.
        sys_.mount(source, target, None, flags | _locked_flags(target), None)


def _mount_cgroup(m: dict, target: str, opts: MountOptions, ctx: MountContext) -> None:
    sys_ = ctx.syscalls
    sources = ctx.cgroup_sources
    mkdir_all(target)
    ro = opts.flags & sc.MS_RDONLY
    unified_only = len(sources) == 1 and sources[0].v2 and sources[0].name == ""
    if unified_only or not sources:
        if ctx.cgroupns or not sources:
            sys_.mount("cgroup", target, "cgroup2", opts.flags, None)
        else:
            _bind(sources[0].path, target, parse_options(["rbind"] + list(m.get("options") or ())), sys_)
        return
    # cgroup v1 or hybrid: a tmpfs holding one bind mount per hierarchy (runc mountCgroupV1).
    sys_.mount("tmpfs", target, "tmpfs", DEFAULT_MOUNT_FLAGS, "mode=755")
    for pflag in opts.propagation:
        sys_.mount(None, target, None, pflag, None)
    bind_flags = sc.MS_BIND | sc.MS_REC | DEFAULT_MOUNT_FLAGS | ro
    for src in sources:
        sub = os.path.join(target, src.name)
        ctx.progress.step = f"mount cgroup {src.name or 'unified'} on {m['destination']}"
        mkdir_all(sub)
        sys_.mount(src.path, sub, "bind", sc.MS_BIND | sc.MS_REC, None)
        _remount(src.path, sub, bind_flags, sys_)
        # co-mounted controllers (cpu,cpuacct) get one symlink per controller, like runc
        for ctrl in src.controllers.split(","):
            if "," in src.controllers and ctrl and ctrl != src.name and not ctrl.startswith("name="):
                try:
                    os.symlink(src.name, os.path.join(target, ctrl))
                except FileExistsError:
                    pass
    if ro:
        sys_.mount("tmpfs", target, None, sc.MS_REMOUNT | DEFAULT_MOUNT_FLAGS | sc.MS_RDONLY, "mode=755")


# ---------------------------------------------------------------- step 3: /dev
def needs_dev_setup(mounts: t.Sequence[dict] | None) -> bool:
    """Devices are created unless /dev is a bind mount (runc needsSetupDev)."""
    for m in mounts or ():
        if is_bind(m) and os.path.normpath(m.get("destination", "")) == "/dev":
            return False
    return True


def device_list(spec_devices: t.Sequence[dict] | None) -> list[dict]:
    """The spec's devices plus the defaults it does not name."""
    out = list(spec_devices or ())
    named = {d.get("path") for d in out}
    out.extend(dict(d) for d in DEFAULT_DEVICES if d["path"] not in named)
    return out


def create_devices(devices: t.Sequence[dict], ctx: MountContext) -> None:
    """mknod each device (bind-mount the host node when mknod is not allowed, e.g. in a user ns)."""
    sys_ = ctx.syscalls
    old = os.umask(0)
    try:
        for dev in devices:
            path = dev["path"]
            target = secure_join(ctx.rootfs, path)
            ctx.progress.step = f"create device {path}"
            mkdir_all(os.path.dirname(target))
            if not ctx.bind_devices:
                try:
                    _mknod(dev, target, sys_)
                    continue
                except PermissionError:
                    ctx.bind_devices = True
            create_file(target, 0o000)
            sys_.mount(path, target, "bind", sc.MS_BIND, None)
    finally:
        os.umask(old)


def _mknod(dev: dict, target: str, sys_: Syscalls) -> None:
    kind = DEVICE_TYPES[dev.get("type", "c")]
    mode = (dev.get("fileMode") if dev.get("fileMode") is not None else 0o666) & 0o7777
    number = os.makedev(int(dev.get("major", 0)), int(dev.get("minor", 0))) if kind != _stat.S_IFIFO else 0
    try:
        os.unlink(target)
    except FileNotFoundError:
        pass
    sys_.mknod(target, kind | mode, number)
    uid, gid = dev.get("uid"), dev.get("gid")
    if uid is not None or gid is not None:
        sys_.chown(target, -1 if uid is None else int(uid), -1 if gid is None else int(gid))


def setup_ptmx(ctx: MountContext) -> None:
    """/dev/ptmx -> pts/ptmx (the container's own devpts instance)."""
    ptmx = secure_join(ctx.rootfs, "/dev/ptmx")
    ctx.progress.step = "symlink /dev/ptmx"
    try:
        os.unlink(ptmx)
    except FileNotFoundError:
        pass
    os.symlink("pts/ptmx", ptmx)


def dev_symlinks(ctx: MountContext) -> None:
    links = list(DEV_SYMLINKS)
    if os.path.exists("/proc/kcore"):
        links.append(("/proc/kcore", "/dev/core"))
    for src, dst in links:
        ctx.progress.step = f"symlink {dst}"
        try:
            os.symlink(src, secure_join(ctx.rootfs, dst))
        except FileExistsError:
            pass


def finish_deferred(ctx: MountContext) -> None:
    """Remount read-only what had to stay writable while devices were created."""
    for target, flags in ctx.deferred_ro:
        ctx.progress.step = f"remount {target} read-only"
        ctx.syscalls.mount(None, target, None, flags | sc.MS_RDONLY, None)


# ---------------------------------------------------------------- step 4: switch root
def pivot_root(rootfs: str, syscalls: Syscalls, progress: Progress) -> None:
    """runc's pivotRoot: pivot_root(".", ".") stacks the old root on top of the new; detach it."""
    progress.step = f"pivot_root {rootfs}"
    oldroot = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        newroot = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
        try:
            syscalls.fchdir(newroot)
            syscalls.pivot_root(".", ".")
            # "." is the old root now; make it rslave so the unmount does not propagate to the host
            syscalls.fchdir(oldroot)
            syscalls.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC, None)
            progress.step = "unmount the old root"
            syscalls.umount2(".", sc.MNT_DETACH)
            syscalls.chdir("/")
        finally:
            os.close(newroot)
    finally:
        os.close(oldroot)


def move_root(rootfs: str, syscalls: Syscalls, progress: Progress) -> None:
    """``--no-pivot`` (e.g. a ramfs root where pivot_root is refused): MS_MOVE the rootfs onto / and
    chroot into it, as runc's msMoveRoot does. The normal path never chroots."""
    progress.step = f"move mount {rootfs} onto /"
    syscalls.chdir(rootfs)
    syscalls.mount(rootfs, "/", None, sc.MS_MOVE, None)
    syscalls.chroot(".")
    syscalls.chdir("/")


# ---------------------------------------------------------------- step 5: after the switch
def readonly_root(syscalls: Syscalls, progress: Progress) -> None:
    progress.step = "remount / read-only"
    syscalls.mount(None, "/", None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | _locked_flags("/"), None)


def readonly_paths(paths: t.Sequence[str] | None, syscalls: Syscalls, progress: Progress) -> None:
    """Bind each path onto itself, then remount it read-only (missing paths are skipped)."""
    for path in paths or ():
        progress.step = f"readonly path {path}"
        try:
            syscalls.mount(path, path, None, sc.MS_BIND | sc.MS_REC, None)
        except FileNotFoundError:
            continue
        syscalls.mount(path, path, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | _locked_flags(path), None)


def mask_paths(paths: t.Sequence[str] | None, syscalls: Syscalls, progress: Progress) -> None:
    """/dev/null over files, an empty read-only tmpfs over directories; missing paths are skipped."""
    for path in paths or ():
        progress.step = f"mask path {path}"
        try:
            syscalls.mount("/dev/null", path, None, sc.MS_BIND, None)
        except FileNotFoundError:
            continue
        except NotADirectoryError:
            syscalls.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY, None)
