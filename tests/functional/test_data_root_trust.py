# SPDX-License-Identifier: GPL-3.0-or-later
"""The data root is no way to root: the attacks of issue 7, run for real by an unprivileged user (uid 65534)
against bin/berth, and what the engine must refuse (core/trust.py, core/libcopy.py)."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import tarfile
import tempfile
import typing as t

import pytest

from tests.support.cleanup import remove_tree
from tests.support.cli import Berth, pycache_env

pytestmark = [pytest.mark.functional]

if os.geteuid() != 0:
    pytest.skip("needs root: the engine's data root is root's", allow_module_level=True)

NOBODY = 65534
IMAGE = "bb:latest"
#: Where image and container content live: files in there belong to the image, not to the engine.
CONTENT = ("/layers/sha256/", "/upper", "/rootfs", "/work/", "/layers-remap/")


def as_nobody(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    def drop() -> None:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)

    return subprocess.run(list(argv), preexec_fn=drop, capture_output=True, check=check, timeout=60)


@pytest.fixture
def base(busybox_rootfs: str) -> t.Iterator[str]:
    """A directory other users may traverse (tmp_path's parents are 0700), with the busybox tar in it."""
    path = tempfile.mkdtemp(prefix="berth-trust-", dir="/tmp")
    os.chmod(path, 0o755)
    with tarfile.open(os.path.join(path, "rootfs.tar"), "w") as tf:
        tf.add(busybox_rootfs, arcname=".")
    try:
        yield path
    finally:
        remove_tree(path)


def berth_on(base: str, root: str) -> Berth:
    etc, cache = os.path.join(base, "etc"), os.path.join(base, "pycache")
    os.makedirs(etc, exist_ok=True)
    os.makedirs(cache, exist_ok=True)
    config = os.path.join(etc, "daemon.json")
    with open(config, "w", encoding="utf-8") as fh:
        json.dump({"data-root": root}, fh)
    return Berth(root, config, pycache_env(cache))


def engine_copy_hash() -> str:
    """What an attacker computes: the hash naming the engine copy monitors import (it is predictable)."""
    from ansible_collections.berth.engine.plugins.module_utils.engine.core import libcopy

    src = libcopy._open_source(os.path.join(os.path.dirname(__file__), "..", "..", "plugins", "module_utils"))
    try:
        return libcopy.content_hash(src.files())
    finally:
        src.close()


def payload(marker: str) -> str:
    return f"open({marker!r}, 'w').write('ran as uid %d' % __import__('os').getuid())\n"


def writable_by_others(root: str) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if any(part in path[len(root):] for part in CONTENT):
                continue
            st = os.lstat(path)
            if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o022:
                found.append(f"{path} {stat.S_IMODE(st.st_mode):04o}")
    return found


def test_a_planted_engine_copy_on_a_world_writable_tmpfs_never_runs(base: str) -> None:
    """The data root is a tmpfs with its default mode 1777: another user plants lib/<hash>/ first."""
    root = os.path.join(base, "mnt")
    os.mkdir(root)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", root], check=True)
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o1777
    marker = os.path.join(base, "PWNED")
    planted = os.path.join(root, "lib", engine_copy_hash(), "berth_engine")
    as_nobody("mkdir", "-p", os.path.join(planted, "engine", "runtime"), os.path.join(planted, "engine", "supervisor"))
    for rel in ("__init__.py", "engine/__init__.py", "engine/runtime/__init__.py", "engine/supervisor/__init__.py",
                "engine/supervisor/monitor.py"):
        as_nobody("sh", "-c", 'printf "%s" "$1" > "$2"', "sh", payload(marker), os.path.join(planted, rel))
    assert os.stat(os.path.join(planted, "__init__.py")).st_uid == NOBODY

    b = berth_on(base, root)
    b("import", os.path.join(base, "rootfs.tar"), IMAGE)
    assert b("run", "--rm", IMAGE, "echo", "hello").out == "hello\n"
    assert not os.path.exists(marker), open(marker).read()
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o711
    lib = os.path.join(root, "lib")
    owners = {os.lstat(os.path.join(d, n)).st_uid for d, ds, fs in os.walk(lib) for n in ds + fs}
    assert owners == {0}


def test_a_data_root_another_user_made_is_refused(base: str) -> None:
    """In a sticky world-writable directory another user can make the data root before the engine does."""
    parent = os.path.join(base, "shared")
    os.mkdir(parent)
    os.chmod(parent, 0o1777)
    root = os.path.join(parent, "berth")
    as_nobody("mkdir", "-p", os.path.join(root, "lib"))
    b = berth_on(base, root)
    proc = b("import", os.path.join(base, "rootfs.tar"), IMAGE, rc=None)
    assert proc.returncode != 0
    assert f"data root {root}: owned by uid {NOBODY}" in proc.err, proc.err
    assert "Traceback" not in proc.err


def test_a_data_root_below_another_users_directory_is_refused(base: str) -> None:
    parent = os.path.join(base, "home")
    os.mkdir(parent)
    os.chown(parent, NOBODY, NOBODY)
    b = berth_on(base, os.path.join(parent, "berth"))
    proc = b("images", rc=None)
    assert proc.returncode != 0 and f"directory {parent}: owned by uid {NOBODY}" in proc.err, proc.err
    assert not os.path.exists(os.path.join(parent, "berth"))
    os.chmod(parent, 0o777)
    os.chown(parent, 0, 0)
    proc = b("images", rc=None)
    assert proc.returncode != 0 and "writable by group or others (mode 0777)" in proc.err, proc.err


def test_umask_000_leaves_nothing_others_can_write(base: str) -> None:
    """The CLI run under umask 000 once made lib/, blobs/... 0777 and the engine copy's files 0666."""
    root = os.path.join(base, "root")
    b = berth_on(base, root)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(b.argv(*args), env=b.env, preexec_fn=lambda: os.umask(0), capture_output=True,
                              check=True, timeout=60)

    run("import", os.path.join(base, "rootfs.tar"), IMAGE)
    run("run", "-d", "--name", "web", IMAGE, "sh", "-c", "while true; do sleep 1; done")
    try:
        run("exec", "web", "true")
        assert writable_by_others(root) == []
        (copy,) = [d for d in os.listdir(os.path.join(root, "lib")) if not d.startswith(".")]  # not lib/.stamps
        init = os.path.join(root, "lib", copy, "berth_engine", "__init__.py")
        assert os.path.exists(init)
        proc = as_nobody("sh", "-c", f"echo 'print(1)' >> {init}", check=False)
        assert proc.returncode != 0 and b"Permission denied" in proc.stderr
    finally:  # a failed assertion must not leave the container and its monitor running
        run("rm", "-f", "web")
    assert writable_by_others(root) == []


def test_an_engine_copy_others_could_write_is_replaced_before_use(base: str) -> None:
    """A copy left writable (made by an old version under umask 000) and edited: never imported again."""
    root = os.path.join(base, "root")
    b = berth_on(base, root)
    b("import", os.path.join(base, "rootfs.tar"), IMAGE)
    b("run", "--rm", IMAGE, "true")
    (copy,) = [n for n in os.listdir(os.path.join(root, "lib")) if not n.startswith(".")]
    init = os.path.join(root, "lib", copy, "berth_engine", "__init__.py")
    marker = os.path.join(base, "PWNED")
    os.chmod(init, 0o666)
    with open(init, "a", encoding="utf-8") as fh:
        fh.write(payload(marker))
    assert b("run", "--rm", IMAGE, "echo", "again").out == "again\n"
    assert not os.path.exists(marker)
    with open(init, encoding="utf-8") as fh:
        assert "PWNED" not in fh.read()
    assert stat.S_IMODE(os.stat(init).st_mode) == 0o644


def test_records_and_locks_others_could_write_are_refused(base: str) -> None:
    root = os.path.join(base, "root")
    b = berth_on(base, root)
    b("import", os.path.join(base, "rootfs.tar"), IMAGE)
    cid = b("create", "--name", "box", IMAGE, "true").out.strip()
    record = os.path.join(root, "containers", cid, "config.json")
    os.chmod(record, 0o666)
    proc = b("start", "box", rc=None)
    assert proc.returncode != 0 and f"{record}: writable by group or others (mode 0666)" in proc.err, proc.err
    os.chmod(record, 0o600)
    os.chown(record, NOBODY, NOBODY)
    proc = b("inspect", "box", rc=None)
    assert proc.returncode != 0 and f"{record}: owned by uid {NOBODY}" in proc.err, proc.err
    os.chown(record, 0, 0)
    lock = os.path.join(root, "locks", f"container-{cid}.lock")
    open(lock, "a").close()
    os.chown(lock, NOBODY, NOBODY)
    proc = b("start", "-a", "box", rc=None)
    assert proc.returncode != 0 and f"lock file {lock}: owned by uid {NOBODY}" in proc.err, proc.err
    os.unlink(lock)
    b("start", "-a", "box")
    b("rm", "box")


def test_a_seccomp_cache_others_could_write_is_compiled_again(base: str) -> None:
    root = os.path.join(base, "root")
    b = berth_on(base, root)
    b("import", os.path.join(base, "rootfs.tar"), IMAGE)
    b("run", "--rm", IMAGE, "true")
    caches = [os.path.join(d, n) for d, _ds, fs in os.walk(os.path.join(root, "runtime")) for n in fs
              if n.endswith(".bpf")]
    assert caches, os.listdir(os.path.join(root, "runtime"))
    for path in caches:
        os.chmod(path, 0o666)
        with open(path, "r+b") as fh:
            data = fh.read()
        os.chown(path, NOBODY, NOBODY)
        assert data
    b("run", "--rm", IMAGE, "true")
    for path in caches:
        st = os.stat(path)
        assert st.st_uid == 0 and not st.st_mode & 0o022


def test_an_attach_socket_another_user_listens_on_is_refused(base: str) -> None:
    """Keystrokes for a container never go to a socket another user planted in its place."""
    import socket

    from ansible_collections.berth.engine.plugins.module_utils.engine.core.layout import Layout
    from ansible_collections.berth.engine.plugins.module_utils.engine.errors import UntrustedPath
    from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor import monitor_ops

    layout = Layout(os.path.join(base, "root"))
    cdir = layout.container_dir("c" * 64)
    os.makedirs(cdir)
    for d in (layout.root, layout.containers_dir, cdir):
        os.chmod(d, 0o777)
    path = layout.attach_socket("c" * 64)
    listener = subprocess.Popen(
        ["python3", "-c", "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); "
                          "print('ready', flush=True); c, _ = s.accept(); c.recv(10)", os.path.basename(path)],
        preexec_fn=lambda: (os.setgroups([]), os.setgid(NOBODY), os.setuid(NOBODY)), stdout=subprocess.PIPE,
        cwd=cdir)  # the path is longer than a socket address: bound by its relative name
    try:
        assert listener.stdout.readline() == b"ready\n"
        with pytest.raises(UntrustedPath, match=f"listener runs as uid {NOBODY}"):
            monitor_ops.attach_connect(layout, "c" * 64)
    finally:
        listener.kill()
        listener.wait()
    os.unlink(path)
    server = socket.socket(socket.AF_UNIX)
    old = os.getcwd()
    os.chdir(cdir)
    try:
        server.bind(os.path.basename(path))
    finally:
        os.chdir(old)
    server.listen(1)
    monitor_ops.attach_connect(layout, "c" * 64).close()  # root's own listener: fine
    server.close()
