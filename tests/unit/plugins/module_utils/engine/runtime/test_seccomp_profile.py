# SPDX-License-Identifier: GPL-3.0-or-later
"""runtime.seccomp_default (Docker's default profile as OCI data) and runtime.seccomp.plan (the pure
translation into libseccomp values)."""
from __future__ import annotations

import json
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.errors import InvalidOption, MissingDependency
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime import seccomp
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime import seccomp_default as sd
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime.security import DOCKER_DEFAULT_CAPS

DEFAULT = tuple(DOCKER_DEFAULT_CAPS)


def profile(caps: t.Iterable[str] = DEFAULT, arch: str = "amd64", kernel: tuple[int, int] = (6, 1)) -> dict:
    return sd.default_profile(list(caps), arch, kernel=kernel)


def allowed(p: dict) -> set[str]:
    """Syscalls allowed without any argument condition."""
    return {n for s in p["syscalls"] if s["action"] == "SCMP_ACT_ALLOW" and not s.get("args") for n in s["names"]}


def blocks_for(p: dict, name: str) -> list[dict]:
    return [s for s in p["syscalls"] if name in s["names"]]


# -- shape -------------------------------------------------------------------------------------------


def test_shape() -> None:
    p = profile()
    assert p["defaultAction"] == "SCMP_ACT_ERRNO"
    assert p["defaultErrnoRet"] == 1
    assert p["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert set(p) == {"defaultAction", "defaultErrnoRet", "architectures", "syscalls"}
    for s in p["syscalls"]:
        assert set(s) <= {"names", "action", "errnoRet", "args"}
        assert s["names"] and len(set(s["names"])) == len(s["names"])
        assert s["action"] in seccomp.ACTIONS
        for a in s.get("args", []):
            assert set(a) == {"index", "value", "valueTwo", "op"}
    assert json.loads(json.dumps(p)) == p
    assert profile() == p  # deterministic
    assert len(allowed(p)) > 300


def test_a_fresh_copy_each_call() -> None:
    p = profile()
    p["syscalls"][0]["names"].append("reboot")
    p["syscalls"][2]["args"][0]["value"] = 0
    assert "reboot" not in allowed(profile())
    assert blocks_for(profile(), "socket")[0]["args"][0]["value"] == 40


@pytest.mark.parametrize("name", [
    "read", "write", "openat", "close", "execve", "exit_group", "mmap", "brk", "futex", "rt_sigaction",
    "wait4", "getdents64", "newfstatat", "statx", "fork", "vfork", "pipe2", "dup3", "ioctl", "prctl", "kill",
    "setuid", "setgid", "capget", "capset", "chown", "mknod", "bind", "connect", "accept4", "epoll_wait",
    "getrandom", "rseq", "clock_nanosleep", "uname", "sched_getaffinity", "prlimit64", "set_robust_list",
    "faccessat2", "close_range", "fchmodat2", "pidfd_open", "landlock_create_ruleset",
])
def test_ordinary_syscalls_are_allowed(name: str) -> None:
    assert name in allowed(profile())


@pytest.mark.parametrize("name", [
    "mount", "umount2", "unshare", "setns", "pivot_root", "reboot", "init_module", "finit_module",
    "delete_module", "kexec_load", "swapon", "acct", "settimeofday", "clock_settime", "iopl", "ioperm",
    "bpf", "perf_event_open", "open_by_handle_at", "syslog", "vhangup", "kcmp", "pidfd_getfd",
    "process_madvise", "mbind", "set_mempolicy", "sethostname", "setdomainname", "fsopen", "move_mount",
    "open_tree", "quotactl", "keyctl", "add_key", "request_key", "userfaultfd", "lookup_dcookie",
    "fanotify_init", "nfsservctl", "uselib", "personality", "clone", "clone3", "socket",
])
def test_privileged_syscalls_are_not_allowed_unconditionally(name: str) -> None:
    assert name not in allowed(profile())


def test_io_uring_is_blocked_whatever_the_capabilities() -> None:
    """moby 25 dropped io_uring from the allowlist (moby#46762): its requests never pass the filter."""
    for caps in (DEFAULT, [*DEFAULT, "CAP_SYS_ADMIN"]):
        p = profile(caps)
        for name in ("io_uring_setup", "io_uring_enter", "io_uring_register"):
            assert blocks_for(p, name) == []


# -- the conditional rules -----------------------------------------------------------------------------


def test_clone_without_namespace_flags_only() -> None:
    (rule,) = blocks_for(profile(), "clone")
    assert rule == {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [
        {"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}
    assert sd.CLONE_NAMESPACE_FLAGS == 0x7E020000


def test_clone3_answers_enosys_without_sys_admin() -> None:
    (rule,) = blocks_for(profile(), "clone3")
    assert rule == {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}


def test_sys_admin_unlocks_namespaces_and_mounts() -> None:
    p = profile([*DEFAULT, "CAP_SYS_ADMIN"])
    ok = allowed(p)
    for name in ("mount", "umount2", "unshare", "setns", "clone", "clone3", "sethostname", "fsopen", "bpf",
                 "perf_event_open", "quotactl", "syslog", "open_tree", "move_mount", "mount_setattr"):
        assert name in ok
    assert all(not s.get("args") for s in blocks_for(p, "clone"))
    assert all(s["action"] == "SCMP_ACT_ALLOW" for s in blocks_for(p, "clone3"))


@pytest.mark.parametrize("cap, names", [
    ("CAP_DAC_READ_SEARCH", ["open_by_handle_at"]),
    ("CAP_SYS_BOOT", ["reboot"]),
    ("CAP_SYS_MODULE", ["init_module", "finit_module", "delete_module"]),
    ("CAP_SYS_PACCT", ["acct"]),
    ("CAP_SYS_PTRACE", ["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev",
                        "ptrace"]),
    ("CAP_SYS_RAWIO", ["iopl", "ioperm"]),
    ("CAP_SYS_TIME", ["settimeofday", "stime", "clock_settime", "clock_settime64"]),
    ("CAP_SYS_TTY_CONFIG", ["vhangup"]),
    ("CAP_SYS_NICE", ["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"]),
    ("CAP_SYSLOG", ["syslog"]),
    ("CAP_BPF", ["bpf"]),
    ("CAP_PERFMON", ["perf_event_open"]),
])
def test_capability_groups(cap: str, names: list[str]) -> None:
    without = allowed(profile([c for c in DEFAULT if c != cap], kernel=(4, 4)))
    with_cap = allowed(profile([*DEFAULT, cap], kernel=(4, 4)))
    for name in names:
        assert name not in without
        assert name in with_cap
    # lower-case names without the prefix are accepted too
    assert with_cap == allowed(profile([c[4:].lower() for c in [*DEFAULT, cap]], kernel=(4, 4)))


def test_chroot_follows_sys_chroot() -> None:
    assert "chroot" in allowed(profile())  # in Docker's default set
    assert "chroot" not in allowed(profile([c for c in DEFAULT if c != "CAP_SYS_CHROOT"]))


def test_ptrace_needs_kernel_4_8_without_sys_ptrace() -> None:
    assert {"ptrace", "process_vm_readv", "process_vm_writev"} <= allowed(profile(kernel=(4, 8)))
    assert "ptrace" not in allowed(profile(kernel=(4, 4)))
    assert "ptrace" in allowed(profile([*DEFAULT, "CAP_SYS_PTRACE"], kernel=(4, 4)))


def test_socket_refuses_only_af_vsock() -> None:
    assert blocks_for(profile(), "socket") == [{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [
        {"index": 0, "value": 40, "valueTwo": 0, "op": "SCMP_CMP_NE"}]}]


def test_personality_values() -> None:
    values = [s["args"][0]["value"] for s in blocks_for(profile(), "personality")]
    assert values == [0, 8, 131072, 131080, 4294967295]
    assert all(s["args"][0]["op"] == "SCMP_CMP_EQ" for s in blocks_for(profile(), "personality"))


# -- architectures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("arch, arches", [
    ("amd64", ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
    ("x86_64", ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
    ("aarch64", ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]),
    ("arm64", ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]),
    ("s390x", ["SCMP_ARCH_S390X", "SCMP_ARCH_S390"]),
    ("riscv64", ["SCMP_ARCH_RISCV64"]),
    ("ppc64le", ["SCMP_ARCH_PPC64LE"]),
    ("mips64", ["SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"]),
    ("armv7l", ["SCMP_ARCH_ARM"]),
    ("sparc64", []),  # unknown: libseccomp's native architecture only
])
def test_architectures(arch: str, arches: list[str]) -> None:
    assert profile(arch=arch)["architectures"] == arches


@pytest.mark.parametrize("arch, present, absent", [
    ("amd64", ["arch_prctl", "modify_ldt"], ["set_tls", "cacheflush", "s390_runtime_instr", "riscv_flush_icache"]),
    ("arm64", ["set_tls", "cacheflush", "breakpoint", "arm_fadvise64_64", "sync_file_range2"],
     ["arch_prctl", "modify_ldt"]),
    ("arm", ["set_tls", "arm_sync_file_range"], ["arch_prctl"]),
    ("s390x", ["s390_pci_mmio_read", "s390_runtime_instr"], ["arch_prctl", "set_tls"]),
    ("ppc64le", ["sync_file_range2", "swapcontext"], ["arch_prctl", "set_tls"]),
    ("riscv64", ["riscv_flush_icache"], ["arch_prctl", "set_tls"]),
])
def test_arch_specific_calls(arch: str, present: list[str], absent: list[str]) -> None:
    ok = allowed(profile(arch=arch))
    for name in present:
        assert name in ok
    for name in absent:
        assert name not in ok


def test_s390_clone_flags_are_the_second_argument() -> None:
    (rule,) = blocks_for(profile(arch="s390x"), "clone")
    assert rule["args"][0]["index"] == 1
    (rule,) = blocks_for(profile(arch="arm64"), "clone")
    assert rule["args"][0]["index"] == 0


def test_native_arch_and_kernel_version() -> None:
    assert sd.native_arch("x86_64") == "amd64"
    assert sd.native_arch("i686") == "386"
    assert sd.kernel_version("6.18.44-fc-v782") == (6, 18)
    assert sd.kernel_version("4.8") == (4, 8)
    assert sd.kernel_version("5.15.0-91-generic") == (5, 15)
    assert sd.kernel_version("3") == (3, 0)
    assert sd.default_profile(list(DEFAULT))["architectures"]  # the running machine is known


# -- seccomp.plan: OCI -> libseccomp values ------------------------------------------------------------


def test_plan_of_the_default_profile() -> None:
    flt = seccomp.plan(profile())
    assert flt.default_action == 0x00050000 | 1
    assert flt.architectures == ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32")
    assert flt.attributes == ((seccomp.SCMP_FLTATR_CTL_NNP, 0),)
    by_name: dict[str, list] = {}
    for r in flt.rules:
        by_name.setdefault(r.name, []).append(r)
    assert by_name["read"] == [seccomp.Rule("read", 0x7FFF0000, ())]
    assert by_name["clone"] == [seccomp.Rule("clone", 0x7FFF0000, (seccomp.Condition(0, 7, 0x7E020000, 0),))]
    assert by_name["clone3"] == [seccomp.Rule("clone3", 0x00050000 | 38, ())]
    assert by_name["socket"] == [seccomp.Rule("socket", 0x7FFF0000, (seccomp.Condition(0, 1, 40, 0),))]
    assert len(by_name["personality"]) == 5


@pytest.mark.parametrize("name, errno_ret, value", [
    ("SCMP_ACT_ALLOW", None, 0x7FFF0000),
    ("SCMP_ACT_ERRNO", None, 0x00050001),
    ("SCMP_ACT_ERRNO", 38, 0x00050026),
    ("SCMP_ACT_ERRNO", 0, 0x00050000),
    ("SCMP_ACT_TRACE", 5, 0x7FF00005),
    ("SCMP_ACT_KILL", None, 0),
    ("SCMP_ACT_KILL_THREAD", None, 0),
    ("SCMP_ACT_KILL_PROCESS", None, 0x80000000),
    ("SCMP_ACT_TRAP", None, 0x00030000),
    ("SCMP_ACT_LOG", None, 0x7FFC0000),
])
def test_action_values(name: str, errno_ret: int | None, value: int) -> None:
    assert seccomp.action_value(name, errno_ret) == value


def test_plan_skips_rules_equal_to_the_default_and_splits_same_index_conditions() -> None:
    flt = seccomp.plan({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["kill", "tkill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
             "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"},
                      {"index": 1, "value": 15, "op": "SCMP_CMP_EQ"}]},
            {"names": ["mmap"], "action": "SCMP_ACT_KILL_PROCESS",
             "args": [{"index": 2, "value": 4, "valueTwo": 4, "op": "SCMP_CMP_MASKED_EQ"},
                      {"index": 3, "value": 1, "op": "SCMP_CMP_GT"}]},
        ],
        "flags": ["SECCOMP_FILTER_FLAG_LOG"],
    })
    assert flt.default_action == 0x7FFF0000
    assert flt.rules == (
        seccomp.Rule("kill", 0x0005000D, (seccomp.Condition(1, 4, 9, 0),)),
        seccomp.Rule("kill", 0x0005000D, (seccomp.Condition(1, 4, 15, 0),)),
        seccomp.Rule("tkill", 0x0005000D, (seccomp.Condition(1, 4, 9, 0),)),
        seccomp.Rule("tkill", 0x0005000D, (seccomp.Condition(1, 4, 15, 0),)),
        seccomp.Rule("mmap", 0x80000000, (seccomp.Condition(2, 7, 4, 4), seccomp.Condition(3, 6, 1, 0))),
    )
    assert flt.attributes == ((seccomp.SCMP_FLTATR_CTL_NNP, 0), (seccomp.SCMP_FLTATR_CTL_LOG, 1))


@pytest.mark.parametrize("section, field", [
    ({}, "linux.seccomp.defaultAction"),
    ({"defaultAction": "SCMP_ACT_MAYBE"}, "linux.seccomp.defaultAction"),
    ({"defaultAction": "SCMP_ACT_NOTIFY"}, "linux.seccomp.defaultAction"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "listenerPath": "/run/x.sock"}, "linux.seccomp.listenerPath"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["x86_64"]}, "linux.seccomp.architectures"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_NEW_LISTENER"]}, "linux.seccomp.flags"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]},
     "linux.seccomp.syscalls[0].names"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}]},
     "linux.seccomp.syscalls[0].action"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["x"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]},
     "linux.seccomp.syscalls[0].args[0].index"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["x"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]},
     "linux.seccomp.syscalls[0].args[0].op"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["x"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]},
     "linux.seccomp.syscalls[0].args[0].value"),
])
def test_plan_refuses(section: dict, field: str) -> None:
    with pytest.raises(InvalidOption) as exc:
        seccomp.plan(section)
    assert exc.value.field == field


def test_apply_none_is_no_filter() -> None:
    assert seccomp.apply(None) == []
    assert seccomp.apply({}) == []


def test_missing_libseccomp(monkeypatch) -> None:
    import ctypes

    def no_lib(*args: t.Any, **kwargs: t.Any) -> t.Any:
        raise OSError("libseccomp.so.2: cannot open shared object file")

    monkeypatch.setattr(seccomp, "_LIB", None)
    monkeypatch.setattr(ctypes, "CDLL", no_lib)
    assert seccomp.available() is False
    with pytest.raises(MissingDependency) as exc:
        seccomp.apply(profile())
    msg = str(exc.value)
    assert "libseccomp is required for the default seccomp profile" in msg
    assert "apt-get install libseccomp2" in msg and "seccomp=unconfined" in msg
