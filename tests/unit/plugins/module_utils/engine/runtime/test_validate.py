# SPDX-License-Identifier: GPL-3.0-or-later
"""validate.check: one bad spec per row, each refused with an InvalidOption naming the field."""
from __future__ import annotations

import copy
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.errors import InvalidOption
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime import validate


def good_spec() -> dict:
    return {
        "ociVersion": "1.0.2",
        "process": {"args": ["sh"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0},
                    "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024}]},
        "root": {"path": "rootfs"},
        "hostname": "box",
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}, {"type": "ipc"},
                           {"type": "network"}],
            "cgroupsPath": "/berth/c1",
            "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000", "fs.mqueue.msg_max": "10"},
            "maskedPaths": ["/proc/kcore"],
            "readonlyPaths": ["/proc/sys"],
            "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}],
        },
    }


@pytest.fixture
def ctx(tmp_path: t.Any) -> validate.Context:
    (tmp_path / "rootfs").mkdir()
    return validate.Context(str(tmp_path), hard_limits={"RLIMIT_NOFILE": 20000, "RLIMIT_NPROC": 100},
                            can_raise_rlimits=False)


def test_good_spec_passes(ctx: validate.Context) -> None:
    validate.check(good_spec(), ctx=ctx)


def _set(spec: dict, path: str, value: t.Any) -> None:
    *parents, last = path.split(".")
    node: t.Any = spec
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if value is DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


DELETE = object()


@pytest.mark.parametrize(
    "path, value, field, reason",
    [
        ("root", DELETE, "spec.root", "missing"),
        ("root.path", "nope", "spec.root.path", "does not exist"),
        ("root.path", "", "spec.root.path", "required"),
        ("process.args", [], "spec.process.args", "non-empty"),
        ("process.args", [""], "spec.process.args", "non-empty"),
        ("process.cwd", "relative", "spec.process.cwd", "absolute"),
        ("process.env", ["NOEQUALS"], "spec.process.env[0]", "KEY=VALUE"),
        ("process.user", {"uid": -1, "gid": 0}, "spec.process.user.uid", "non-negative"),
        ("linux.namespaces", [{"type": "mount"}, {"type": "pidns"}], "spec.linux.namespaces[1].type", "unknown"),
        ("linux.namespaces", [{"type": "mount"}, {"type": "mount"}], "spec.linux.namespaces[1].type", "duplicate"),
        ("linux.namespaces", [{"type": "mount"}, {"type": "network", "path": "rel/ns"}],
         "spec.linux.namespaces[1].path", "absolute"),
        ("linux.namespaces", [{"type": "mount"}, {"type": "network", "path": "/nonexistent/netns"}],
         "spec.linux.namespaces[1].path", "no such namespace"),
        ("linux.namespaces", [{"type": "pid"}, {"type": "uts"}, {"type": "ipc"}, {"type": "network"}],
         "spec.linux.namespaces", "mount namespace is required"),
        ("linux.uidMappings", [{"containerID": 0, "hostID": 1000, "size": 1}], "spec.linux.uidMappings",
         "need a user namespace"),
        ("mounts", [{"destination": "proc", "type": "proc"}], "spec.mounts[0].destination", "absolute"),
        ("mounts", [{"destination": "/x", "options": "ro"}], "spec.mounts[0].options", "list of strings"),
        ("linux.cgroupsPath", "/berth/../etc", "spec.linux.cgroupsPath", "'..'"),
        ("linux.cgroupsPath", "system.slice:berth:c1", "spec.linux.cgroupsPath", "--systemd-cgroup"),
        ("linux.cgroupsPath", "/", "spec.linux.cgroupsPath", "below the root"),
        ("process.rlimits", [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}], "spec.process.rlimits[0].type",
         "unknown rlimit"),
        ("process.rlimits", [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1}] * 2, "spec.process.rlimits[1].type",
         "duplicate"),
        ("process.rlimits", [{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}], "spec.process.rlimits[0].soft",
         "RLIMIT_NOFILE soft limit 2048 is above its hard limit 1024"),
        ("process.rlimits", [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1048576}],
         "spec.process.rlimits[0].hard",
         "RLIMIT_NOFILE hard limit 1048576 is above the current hard limit 20000; raising a hard limit needs "
         "CAP_SYS_RESOURCE"),
        ("process.rlimits", [{"type": "RLIMIT_NPROC", "soft": -1, "hard": 5}], "spec.process.rlimits[0].soft",
         "non-negative"),
        ("linux.sysctl", {"kernel.panic": "1"}, "spec.linux.sysctl.kernel.panic", "not a namespaced sysctl"),
        ("linux.sysctl", {"vm.swappiness": "1"}, "spec.linux.sysctl.vm.swappiness", "not a namespaced sysctl"),
        ("linux.namespaces", [{"type": "mount"}, {"type": "uts"}, {"type": "ipc"}],
         "spec.linux.sysctl.net.ipv4.ip_forward", "network namespace"),
        ("linux.namespaces", [{"type": "mount"}, {"type": "uts"}, {"type": "network"}],
         "spec.linux.sysctl.kernel.shmmax", "IPC namespace"),
        ("linux.namespaces", [{"type": "mount"}, {"type": "network"}, {"type": "ipc"}], "spec.hostname",
         "UTS namespace"),
        ("linux.maskedPaths", ["proc/kcore"], "spec.linux.maskedPaths[0]", "absolute"),
        ("linux.devices", [{"path": "/etc/x", "type": "c"}], "spec.linux.devices[0].path", "below /dev"),
        ("linux.devices", [{"path": "/dev/x", "type": "z"}], "spec.linux.devices[0].type", "c, b, u, p"),
    ],
)
def test_bad_spec_names_the_field(ctx: validate.Context, path: str, value: t.Any, field: str, reason: str) -> None:
    spec = copy.deepcopy(good_spec())
    _set(spec, path, value)
    with pytest.raises(InvalidOption) as info:
        validate.check(spec, ctx=ctx)
    assert info.value.field == field
    assert reason in info.value.reason


def test_user_namespace_needs_mappings(ctx: validate.Context) -> None:
    spec = good_spec()
    spec["linux"]["namespaces"].append({"type": "user"})
    with pytest.raises(InvalidOption, match="spec.linux.uidMappings.*needs id mappings"):
        validate.check(spec, ctx=ctx)
    spec["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    spec["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 0}]
    with pytest.raises(InvalidOption, match=r"spec.linux.gidMappings\[0\]"):
        validate.check(spec, ctx=ctx)


def test_raising_a_hard_limit_is_fine_with_cap_sys_resource(tmp_path: t.Any) -> None:
    (tmp_path / "rootfs").mkdir()
    spec = good_spec()
    spec["process"]["rlimits"][0]["hard"] = 1048576
    validate.check(spec, ctx=validate.Context(str(tmp_path), {"RLIMIT_NOFILE": 20000}, can_raise_rlimits=True))


def test_default_context_reads_this_process(tmp_path: t.Any) -> None:
    (tmp_path / "rootfs").mkdir()
    ctx = validate.Context(str(tmp_path))
    assert ctx.hard_limit("RLIMIT_NOFILE")
    assert isinstance(ctx.can_raise_rlimits(), bool)
    validate.check(good_spec(), str(tmp_path))
