# SPDX-License-Identifier: GPL-3.0-or-later
"""The default seccomp profile and capability sets, applied for real in forked children.

Each test forks; the child applies the filter or the capabilities to itself, checks what it can
still do, and sends a JSON report back through a pipe.  The test process itself is never filtered.
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import socket
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.runtime import seccomp, security
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime.seccomp_default import default_profile

pytestmark = [
    pytest.mark.functional,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not seccomp.available(), reason="libseccomp is not installed"),
]

BUSYBOX = shutil.which("busybox")
CLONE_NEWNS = 0x00020000
SYS_CLONE3 = {"x86_64": 435, "aarch64": 435}.get(os.uname().machine)


def in_child(body: t.Callable[[], t.Any], timeout: float = 30.0) -> t.Any:
    """Run *body* in a forked child; return its JSON-able result (or raise what it reported)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(r)
        try:
            result = {"ok": body()}
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
            result = {"error": f"{type(exc).__name__}: {exc}"}
        os.write(w, json.dumps(result).encode())
        os._exit(0)
    os.close(w)
    chunks = []
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    dummy, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status), f"child died: status {status}"
    report = json.loads(b"".join(chunks) or b"{}")
    assert "error" not in report, report.get("error")
    return report["ok"]


def run_in_child_exec(argv: list[str], prepare: t.Callable[[], None]) -> tuple[int, str]:
    """fork, *prepare* in the child, exec *argv*; return (exit status, combined output)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.close(r)
            os.dup2(w, 1)
            os.dup2(w, 2)
            prepare()
            os.execv(argv[0], argv)
        except BaseException as exc:  # noqa: BLE001
            os.write(2, f"child failed: {exc}\n".encode())
        os._exit(127)
    os.close(w)
    out = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        out += chunk
    os.close(r)
    dummy, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8, \
        out.decode(errors="replace")


def status_field(name: str) -> str:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    return ""


def confine_default() -> None:
    security.set_no_new_privs()
    seccomp.apply(default_profile(security.DOCKER_DEFAULT_CAPS))


def test_default_profile_blocks_namespaces_and_mounts_but_not_normal_work(tmp_path) -> None:
    target = str(tmp_path)

    def body() -> dict:
        confine_default()
        libc = ctypes.CDLL(None, use_errno=True)
        out: dict[str, t.Any] = {"Seccomp": status_field("Seccomp"), "NoNewPrivs": status_field("NoNewPrivs")}
        ctypes.set_errno(0)
        out["unshare"] = (libc.unshare(CLONE_NEWNS), ctypes.get_errno())
        ctypes.set_errno(0)
        out["mount"] = (libc.mount(b"tmpfs", target.encode(), b"tmpfs", 0, None), ctypes.get_errno())
        ctypes.set_errno(0)
        out["setns"] = (libc.setns(0, 0), ctypes.get_errno())
        if SYS_CLONE3 is not None:
            ctypes.set_errno(0)
            out["clone3"] = (libc.syscall(SYS_CLONE3, None, 0), ctypes.get_errno())
        try:
            socket.socket(40, socket.SOCK_STREAM)  # AF_VSOCK
            out["vsock"] = 0
        except OSError as exc:
            out["vsock"] = exc.errno
        # ordinary work still works: files, pipes, sockets, fork/wait, threads
        with open(os.path.join(target, "f"), "w") as fh:
            fh.write("hello")
        out["read"] = open(os.path.join(target, "f")).read()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.close()
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        out["fork"] = os.waitpid(pid, 0)[1] >> 8
        import threading

        box = []
        th = threading.Thread(target=lambda: box.append(os.getpid()))
        th.start()
        th.join()
        out["thread"] = box == [os.getpid()]
        return out

    out = in_child(body)
    assert out["Seccomp"] == "2"
    assert out["NoNewPrivs"] == "1"
    assert out["unshare"] == [-1, errno.EPERM]
    assert out["mount"] == [-1, errno.EPERM]
    assert out["setns"] == [-1, errno.EPERM]
    if SYS_CLONE3 is not None:
        assert out["clone3"] == [-1, errno.ENOSYS]
    assert out["vsock"] == errno.EPERM
    assert out["read"] == "hello"
    assert out["fork"] == 7
    assert out["thread"] is True
    assert not os.path.ismount(target)


def test_custom_profile_errno_flags_and_unknown_names() -> None:
    def body() -> dict:
        skipped = seccomp.apply({
            "defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"],
            "syscalls": [{"names": ["getcwd", "no_such_syscall"], "action": "SCMP_ACT_ERRNO", "errnoRet": 99}],
        })
        try:
            os.getcwd()
            cwd_errno = 0
        except OSError as exc:
            cwd_errno = exc.errno or 0
        return {"skipped": skipped, "getcwd": cwd_errno, "NoNewPrivs": status_field("NoNewPrivs"),
                "Seccomp": status_field("Seccomp")}

    # no_new_privs stays off: the caller decides (the filter still loads, we are root)
    assert in_child(body) == {"skipped": ["no_such_syscall"], "getcwd": 99, "NoNewPrivs": "0", "Seccomp": "2"}


def test_sys_admin_profile_allows_unshare() -> None:
    def body() -> list:
        security.set_no_new_privs()
        seccomp.apply(default_profile(list(security.DOCKER_DEFAULT_CAPS) + ["CAP_SYS_ADMIN"]))
        libc = ctypes.CDLL(None, use_errno=True)
        ctypes.set_errno(0)
        return [libc.unshare(CLONE_NEWNS), ctypes.get_errno()]

    assert in_child(body) == [0, 0]


@pytest.mark.skipif(BUSYBOX is None, reason="busybox is not installed")
def test_busybox_and_python_run_under_the_default_profile() -> None:
    script = (
        "ls / >/dev/null && echo ls-ok; "
        "ps >/dev/null && echo ps-ok; "
        "echo $(( 6 * 7 )); "
        "cat /proc/self/status | grep -E '^(Seccomp|NoNewPrivs):'; "
        "unshare -m true; echo unshare-rc=$?; "
        "mkdir -p /tmp/berth-seccomp-test-$$ && mount -t tmpfs none /tmp/berth-seccomp-test-$$; echo mount-rc=$?; "
        "rmdir /tmp/berth-seccomp-test-$$; "
        f"{os.path.realpath('/usr/bin/python3')} -I -S -c "
        "'import subprocess, threading, json; t = threading.Thread(target=print, args=(\"thread-ok\",)); "
        "t.start(); t.join(); print(\"sub\", subprocess.run([\"true\"]).returncode)'"
    )
    rc, out = run_in_child_exec([BUSYBOX, "sh", "-c", script], confine_default)
    assert rc == 0, out
    lines = out.splitlines()
    assert "ls-ok" in lines and "ps-ok" in lines and "42" in lines
    assert any(line.startswith("Seccomp:") and line.endswith("2") for line in lines)
    assert "unshare-rc=1" in lines
    assert "mount-rc=255" in lines or "mount-rc=1" in lines
    assert "Operation not permitted" in out
    assert "thread-ok" in lines and "sub 0" in lines


def test_reduced_capabilities_are_exactly_what_the_child_sees() -> None:
    keep = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID"]

    def body() -> dict:
        security.apply_capabilities(
            {"bounding": keep, "effective": keep, "permitted": keep, "inheritable": [], "ambient": []})
        out = security.read_caps()
        libc = ctypes.CDLL(None, use_errno=True)
        ctypes.set_errno(0)
        out["mknod_errno"] = [libc.mknod(b"/dev/null-berth-test", 0o20666, os.makedev(1, 3)), ctypes.get_errno()]
        return out

    caps = in_child(body)
    by_bit = sorted(keep, key=security.CAPABILITIES.get)
    assert caps["effective"] == by_bit
    assert caps["bounding"] == by_bit
    assert caps["permitted"] == by_bit
    assert caps["inheritable"] == [] and caps["ambient"] == []
    assert caps["mknod_errno"] == [-1, errno.EPERM]  # CAP_MKNOD is gone
    assert not os.path.exists("/dev/null-berth-test")


@pytest.mark.skipif(BUSYBOX is None, reason="busybox is not installed")
def test_non_root_user_keeps_ambient_capability_across_exec() -> None:
    nbs = ["CAP_NET_BIND_SERVICE"]

    def prepare() -> None:
        security.prepare_keepcaps()
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
        security.clear_keepcaps()
        security.apply_capabilities(
            {"bounding": nbs + ["CAP_KILL"], "effective": nbs, "permitted": nbs, "inheritable": nbs, "ambient": nbs})
        security.set_no_new_privs()

    rc, out = run_in_child_exec([BUSYBOX, "cat", "/proc/self/status"], prepare)
    assert rc == 0, out
    caps = security.parse_status_caps(out)
    assert caps["ambient"] == nbs
    assert caps["effective"] == nbs and caps["permitted"] == nbs
    assert caps["bounding"] == ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
    assert "Uid:\t65534" in out


def test_prepared_program_from_the_cache_filters_like_libseccomp(tmp_path) -> None:
    """prepare() compiles once and keeps the program in the cache; apply() in a fork installs it (prctl).
    Both cache states (miss, hit) and a damaged entry (a miss, never a wrong filter) give the same filter."""
    profile = default_profile(security.DOCKER_DEFAULT_CAPS)
    cache = str(tmp_path / "cache")

    def body() -> list:
        security.set_no_new_privs()
        assert seccomp.apply(profile) == []  # the prepared program: no libseccomp path, nothing skipped
        libc = ctypes.CDLL(None, use_errno=True)
        ctypes.set_errno(0)
        return [status_field("Seccomp"), libc.unshare(CLONE_NEWNS), ctypes.get_errno(), os.getpid() > 0]

    first = seccomp.prepare(profile, cache)
    assert first is not None and os.listdir(cache)
    assert in_child(body) == ["2", -1, errno.EPERM, True]
    (entry,) = [os.path.join(cache, n) for n in os.listdir(cache)]
    second = seccomp.prepare(profile, cache)  # a hit: the same program
    assert second is not None and second.code == first.code
    assert in_child(body) == ["2", -1, errno.EPERM, True]
    with open(entry, "r+b") as fh:  # flip one instruction byte: the checksum no longer matches
        fh.seek(-3, os.SEEK_END)
        byte = fh.read(1)
        fh.seek(-3, os.SEEK_END)
        fh.write(bytes([byte[0] ^ 0xFF]))
    third = seccomp.prepare(profile, cache)
    assert third is not None and third.code == first.code
    assert in_child(body) == ["2", -1, errno.EPERM, True]
    other = dict(profile, defaultErrnoRet=38)  # another section, another entry
    seccomp.prepare(other, cache)
    assert len(os.listdir(cache)) == 2
