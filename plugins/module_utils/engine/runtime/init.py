# SPDX-License-Identifier: GPL-3.0-or-later
"""The in-container side of ``create`` and ``exec``: everything between ``fork()`` and ``execve()``.

:func:`run_child` is the intermediate process (namespaces, the fork into a PID namespace);
:func:`container_init` is THE ordered init (runc ``standard_init_linux.go`` ``Init()``); each step is a
named function and ``progress.step`` names it, so a failure reaches the parent as
"<step>: <error>" (see ``sync.py``). :func:`exec_child` / :func:`exec_init` do the same for a process
joining a running container (runc ``setns_init_linux.go``).

Deviations from the order sketched in the design notes, all three as runc does it:

* sysctls are written *before* the read-only paths are applied, because ``/proc/sys`` is one of them;
* the working directory is created before the pivot (the root may become read-only), but entered after
  the user switch (it must be accessible to the container user);
* ``exec.fifo`` is waited on after capabilities and ``no_new_privs`` are set: ``create`` reports every
  set-up error, ``start`` releases the process. With ``noNewPrivileges`` the seccomp filter is
  loaded after that wait (last before execve); without it, it must be loaded while we still hold
  CAP_SYS_ADMIN, i.e. before the user switch.
* unlike runc, ``start`` also learns whether the process could be executed: the init keeps its
  (close-on-exec) write end of ``exec.fifo`` open after the ``0`` that releases ``start``; a successful
  ``execve`` closes it (EOF), a failure (startContainer hook, seccomp, execve) is written to it first.

These functions run in forked children and never return: they ``execve`` or ``os._exit``.
"""
from __future__ import annotations

import os

from . import namespaces, rootfs
from . import syscalls as sc
from .state import run_hooks
from .sync import Msg, dumps

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t  # noqa: F401
    from .sync import Channel, Pipes
    from .syscalls import Syscalls

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TIOCSCTTY = 0x540E
TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431
TIOCSWINSZ = 0x5414


class Deps:
    """The injected side-effecting parts: syscalls, and the security/seccomp modules (loaded lazily)."""

    def __init__(self, syscalls: Syscalls, security: t.Any = None, seccomp: t.Any = None,
                 seccomp_cache: str | None = None) -> None:
        self.syscalls = syscalls
        self._security = security
        self._seccomp = seccomp
        #: where compiled seccomp programs are kept across containers (``seccomp.prepare``)
        self.seccomp_cache = seccomp_cache

    def preload(self, spec: dict) -> None:
        """Import, before ``fork()``, everything the child needs after ``pivot_root``: from then on
        the host's Python library (and libseccomp) is out of reach."""
        process = spec.get("process") or {}
        linux = spec.get("linux") or {}
        if process.get("rlimits") or process.get("capabilities") is not None or process.get("noNewPrivileges"):
            self.security  # noqa: B018
        if linux.get("seccomp"):
            prepare = getattr(self.seccomp, "prepare", None)
            if callable(prepare):  # validates, compiles (or finds the compiled program) in the parent
                prepare(linux["seccomp"], self.seccomp_cache)
            else:
                self.seccomp.plan(linux["seccomp"])  # validates in the parent: errors name the field
                self.seccomp.available()  # loads libseccomp now (apply() raises MissingDependency without it)
        if process.get("terminal"):
            import fcntl  # noqa: F401
            import socket  # noqa: F401
            import struct  # noqa: F401
        hooks = spec.get("hooks") or {}
        if hooks.get("createContainer") or hooks.get("startContainer"):
            import subprocess  # noqa: F401
        if any(ns.get("type") == "network" and not ns.get("path") for ns in linux.get("namespaces") or ()):
            from . import netns  # noqa: F401  (the init brings up the new namespace's loopback)
        dumps({"warm": "up"})  # the C encoder used for error reports

    @property
    def security(self) -> t.Any:
        if self._security is None:
            from . import security

            self._security = security
        return self._security

    @property
    def seccomp(self) -> t.Any:
        if self._seccomp is None:
            from . import seccomp

            self._seccomp = seccomp
        return self._seccomp


class InitConfig:
    """Everything the child needs, prepared by the parent before ``fork()``."""

    __slots__ = ("container_id", "spec", "bundle", "rootfs", "plan", "fifo_fd", "console_fd", "stdio",
                 "no_pivot", "preserve_fds", "cgroup_sources", "host_pid", "annotations", "is_exec", "cgroups_path",
                 "start_fd")

    def __init__(self, container_id: str, spec: dict, bundle: str, rootfs_path: str, plan: namespaces.Plan,
                 fifo_fd: int | None = None, console_fd: int | None = None,
                 stdio: tuple[int, int, int] | None = None, no_pivot: bool = False, preserve_fds: int = 0,
                 is_exec: bool = False) -> None:
        self.container_id = container_id
        self.spec = spec
        self.bundle = bundle
        self.rootfs = rootfs_path
        self.plan = plan
        self.fifo_fd = fifo_fd
        self.console_fd = console_fd
        self.stdio = stdio
        self.no_pivot = no_pivot
        self.preserve_fds = preserve_fds
        self.cgroup_sources: list[rootfs.CgroupSource] | None = None
        self.host_pid = 0
        self.annotations = spec.get("annotations") or {}
        self.is_exec = is_exec
        self.cgroups_path = ""
        #: The init's write end of exec.fifo once ``start`` has opened it: where a late failure goes.
        self.start_fd: int | None = None

    def hook_state(self, status: str) -> dict:
        return {"ociVersion": self.spec.get("ociVersion", "1.0.2"), "id": self.container_id, "status": status,
                "pid": self.host_pid, "bundle": self.bundle, "rootfs": self.rootfs, "owner": "",
                "annotations": self.annotations}


class LateFailure(Exception):
    """A failure after the parent stopped listening (after CREATED): reported to ``start`` through
    exec.fifo (:func:`_late_exit`), or on the container's stderr when there is no ``start`` to tell."""


# ---------------------------------------------------------------- intermediate process
def run_child(cfg: InitConfig, pipes: Pipes, deps: Deps) -> t.NoReturn:
    """The first child of ``create``: joins/creates namespaces, forks the init when a PID ns needs it."""
    chan = None
    step = "start"
    try:
        chan = pipes.child()
        chan.hide = cfg.rootfs
        _use_stdio(cfg.stdio)
        step = "wait for the parent"
        chan.expect(Msg.GO)
        sys_ = deps.syscalls
        if any(m.get("type") == "cgroup" for m in cfg.spec.get("mounts") or ()):
            step = "read cgroup mounts"
            cfg.cgroup_sources = rootfs.cgroup_sources(cgroups_path=cfg.cgroups_path)
        step = "set oom_score_adj"
        set_oom_score_adj(cfg.spec["process"])
        _enter_namespaces(cfg, chan, sys_)
        if cfg.plan.fork:
            _fork_init(cfg, chan, deps, container_init)
        cfg.host_pid = os.getpid()
        chan.send(Msg.PID, {"pid": cfg.host_pid})
        container_init(cfg, chan, deps)
    except BaseException as exc:  # noqa: BLE001  (report everything, then die)
        if chan is not None:
            chan.send_error(step, exc)
    os._exit(1)


def _enter_namespaces(cfg: InitConfig, chan: Channel, sys_: Syscalls) -> None:
    p = cfg.plan
    step = "join namespaces"
    try:
        namespaces.join(namespaces.open_paths(p), sys_)
        if p.new_user:
            step = "unshare the user namespace"
            namespaces.unshare_user(sys_)
            chan.send(Msg.USERNS_READY)
            chan.expect(Msg.MAPPINGS_DONE)
            step = "become root in the user namespace"
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
        step = "unshare namespaces " + ",".join(p.unshare)
        namespaces.unshare_rest(p, sys_)
    except OSError as exc:
        raise OSError(exc.errno, f"{step}: {exc.strerror}") from None


def _fork_init(cfg: InitConfig, chan: Channel, deps: Deps, target: t.Callable[..., t.Any]) -> t.NoReturn:
    """Fork the process that lives in the new PID namespace; we report its pid and exit.

    The child waits until we have sent PID (it reads our pipe to EOF), so the parent always hears
    PID before any message of the init; the pipe also tells it its own pid in the host.
    """
    r, w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        try:
            os.close(w)
            data = b""
            while True:
                chunk = os.read(r, 64)
                if not chunk:
                    break
                data += chunk
            os.close(r)
            cfg.host_pid = int(data or b"0")
            target(cfg, chan, deps)
        except BaseException as exc:  # noqa: BLE001
            chan.send_error("start the init", exc)
        os._exit(1)
    os.close(r)
    chan.send(Msg.PID, {"pid": pid})
    os.write(w, str(pid).encode())
    os._exit(0)


def _use_stdio(stdio: tuple[int, int, int] | None) -> None:
    if stdio:
        for target, fd in enumerate(stdio):
            if fd != target:
                os.dup2(fd, target)
            else:
                os.set_inheritable(fd, True)


# ---------------------------------------------------------------- THE init
def container_init(cfg: InitConfig, chan: Channel, deps: Deps) -> t.NoReturn:
    """Set the container up and exec its process; never returns."""
    progress = rootfs.Progress("init")
    try:
        _container_init(cfg, chan, deps, progress)
    except LateFailure as exc:
        _late_exit(str(exc), cfg.start_fd)
    except BaseException as exc:  # noqa: BLE001
        if chan.wfd >= 0:
            chan.send_error(progress.step, exc)
        else:
            _late_exit(f"{progress.step}: {exc}", cfg.start_fd)
    os._exit(1)


def _container_init(cfg: InitConfig, chan: Channel, deps: Deps, progress: rootfs.Progress) -> None:
    spec = cfg.spec
    linux = spec.get("linux") or {}
    process = spec["process"]
    hooks = spec.get("hooks") or {}

    progress.step = "setsid"
    os.setsid()
    if "network" in cfg.plan.unshare:
        progress.step = "bring up the loopback interface"
        from .netns import loopback_up

        loopback_up()
    # 1-5: the file system (mounts, devices, hooks, pivot_root, read-only/masked paths, hostname, sysctls)
    build_rootfs(cfg, chan, deps.syscalls, progress)
    # 6: the process: rlimits, user, capabilities, no_new_privs, executable
    path, args, env, late_seccomp = prepare_process(process, linux, cfg, deps, progress)

    progress.step = "report created"
    chan.send(Msg.CREATED)
    chan.close()
    chan.wfd = chan.rfd = -1

    progress.step = "wait for start"
    cfg.start_fd = wait_for_start(cfg.fifo_fd)
    if hooks.get("startContainer"):
        progress.step = "startContainer hooks"
        run_hooks("startContainer", hooks["startContainer"], cfg.hook_state("running"))
    if late_seccomp is not None:
        progress.step = "load the seccomp filter"
        deps.seccomp.apply(late_seccomp)
    progress.step = "exec"
    execute(path, args, env)


def build_rootfs(cfg: InitConfig, chan: t.Any, sys_: Syscalls, progress: rootfs.Progress) -> rootfs.MountContext:
    """The file-system half of the init, in order (the unit tests run exactly this with a recording fake)."""
    spec = cfg.spec
    linux = spec.get("linux") or {}
    process = spec["process"]
    hooks = spec.get("hooks") or {}
    ctx = rootfs.MountContext(cfg.rootfs, cfg.bundle, sys_, progress, cfg.cgroup_sources, cfg.plan.has("cgroup"))
    ctx.bind_devices = cfg.plan.has("user")

    # 1-3: below the host root
    rootfs.prepare_root(cfg.rootfs, linux.get("rootfsPropagation"), sys_, progress, userns=cfg.plan.has("user"))
    rootfs.mount_all(spec.get("mounts"), ctx)
    if rootfs.needs_dev_setup(spec.get("mounts")):
        rootfs.create_devices(rootfs.device_list(linux.get("devices")), ctx)
        rootfs.setup_ptmx(ctx)
        rootfs.dev_symlinks(ctx)
    cwd = process.get("cwd") or "/"
    progress.step = f"create the working directory {cwd}"
    rootfs.mkdir_all(rootfs.secure_join(cfg.rootfs, cwd))

    # hooks that still see the host root
    if hooks.get("prestart") or hooks.get("createRuntime"):
        progress.step = "prestart/createRuntime hooks"
        chan.send(Msg.HOOKS)
        chan.expect(Msg.HOOKS_DONE, timeout=None)
    if hooks.get("createContainer"):
        progress.step = "createContainer hooks"
        run_hooks("createContainer", hooks["createContainer"], cfg.hook_state("created"))

    # 4: switch root
    if cfg.no_pivot:
        rootfs.move_root(cfg.rootfs, sys_, progress)
    else:
        rootfs.pivot_root(cfg.rootfs, sys_, progress)
    if process.get("terminal"):
        progress.step = "set up the console"
        setup_console(cfg, sys_, mount_console=True)

    # 5: after the switch (sysctls before the read-only paths: /proc/sys is one of them)
    rootfs.finish_deferred(ctx)
    if (spec.get("root") or {}).get("readonly"):
        rootfs.readonly_root(sys_, progress)
    set_hostname(spec, sys_, progress)
    write_sysctls(linux.get("sysctl"), progress)
    rootfs.readonly_paths(linux.get("readonlyPaths"), sys_, progress)
    rootfs.mask_paths(linux.get("maskedPaths"), sys_, progress)
    return ctx


# ---------------------------------------------------------------- exec into a running container
def exec_child(cfg: InitConfig, pipes: Pipes, deps: Deps) -> t.NoReturn:
    """The first child of ``exec``: joins the init's namespaces, forks into its PID namespace."""
    chan = None
    step = "start"
    try:
        chan = pipes.child()
        _use_stdio(cfg.stdio)
        step = "set oom_score_adj"
        set_oom_score_adj(cfg.spec["process"])
        step = "join the container's namespaces"
        namespaces.join(namespaces.open_paths(cfg.plan), deps.syscalls)
        if cfg.plan.fork:
            _fork_init(cfg, chan, deps, exec_init)
        cfg.host_pid = os.getpid()
        chan.send(Msg.PID, {"pid": cfg.host_pid})
        exec_init(cfg, chan, deps)
    except BaseException as exc:  # noqa: BLE001
        if chan is not None:
            chan.send_error(step, exc)
    os._exit(1)


def exec_init(cfg: InitConfig, chan: Channel, deps: Deps) -> t.NoReturn:
    """Set up an exec'd process (the parent joined it to the cgroup) and exec it; EOF tells success."""
    progress = rootfs.Progress("wait for the parent")
    try:
        chan.expect(Msg.GO)
        process = cfg.spec["process"]
        linux = cfg.spec.get("linux") or {}
        progress.step = "setsid"
        os.setsid()
        if process.get("terminal"):
            progress.step = "set up the console"
            setup_console(cfg, deps.syscalls, mount_console=False)
        path, args, env, late_seccomp = prepare_process(process, linux, cfg, deps, progress)
        if late_seccomp is not None:
            progress.step = "load the seccomp filter"
            deps.seccomp.apply(late_seccomp)
        progress.step = "exec"
        execute(path, args, env, report=True)
    except BaseException as exc:  # noqa: BLE001
        chan.send_error(progress.step, exc)
    os._exit(1)


# ---------------------------------------------------------------- named steps
def set_oom_score_adj(process: dict) -> None:
    """Before any namespace is entered (runc's nsexec does it first too): in a user namespace our
    /proc/self files belong to the host's root, which the namespace does not map."""
    if process.get("oomScoreAdj") is not None:
        with open("/proc/self/oom_score_adj", "w") as fh:
            fh.write(str(process["oomScoreAdj"]))


def set_hostname(spec: dict, sys_: Syscalls, progress: rootfs.Progress) -> None:
    if spec.get("hostname"):
        progress.step = f"sethostname {spec['hostname']}"
        sys_.sethostname(spec["hostname"])
    if spec.get("domainname"):
        progress.step = f"setdomainname {spec['domainname']}"
        sys_.setdomainname(spec["domainname"])


def write_sysctls(sysctls: dict | None, progress: rootfs.Progress, proc_sys: str = "/proc/sys") -> None:
    for key, value in (sysctls or {}).items():
        path = f"{proc_sys}/{key.replace('.', '/')}"
        progress.step = f"sysctl {key}={value}"
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
        try:
            os.write(fd, str(value).encode())
        finally:
            os.close(fd)


def prepare_process(process: dict, linux: dict, cfg: InitConfig, deps: Deps,
                    progress: rootfs.Progress) -> tuple[str, list[str], dict[str, str], dict | None]:
    """rlimits -> (seccomp) -> user + capabilities -> cwd -> no_new_privs -> executable lookup.

    Returns ``(path, args, env, seccomp spec still to load after the start wait or None)``.
    """
    if process.get("rlimits"):
        progress.step = "set rlimits"
        deps.security.apply_rlimits(process["rlimits"])
    seccomp_spec = linux.get("seccomp")
    nnp = bool(process.get("noNewPrivileges"))
    if seccomp_spec and not nnp:
        progress.step = "load the seccomp filter"
        deps.seccomp.apply(seccomp_spec)
    user = process.get("user") or {}
    progress.step = "switch to user {}:{}".format(user.get("uid", 0), user.get("gid", 0))
    switch_user(user, process.get("capabilities"), deps)
    if user.get("umask") is not None:
        os.umask(int(user["umask"]))
    cwd = process.get("cwd") or "/"
    progress.step = f"chdir {cwd}"
    os.chdir(cwd)
    if nnp:
        progress.step = "set no_new_privs"
        deps.security.set_no_new_privs()
    env = build_env(process.get("env"), int(user.get("uid", 0)))
    args = list(process.get("args") or ())
    progress.step = "find the executable"
    path = find_executable(args[0], env.get("PATH"))
    progress.step = "close file descriptors"
    cloexec_from(3 + cfg.preserve_fds)
    return path, args, env, (seccomp_spec if (seccomp_spec and nnp) else None)


def switch_user(user: dict, caps: dict | None, deps: Deps) -> None:
    """setgroups/setgid/setuid keeping capabilities across the uid change, then set them."""
    uid, gid = int(user.get("uid", 0)), int(user.get("gid", 0))
    sec = deps.security if caps is not None else None
    if sec is not None:
        sec.prepare_keepcaps()
    if _setgroups_allowed():
        os.setgroups([int(g) for g in user.get("additionalGids") or ()])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if sec is not None:
        sec.apply_capabilities(raisable_ambient(caps))
        sec.clear_keepcaps()


def raisable_ambient(caps: dict) -> dict:
    """Drop ambient capabilities that are not both permitted and inheritable.

    The kernel cannot raise those; runc only warns about them, and ``runc spec`` itself writes ambient
    capabilities without an inheritable set, so refusing them would refuse runc's default bundle.
    """
    ambient = caps.get("ambient") or ()
    if not ambient:
        return caps
    ok = set(caps.get("permitted") or ()) & set(caps.get("inheritable") or ())
    out = dict(caps)
    out["ambient"] = [c for c in ambient if c in ok]
    return out


def _setgroups_allowed() -> bool:
    try:
        with open("/proc/self/setgroups", "rb") as fh:
            return fh.read().strip() != b"deny"
    except OSError:
        return True


def build_env(env_list: t.Iterable[str] | None, uid: int) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in env_list or ():
        key, dummy, value = item.partition("=")
        if key:
            env[key] = value
    if "HOME" not in env:
        env["HOME"] = _home_of(uid)
    return env


def _home_of(uid: int, passwd: str = "/etc/passwd") -> str:
    try:
        with open(passwd, "rb") as fh:
            for line in fh.read().decode(errors="replace").splitlines():
                fields = line.split(":")
                if len(fields) >= 6 and fields[2] == str(uid):
                    return fields[5] or "/"
    except OSError:
        pass
    return "/"


class ExecutableNotFound(Exception):
    pass


def find_executable(name: str, path_env: str | None) -> str:
    """Resolve *name* like Go's exec.LookPath, through the container's PATH (runc's error wording)."""
    if "/" in name:
        try:
            st = os.stat(name)
        except OSError as exc:
            raise ExecutableNotFound(f'exec: "{name}": stat {name}: {os.strerror(exc.errno or 0).lower()}') from None
        if (st.st_mode & 0o170000) == 0o040000 or not st.st_mode & 0o111:
            raise ExecutableNotFound(f'exec: "{name}": permission denied')
        return name
    for d in (DEFAULT_PATH if path_env is None else path_env).split(":"):
        candidate = os.path.join(d or ".", name)
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if (st.st_mode & 0o170000) != 0o040000 and st.st_mode & 0o111:
            return candidate
    raise ExecutableNotFound(f'exec: "{name}": executable file not found in $PATH')


def cloexec_from(first: int) -> None:
    """Mark every fd >= *first* close-on-exec (runc CloseExecFrom)."""
    try:
        fds = [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(first, 1024))
    for fd in fds:
        if fd >= first:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass


def wait_for_start(fifo_fd: int | None) -> int | None:
    """Block until ``start`` opens exec.fifo for reading (through our O_PATH fd, like runc).

    Returns the write end, close-on-exec: ``start`` reads until EOF, i.e. until execve succeeded, and
    reads the error instead when one is written to it (:func:`_late_exit`)."""
    if fifo_fd is None:
        return None
    fd = os.open(f"/proc/self/fd/{fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, b"0")
    except BaseException:
        os.close(fd)
        raise
    finally:
        os.close(fifo_fd)
    return fd


def setup_console(cfg: InitConfig, sys_: Syscalls, mount_console: bool) -> None:
    """A pty from the container's devpts; its master goes over the console socket (SCM_RIGHTS), the
    slave becomes our controlling terminal and stdio (and /dev/console for the init)."""
    import fcntl
    import socket
    import struct

    if cfg.console_fd is None:
        raise OSError(22, "process.terminal is set but no console socket was given")
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
        number = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0\0\0\0"))[0]
        slave_path = f"/dev/pts/{number}"
        size = (cfg.spec.get("process") or {}).get("consoleSize")
        if size:
            fcntl.ioctl(master, TIOCSWINSZ, struct.pack("HHHH", int(size.get("height", 0)),
                                                        int(size.get("width", 0)), 0, 0))
        if mount_console:
            rootfs.create_file("/dev/console", 0o600)
            sys_.mount(slave_path, "/dev/console", "bind", sc.MS_BIND, None)
        sock = socket.socket(fileno=cfg.console_fd)
        try:
            socket.send_fds(sock, [b"/dev/ptmx"], [master])
        finally:
            sock.close()
            cfg.console_fd = None
    finally:
        os.close(master)
    slave = os.open(slave_path, os.O_RDWR | os.O_CLOEXEC)
    fcntl.ioctl(slave, TIOCSCTTY, 0)
    for target in (0, 1, 2):
        os.dup2(slave, target)
    os.close(slave)


def execute(path: str, args: list[str], env: dict[str, str], report: bool = False) -> t.NoReturn:
    """execve with the default disposition of the signals Python ignores (SIGPIPE, SIGXFSZ) and an empty
    signal mask."""
    try:
        import _signal as sig
    except ImportError:  # pragma: no cover
        import signal as sig  # type: ignore[no-redef]
    for name in ("SIGPIPE", "SIGXFSZ", "SIGXFZ"):
        num = getattr(sig, name, None)
        if num is not None:
            sig.signal(num, sig.SIG_DFL)
    if hasattr(sig, "pthread_sigmask"):
        sig.pthread_sigmask(sig.SIG_SETMASK, ())  # a mask blocked by the caller must not reach the container
    try:
        os.execve(path, args, env)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in an argument or the environment
        if report:
            raise
        reason = (exc.strerror or str(exc)).lower() if isinstance(exc, OSError) else str(exc)
        raise LateFailure(f'exec "{args[0] if args else path}": {reason}') from None


def _late_exit(message: str, start_fd: int | None = None) -> t.NoReturn:
    """Tell ``start`` (through exec.fifo) or else the container's stderr why the process never ran."""
    try:
        if start_fd is not None:
            os.write(start_fd, message.encode(errors="replace")[:4000])
        else:
            os.write(2, f"berth-runtime: {message}\n".encode(errors="replace"))
    except OSError:
        pass
    os._exit(127 if message.startswith("exec ") else 1)
