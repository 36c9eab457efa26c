# SPDX-License-Identifier: GPL-3.0-or-later
"""Docker's default seccomp profile, as data, rendered into an OCI ``linux.seccomp`` section.

Modelled on the profile Docker Engine 25 ships ("Seccomp security profiles for Docker"; moby
``profiles/seccomp/default.json``): deny by default with EPERM, allow a long list of ordinary
syscalls, and unlock the privileged ones only when the container holds the capability that the
kernel would check anyway (``CAP_SYS_ADMIN`` unlocks mount/umount2/unshare/setns/..., ``CAP_SYS_PTRACE``
unlocks ptrace/process_vm_*, ...).  Without ``CAP_SYS_ADMIN``, ``clone`` may not create namespaces
and ``clone3`` answers ENOSYS so that libc falls back to ``clone`` (whose flags a filter can see).

:func:`default_profile` evaluates the ``includes``/``excludes`` conditions (capabilities, architecture,
minimum kernel) the way Docker's ``setupSeccomp`` does and returns a plain OCI dict; the data below is
only read when it is called.
"""
from __future__ import annotations

import os

from ..core.value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time: ``berth run`` builds the default profile
    import typing as t

#: Go-style architecture names, as the profile's arch conditions use them.
_ARCH_ALIASES = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "i386": "386",
    "i686": "386",
    "x86": "386",
    "386": "386",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv6l": "arm",
    "armv7l": "arm",
    "armv8l": "arm",
    "arm": "arm",
    "ppc64le": "ppc64le",
    "ppc64": "ppc64",
    "s390x": "s390x",
    "s390": "s390",
    "riscv64": "riscv64",
    "mips64": "mips64",
    "mips64le": "mips64le",
    "mips64el": "mips64le",
    "loongarch64": "loong64",
    "loong64": "loong64",
}

#: Native architecture -> the seccomp architectures a filter covers (the native one first).
ARCHITECTURES: dict[str, tuple[str, ...]] = {
    "amd64": ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
    "arm64": ("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"),
    "mips64": ("SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"),
    "mips64le": ("SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"),
    "s390x": ("SCMP_ARCH_S390X", "SCMP_ARCH_S390"),
    "riscv64": ("SCMP_ARCH_RISCV64",),
    "386": ("SCMP_ARCH_X86",),
    "arm": ("SCMP_ARCH_ARM",),
    "ppc64le": ("SCMP_ARCH_PPC64LE",),
    "ppc64": ("SCMP_ARCH_PPC64",),
    "s390": ("SCMP_ARCH_S390",),
    "loong64": ("SCMP_ARCH_LOONGARCH64",),
}

EPERM = 1
ENOSYS = 38
AF_VSOCK = 40
#: Namespace flags of clone(2); without CAP_SYS_ADMIN none of them may be set.
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NAMESPACE_FLAGS = (
    CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET
)  # 0x7E020000 == 2114060288
#: personality(2) personas a container may switch to: PER_LINUX, UNAME26, ADDR_NO_RANDOMIZE,
#: UNAME26|ADDR_NO_RANDOMIZE, and 0xffffffff (query only).
PERSONALITIES = (0x0, 0x0008, 0x20000, 0x20008, 0xFFFFFFFF)


def _allowed() -> tuple[str, ...]:
    """Syscalls every container may make (the unconditional allowlist).

    Not ``io_uring_setup``/``io_uring_enter``/``io_uring_register``: moby 25 dropped them from its default
    profile (io_uring bypasses the filter: the requests it runs are never seen as syscalls)."""
    return tuple("""
        accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown chown32
        clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
        clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3
        epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old
        eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate
        fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync
        fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync
        ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat
        getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups
        getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid
        getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt
        get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init
        inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
        io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc kill landlock_add_rule
        landlock_create_ruleset landlock_restrict_self lchown
        lchown32 lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat
        lstat64 madvise map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod
        mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
        mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd
        msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat openat2
        pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll
        ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64
        pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64
        recvmsg remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction
        rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
        rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam
        sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
        sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler
        sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64
        sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32
        setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid
        setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32
        setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn
        socketcall socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range
        syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime
        timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64
        timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink
        unlinkat utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
    """.split())


class _Rule(Value):
    """One block of the profile; the conditions are Docker's ``includes``/``excludes``."""

    __slots__ = _fields = ("names", "action", "errno_ret", "args", "caps", "arches", "min_kernel", "not_caps",
                           "not_arches")
    _defaults = {"action": "SCMP_ACT_ALLOW", "errno_ret": None, "args": (), "caps": (), "arches": (),
                 "min_kernel": None, "not_caps": (), "not_arches": ()}
    names: tuple[str, ...]
    action: str
    errno_ret: int | None
    args: tuple[dict, ...]
    caps: tuple[str, ...]  # include only with all of these capabilities
    arches: tuple[str, ...]  # include only on these architectures
    min_kernel: tuple[int, int] | None  # include only on this kernel or newer
    not_caps: tuple[str, ...]  # exclude when any of these capabilities is held
    not_arches: tuple[str, ...]  # exclude on these architectures


def _arg(index: int, value: int, op: str) -> dict:
    return {"index": index, "value": value, "valueTwo": 0, "op": op}


def _rules() -> list[_Rule]:
    R = _Rule
    rules = [
        R(_allowed()),
        R(("process_vm_readv", "process_vm_writev", "ptrace"), min_kernel=(4, 8)),
        # every socket family but AF_VSOCK (host <-> VM sockets)
        R(("socket",), args=(_arg(0, AF_VSOCK, "SCMP_CMP_NE"),)),
    ]
    rules += [R(("personality",), args=(_arg(0, p, "SCMP_CMP_EQ"),)) for p in PERSONALITIES]
    rules += [
        # architecture-specific calls
        R(("sync_file_range2", "swapcontext"), arches=("ppc64le",)),
        R(("arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"),
          arches=("arm", "arm64")),
        R(("arch_prctl",), arches=("amd64", "x32")),
        R(("modify_ldt",), arches=("amd64", "x32", "x86")),
        R(("s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"), arches=("s390", "s390x")),
        R(("riscv_flush_icache",), arches=("riscv64",)),
        # capability-conditional groups
        R(("open_by_handle_at",), caps=("CAP_DAC_READ_SEARCH",)),
        R(("bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie",
           "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open", "quotactl", "quotactl_fd",
           "setdomainname", "sethostname", "setns", "syslog", "umount", "umount2", "unshare"),
          caps=("CAP_SYS_ADMIN",)),
        # without CAP_SYS_ADMIN: clone without namespace flags only (s390 swaps the first two arguments)
        R(("clone",), args=({"index": 0, "value": CLONE_NAMESPACE_FLAGS, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"},),
          not_caps=("CAP_SYS_ADMIN",), not_arches=("s390", "s390x")),
        R(("clone",), args=({"index": 1, "value": CLONE_NAMESPACE_FLAGS, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"},),
          arches=("s390", "s390x"), not_caps=("CAP_SYS_ADMIN",)),
        # clone3 passes its flags in memory, out of a filter's sight: answer ENOSYS so libc uses clone
        R(("clone3",), action="SCMP_ACT_ERRNO", errno_ret=ENOSYS, not_caps=("CAP_SYS_ADMIN",)),
        R(("reboot",), caps=("CAP_SYS_BOOT",)),
        R(("chroot",), caps=("CAP_SYS_CHROOT",)),
        R(("delete_module", "init_module", "finit_module"), caps=("CAP_SYS_MODULE",)),
        R(("acct",), caps=("CAP_SYS_PACCT",)),
        R(("kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"),
          caps=("CAP_SYS_PTRACE",)),
        R(("iopl", "ioperm"), caps=("CAP_SYS_RAWIO",)),
        R(("settimeofday", "stime", "clock_settime", "clock_settime64"), caps=("CAP_SYS_TIME",)),
        R(("vhangup",), caps=("CAP_SYS_TTY_CONFIG",)),
        R(("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"), caps=("CAP_SYS_NICE",)),
        R(("syslog",), caps=("CAP_SYSLOG",)),
        R(("bpf",), caps=("CAP_BPF",)),
        R(("perf_event_open",), caps=("CAP_PERFMON",)),
    ]
    return rules


def native_arch(arch: str | None = None) -> str:
    """Go-style name of *arch* (``x86_64`` -> ``amd64``); the running machine when None."""
    machine = arch or os.uname().machine
    return _ARCH_ALIASES.get(machine.lower(), machine.lower())


def kernel_version(release: str | None = None) -> tuple[int, int]:
    """``"6.18.44-fc"`` -> (6, 18); the running kernel when None."""
    rel = release or os.uname().release
    parts = []
    for piece in rel.split(".")[:2]:
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        parts.append(int(digits or 0))
    while len(parts) < 2:
        parts.append(0)
    return parts[0], parts[1]


def _cap_name(name: str) -> str:
    upper = name.upper()
    return upper if upper.startswith("CAP_") else "CAP_" + upper


def default_profile(
    caps: t.Iterable[str],
    arch: str | None = None,
    *,
    kernel: tuple[int, int] | None = None,
) -> dict:
    """Docker's default profile for a container whose bounding set is *caps*, as OCI ``linux.seccomp``.

    *arch*: a Go (``amd64``) or kernel (``x86_64``) name; the running machine when None.
    *kernel*: (major, minor); the running kernel when None.
    """
    held = {_cap_name(c) for c in caps}
    goarch = native_arch(arch)
    kver = kernel_version() if kernel is None else kernel
    syscalls = []
    for rule in _rules():
        if rule.not_arches and goarch in rule.not_arches:
            continue
        if rule.not_caps and any(c in held for c in rule.not_caps):
            continue
        if rule.arches and goarch not in rule.arches:
            continue
        if rule.caps and not all(c in held for c in rule.caps):
            continue
        if rule.min_kernel is not None and kver < rule.min_kernel:
            continue
        entry: dict[str, t.Any] = {"names": list(rule.names), "action": rule.action}
        if rule.errno_ret is not None:
            entry["errnoRet"] = rule.errno_ret
        if rule.args:
            entry["args"] = [dict(a) for a in rule.args]
        syscalls.append(entry)
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": EPERM,
        "architectures": list(ARCHITECTURES.get(goarch, ())),
        "syscalls": syscalls,
    }
