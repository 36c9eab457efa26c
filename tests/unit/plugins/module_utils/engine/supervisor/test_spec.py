# SPDX-License-Identifier: GPL-3.0-or-later
"""supervisor/spec.build: normalised options + image config -> OCI runtime spec, Docker's rules, table-driven."""
from __future__ import annotations

import builtins
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.errors import InvalidOption
from ansible_collections.berth.engine.plugins.module_utils.engine.options.container import normalise_options
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime import security
from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor import spec

CID = "0123456789ab" + "c" * 52
INF = security.RLIM_INFINITY

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
# a comment
broken line
www:x:33:33:www-data:/var/www:/usr/sbin/nologin
app:x:1000:1000:App,,,:/home/app:/bin/sh
dup:x:1000:5:second entry for 1000::/bin/sh
"""
GROUP = """\
root:x:0:
wheel:x:10:root,app
www:x:33:
staff:x:50:app
app:x:1000:
audio:x:29:www
bad:x:notanumber:app
"""


def db(passwd: str | None = PASSWD, group: str | None = GROUP) -> t.Callable[[str], str | None]:
    return {"passwd": passwd, "group": group}.get


def build(options: dict[str, t.Any] | None = None, image: dict[str, t.Any] | None = None, **kw: t.Any) -> dict:
    """Options go through the real normaliser first, as the service does."""
    opts = normalise_options(options or {})
    kw.setdefault("container_id", CID)
    kw.setdefault("rootfs", "/var/lib/berth/containers/x/rootfs")
    kw.setdefault("user_db", db())
    kw.setdefault("arch", "amd64")
    kw.setdefault("kernel", (6, 1))
    kw.setdefault("cap_last", 40)
    return spec.build(opts, {"Cmd": ["sh"]} if image is None else image, None, **kw)


def env_of(s: dict) -> dict[str, str]:
    return dict(e.split("=", 1) for e in s["process"]["env"])


def mount(s: dict, destination: str) -> dict | None:
    found = [m for m in s["mounts"] if m["destination"] == destination]
    assert len(found) <= 1
    return found[0] if found else None


def ns_types(s: dict) -> dict[str, str | None]:
    return {n["type"]: n.get("path") for n in s["linux"]["namespaces"]}


# ------------------------------------------------------------------ ENTRYPOINT / CMD, as Docker combines them
SH = ["/bin/sh", "-c"]
EXEC_ENTRY = ["exec_entry", "p1_entry"]
SHELL_ENTRY = SH + ["exec_entry p1_entry"]
EXEC_CMD = ["exec_cmd", "p1_cmd"]
SHELL_CMD = SH + ["exec_cmd p1_cmd"]


@pytest.mark.parametrize(
    "entrypoint, cmd, args",
    [
        # Docker docs, "Understand how CMD and ENTRYPOINT interact" (shell forms are lists already)
        (None, EXEC_CMD, EXEC_CMD),
        (None, SHELL_CMD, SHELL_CMD),
        (SHELL_ENTRY, None, SHELL_ENTRY),
        (SHELL_ENTRY, EXEC_CMD, SHELL_ENTRY + EXEC_CMD),
        (SHELL_ENTRY, SHELL_CMD, SHELL_ENTRY + SHELL_CMD),
        (EXEC_ENTRY, None, EXEC_ENTRY),
        (EXEC_ENTRY, EXEC_CMD, EXEC_ENTRY + EXEC_CMD),
        (EXEC_ENTRY, SHELL_CMD, EXEC_ENTRY + SHELL_CMD),
    ],
)
def test_image_entrypoint_and_cmd(entrypoint: list | None, cmd: list | None, args: list) -> None:
    image = {"Entrypoint": entrypoint, "Cmd": cmd}
    assert build({}, image)["process"]["args"] == args


@pytest.mark.parametrize(
    "options, args",
    [
        ({"command": "top -b"}, EXEC_ENTRY + ["top", "-b"]),  # command replaces CMD, keeps ENTRYPOINT
        ({"entrypoint": ["/bin/bash"]}, ["/bin/bash"]),  # entrypoint replaces ENTRYPOINT and clears CMD
        ({"entrypoint": "/bin/bash -x", "command": ["-c", "id"]}, ["/bin/bash", "-x", "-c", "id"]),
        ({"entrypoint": ""}, EXEC_CMD),  # an empty entrypoint resets it and keeps the image's CMD
        ({"entrypoint": [], "command": ["id"]}, ["id"]),
        ({"command": ""}, EXEC_ENTRY + EXEC_CMD),  # an empty command means the image's CMD
    ],
)
def test_task_overrides(options: dict, args: list) -> None:
    assert build(options, {"Entrypoint": EXEC_ENTRY, "Cmd": EXEC_CMD})["process"]["args"] == args


@pytest.mark.parametrize("image, options", [({}, {}), ({"Entrypoint": ["x"]}, {"entrypoint": ""}),
                                            ({"Cmd": [""]}, {})])  # fmt: skip
def test_no_command_is_a_clear_error(image: dict, options: dict) -> None:
    with pytest.raises(InvalidOption) as err:
        build(options, image)
    assert err.value.field == "command" and "no command specified" in err.value.reason


# ------------------------------------------------------------------ user and groups
@pytest.mark.parametrize(
    "user, uid, gid, extra, home",
    [
        ("", 0, 0, [10], "/root"),  # root is a member of wheel
        ("root", 0, 0, [10], "/root"),
        ("app", 1000, 1000, [10, 50], "/home/app"),  # supplementary groups from membership
        ("1000", 1000, 1000, [10, 50], "/home/app"),  # a uid in passwd: first entry wins
        ("www", 33, 33, [29], "/var/www"),
        ("app:staff", 1000, 50, [], "/home/app"),  # an explicit group: no supplementary groups
        ("app:29", 1000, 29, [], "/home/app"),
        ("app:4242", 1000, 4242, [], "/home/app"),  # a numeric gid need not exist
        ("4242", 4242, 0, [], "/"),  # a numeric uid need not exist (Docker allows it)
        ("4242:4243", 4242, 4243, [], "/"),
        ("daemon", 1, 1, [], "/usr/sbin"),
    ],
)
def test_user_resolution(user: str, uid: int, gid: int, extra: list[int], home: str) -> None:
    s = build({"user": user} if user else {})
    assert s["process"]["user"] == {"uid": uid, "gid": gid, **({"additionalGids": extra} if extra else {})}
    assert env_of(s)["HOME"] == home


def test_user_from_the_image_and_groups_option() -> None:
    s = build({"groups": ["audio", "7"]}, {"Cmd": ["sh"], "User": "app"})  # groups: a sorted set
    assert s["process"]["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [10, 50, 7, 29]}
    assert build({"user": "www"}, {"Cmd": ["sh"], "User": "app"})["process"]["user"]["uid"] == 33


def test_no_passwd_file() -> None:
    s = build({"user": "1000:1000"}, user_db=db(None, None))
    assert s["process"]["user"] == {"uid": 1000, "gid": 1000}
    assert build({}, user_db=db(None, None))["process"]["user"] == {"uid": 0, "gid": 0}
    assert env_of(build({}, user_db=db(None, None)))["HOME"] == "/"


@pytest.mark.parametrize(
    "options, field, reason",
    [
        ({"user": "nobody"}, "user", "no user 'nobody'"),
        ({"user": "app:nogroup"}, "user", "no group 'nogroup'"),
        ({"groups": ["video"]}, "groups", "no such group"),
        ({"user": "99999999999"}, "user", "out of range"),
    ],
)
def test_unknown_user_or_group(options: dict, field: str, reason: str) -> None:
    with pytest.raises(InvalidOption) as err:
        build(options)
    assert err.value.field == field and reason in err.value.reason


# ------------------------------------------------------------------ environment, hostname, cwd
def test_env_order_and_merge() -> None:
    image = {"Cmd": ["sh"], "Env": ["PATH=/opt/bin:/bin", "LANG=C", "KEEP=image"]}
    s = build({"env": {"LANG": "de_DE.UTF-8", "NEW": "1"}, "tty": True, "hostname": "web"}, image)
    assert s["process"]["env"] == [
        "PATH=/opt/bin:/bin", "HOSTNAME=web", "TERM=xterm", "LANG=de_DE.UTF-8", "NEW=1", "KEEP=image", "HOME=/root",
    ]  # fmt: skip


def test_env_defaults_and_overrides() -> None:
    env = env_of(build({}))
    assert env == {"PATH": spec.DEFAULT_PATH, "HOSTNAME": CID[:12], "HOME": "/root"}
    assert "TERM" not in env
    env = env_of(build({"tty": True, "env": {"TERM": "vt100", "HOME": "/data", "HOSTNAME": "x"}}))
    assert (env["TERM"], env["HOME"], env["HOSTNAME"]) == ("vt100", "/data", "x")


@pytest.mark.parametrize(
    "options, kw, hostname",
    [
        ({}, {}, CID[:12]),
        ({"hostname": "web"}, {}, "web"),
        ({"network_mode": "host"}, {"host_hostname": "node1"}, "node1"),
        ({"network_mode": "host", "hostname": "web"}, {"host_hostname": "node1"}, "web"),
        ({"network_mode": "none"}, {"host_hostname": "node1"}, CID[:12]),
    ],
)
def test_hostname(options: dict, kw: dict, hostname: str) -> None:
    s = build(options, **kw)
    assert s["hostname"] == hostname and env_of(s)["HOSTNAME"] == hostname


def test_uts_host_has_no_hostname_and_domainname() -> None:
    s = build({"uts": "host"})
    assert "hostname" not in s and "uts" not in ns_types(s)
    assert build({"domainname": "example.com"})["domainname"] == "example.com"
    assert "domainname" not in build({})


@pytest.mark.parametrize(
    "options, image, cwd",
    [({}, {}, "/"), ({}, {"WorkingDir": "/srv/"}, "/srv"), ({"working_dir": "/app"}, {"WorkingDir": "/srv"}, "/app")],
)
def test_cwd(options: dict, image: dict, cwd: str) -> None:
    assert build(options, dict(image, Cmd=["sh"]))["process"]["cwd"] == cwd


# ------------------------------------------------------------------ Docker defaults
def test_default_spec_shape() -> None:
    s = build({"name": "web"})
    assert s["ociVersion"] == "1.0.2"
    assert s["root"] == {"path": "/var/lib/berth/containers/x/rootfs", "readonly": False}
    assert s["process"]["terminal"] is False and s["process"]["noNewPrivileges"] is False
    assert s["process"]["oomScoreAdj"] == 0
    caps = s["process"]["capabilities"]
    assert caps["bounding"] == caps["effective"] == caps["permitted"] == list(security.DOCKER_DEFAULT_CAPS)
    assert "inheritable" not in caps and "ambient" not in caps
    assert s["linux"]["maskedPaths"] == list(spec.MASKED_PATHS)
    assert "/proc/kcore" in s["linux"]["maskedPaths"] and "/sys/firmware" in s["linux"]["maskedPaths"]
    assert s["linux"]["readonlyPaths"] == ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
    assert s["linux"]["cgroupsPath"] == f"/berth/{CID}"
    assert s["annotations"] == {"berth.container.name": "web"}
    assert [n["type"] for n in s["linux"]["namespaces"]] == ["pid", "network", "ipc", "uts", "mount", "cgroup"]
    assert s["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"
    assert "sysctl" not in s["linux"] and "devices" not in s["linux"]


def test_default_mounts() -> None:
    s = build({}, files={"hostname": "/c/hostname", "hosts": "/c/hosts", "resolv.conf": "/c/resolv.conf"})
    assert [m["destination"] for m in s["mounts"]] == [
        "/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm",
        "/etc/hostname", "/etc/hosts", "/etc/resolv.conf",
    ]  # fmt: skip
    assert mount(s, "/dev")["options"] == ["nosuid", "strictatime", "mode=755", "size=65536k"]
    assert mount(s, "/dev/pts")["options"] == ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]
    assert "ro" in mount(s, "/sys")["options"] and "ro" in mount(s, "/sys/fs/cgroup")["options"]
    assert mount(s, "/dev/shm") == {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                                    "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]}
    assert mount(s, "/etc/hosts") == {"destination": "/etc/hosts", "type": "bind", "source": "/c/hosts",
                                      "options": ["rbind", "rprivate"]}  # fmt: skip


def test_shm_size_and_ipc_modes() -> None:
    assert "size=134217728" in mount(build({"shm_size": "128m"}), "/dev/shm")["options"]
    assert mount(build({"ipc_mode": "host"}), "/dev/shm")["source"] == "/dev/shm"
    assert "ipc" not in ns_types(build({"ipc_mode": "host"}))
    assert mount(build({"ipc_mode": "none"}), "/dev/shm") is None
    shared = build({"ipc_mode": "shareable"}, files={"shm": "/c/shm"})
    assert mount(shared, "/dev/shm")["source"] == "/c/shm" and mount(shared, "/dev/shm")["type"] == "bind"


def test_tmpfs_mounts_merge_docker_defaults() -> None:
    s = build({"tmpfs": ["/run", "/tmp:exec,size=64m,mode=1777", "/run/lock:rw,suid", "/dev/shm:size=1g"]})
    assert mount(s, "/run")["options"] == ["noexec", "nosuid", "nodev", "rprivate"]
    assert mount(s, "/tmp")["options"] == ["nosuid", "nodev", "rprivate", "exec", "size=64m", "mode=1777"]
    assert mount(s, "/run/lock")["options"] == ["noexec", "nodev", "rprivate", "rw", "suid"]
    assert mount(s, "/dev/shm") == {"destination": "/dev/shm", "type": "tmpfs", "source": "tmpfs",
                                    "options": ["noexec", "nosuid", "nodev", "rprivate", "size=1g"]}  # fmt: skip
    order = [m["destination"] for m in s["mounts"]]
    assert order.index("/run") < order.index("/run/lock")  # parents first


@pytest.mark.parametrize(
    "words, merged",
    [
        (["noexec", "exec"], ["exec"]),
        (["size=1m", "mode=1777", "size=2m"], ["mode=1777", "size=2m"]),
        (["rprivate", "shared"], ["shared"]),
        (["defaults", "ro"], ["ro"]),
    ],
)
def test_merge_tmpfs_options(words: list[str], merged: list[str]) -> None:
    assert spec.merge_tmpfs_options(words) == merged


def test_privileged() -> None:
    s = build({"privileged": True, "capabilities": ["NET_ADMIN"], "cap_drop": ["ALL"]},
              host_devices={"/dev": [{"path": "/dev/sda", "type": "b", "major": 8, "minor": 0, "fileMode": 0o660,
                                      "uid": 0, "gid": 6}]})  # fmt: skip
    caps = s["process"]["capabilities"]["bounding"]
    assert caps == security.all_caps(40) and len(caps) == 41
    assert "maskedPaths" not in s["linux"] and "readonlyPaths" not in s["linux"]
    assert "seccomp" not in s["linux"]
    assert s["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert s["linux"]["devices"] == [{"path": "/dev/sda", "type": "b", "major": 8, "minor": 0, "fileMode": 0o660,
                                      "uid": 0, "gid": 6}]  # fmt: skip
    assert "ro" not in mount(s, "/sys")["options"] and "ro" not in mount(s, "/sys/fs/cgroup")["options"]


def test_systempaths_unconfined() -> None:
    s = build({"security_opts": ["systempaths=unconfined"]})
    assert "maskedPaths" not in s["linux"] and "readonlyPaths" not in s["linux"]


def test_read_only() -> None:
    s = build({"read_only": True}, files={"hosts": "/c/hosts"})
    assert s["root"]["readonly"] is True
    assert mount(s, "/etc/hosts")["options"] == ["rbind", "rprivate", "ro"]
    assert "ro" not in mount(s, "/dev/shm")["options"]


@pytest.mark.parametrize(
    "options, expected",
    [
        ({"capabilities": ["NET_ADMIN"]}, list(security.DOCKER_DEFAULT_CAPS) + ["CAP_NET_ADMIN"]),
        ({"cap_drop": ["MKNOD", "net_raw"]},
         [c for c in security.DOCKER_DEFAULT_CAPS if c not in ("CAP_MKNOD", "CAP_NET_RAW")]),
        ({"cap_drop": ["ALL"], "capabilities": ["CHOWN"]}, ["CAP_CHOWN"]),
    ],
)  # fmt: skip
def test_capabilities(options: dict, expected: list[str]) -> None:
    assert build(options)["process"]["capabilities"]["effective"] == expected


# ------------------------------------------------------------------ security options and seccomp
def test_no_new_privileges() -> None:
    assert build({"security_opts": ["no-new-privileges"]})["process"]["noNewPrivileges"] is True
    assert build({"security_opts": ["no-new-privileges:false"]})["process"]["noNewPrivileges"] is False


def test_seccomp_default_follows_capabilities() -> None:
    def names(s: dict) -> set[str]:
        return {n for rule in s["linux"]["seccomp"]["syscalls"] for n in rule["names"]}

    plain, admin = build({}), build({"capabilities": ["SYS_ADMIN"]})
    assert "read" in names(plain) and "mount" not in names(plain)
    assert "mount" in names(admin)
    assert plain["linux"]["seccomp"]["architectures"][0] == "SCMP_ARCH_X86_64"
    assert "seccomp" not in build({"security_opts": ["seccomp=unconfined"]})["linux"]


def test_user_seccomp_profile_docker_format() -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
        ],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"name": "exit", "action": "SCMP_ACT_ALLOW"},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_PTRACE"]}},
            {"names": ["new_call"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "6.5"}},
        ],
    }
    s = spec.build({"security_opts": {"seccomp": profile}, "command": ["sh"]}, {}, None, container_id=CID,
                   rootfs="/r", arch="amd64", kernel=(6, 1), cap_last=40)  # fmt: skip
    got = s["linux"]["seccomp"]
    assert got["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert got["defaultErrnoRet"] == 1
    assert [r["names"] for r in got["syscalls"]] == [["read", "write"], ["exit"], ["ptrace"]]


def test_unloaded_seccomp_path_is_refused() -> None:
    with pytest.raises(InvalidOption) as err:
        spec.build({"security_opts": {"seccomp": "/p.json"}, "command": ["sh"]}, {}, None, container_id=CID,
                   rootfs="/r", arch="amd64", kernel=(6, 1))  # fmt: skip
    assert "not loaded" in err.value.reason


# ------------------------------------------------------------------ resources
@pytest.mark.parametrize(
    "options, expected",
    [
        ({"cpus": 1.5}, {"cpu": {"period": 100000, "quota": 150000}}),
        ({"cpus": 0.25, "cpu_shares": 512}, {"cpu": {"shares": 512, "period": 100000, "quota": 25000}}),
        ({"cpu_period": 50000, "cpu_quota": 25000}, {"cpu": {"period": 50000, "quota": 25000}}),
        ({"cpuset_cpus": "0-1", "cpuset_mems": "0"}, {"cpu": {"cpus": "0-1", "mems": "0"}}),
        ({"memory": "512m"}, {"memory": {"limit": 512 << 20, "swap": 1024 << 20}}),
        ({"memory": "512m", "memory_swap": "-1"}, {"memory": {"limit": 512 << 20, "swap": -1}}),
        ({"memory": "512m", "memory_swap": "1g", "memory_reservation": "256m"},
         {"memory": {"limit": 512 << 20, "reservation": 256 << 20, "swap": 1 << 30}}),
        ({"oom_killer": True}, {"memory": {"disableOOMKiller": True}}),
        ({"pids_limit": 100}, {"pids": {"limit": 100}}),
        ({"pids_limit": -1}, {}),
        ({"blkio_weight": 300}, {"blockIO": {"weight": 300}}),
        ({}, {}),
    ],
)  # fmt: skip
def test_resources(options: dict, expected: dict) -> None:
    res = dict(build(options)["linux"]["resources"])
    devices = res.pop("devices")
    assert devices[0] == {"allow": False, "access": "rwm"}
    assert res == expected


def test_default_device_cgroup_rules() -> None:
    rules = build({})["linux"]["resources"]["devices"]
    allowed = {(r.get("type"), r.get("major"), r.get("minor")) for r in rules if r["allow"] and r["access"] == "rwm"}
    for dev in [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2), (10, 200)]:
        assert ("c",) + dev in allowed, dev
    assert ("c", 136, None) in allowed  # /dev/pts/*
    assert rules[0] == {"allow": False, "access": "rwm"}


def test_devices() -> None:
    sda = {"path": "/dev/sda", "type": "b", "major": 8, "minor": 0, "fileMode": 0o660, "uid": 0, "gid": 6}
    snd = [{"path": "/dev/snd/pcmC0D0p", "type": "c", "major": 116, "minor": 16},
           {"path": "/dev/snd/timer", "type": "c", "major": 116, "minor": 33}]  # fmt: skip
    s = build({"devices": ["/dev/sda:/dev/xvda:r", "/dev/snd"]}, host_devices={"/dev/sda": [sda], "/dev/snd": snd})
    assert s["linux"]["devices"] == [
        {"path": "/dev/snd/pcmC0D0p", "type": "c", "major": 116, "minor": 16},
        {"path": "/dev/snd/timer", "type": "c", "major": 116, "minor": 33},
        {"path": "/dev/xvda", "type": "b", "major": 8, "minor": 0, "fileMode": 0o660, "uid": 0, "gid": 6},
    ]
    rules = s["linux"]["resources"]["devices"]
    assert {"allow": True, "type": "b", "major": 8, "minor": 0, "access": "r"} in rules
    assert {"allow": True, "type": "c", "major": 116, "minor": 33, "access": "rwm"} in rules
    with pytest.raises(InvalidOption) as err:
        build({"devices": ["/dev/nope"]}, host_devices={})
    assert err.value.field == "devices" and "no such device" in err.value.reason


# ------------------------------------------------------------------ namespaces
@pytest.mark.parametrize(
    "options, present, absent",
    [
        ({"network_mode": "host"}, ["pid", "ipc", "uts", "mount", "cgroup"], ["network"]),
        ({"network_mode": "none"}, ["network"], []),
        ({"network_mode": "bridge"}, ["network"], []),
        ({"pid_mode": "host"}, ["network"], ["pid"]),
        ({"ipc_mode": "host", "uts": "host"}, ["pid"], ["ipc", "uts"]),
        ({"userns_mode": "private"}, ["user"], []),
        ({}, ["pid", "network", "ipc", "uts", "mount", "cgroup", "user"], []),  # maps given: userns-remap
        ({"userns_mode": "host"}, ["pid", "network", "ipc", "uts", "mount", "cgroup"], ["user"]),
    ],
)
def test_namespaces(options: dict, present: list[str], absent: list[str]) -> None:
    mappings = {"uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
                "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536},
                                {"containerID": 65536, "hostID": 300000, "size": 10}]}  # fmt: skip
    s = build(options, id_mappings=mappings if ("user" in present or options.get("userns_mode")) else None)
    types = ns_types(s)
    assert all(p in types and types[p] is None for p in present)
    assert not any(a in types for a in absent)
    if "user" in present:
        assert s["linux"]["uidMappings"] == mappings["uidMappings"]
        assert s["linux"]["gidMappings"] == mappings["gidMappings"]
    else:
        assert "uidMappings" not in s["linux"] and "gidMappings" not in s["linux"]


def test_no_user_namespace_without_maps() -> None:
    s = build({})
    assert "user" not in ns_types(s) and "uidMappings" not in s["linux"]
    s = build({"userns_mode": "host"}, id_mappings={"uidMappings": [], "gidMappings": []})
    assert "user" not in ns_types(s)


def test_joined_namespaces_and_errors() -> None:
    s = build({"network_mode": "container:db", "pid_mode": "container:db"},
              namespace_paths={"network": "/proc/42/ns/net", "pid": "/proc/42/ns/pid"})  # fmt: skip
    assert ns_types(s)["network"] == "/proc/42/ns/net" and ns_types(s)["pid"] == "/proc/42/ns/pid"
    with pytest.raises(InvalidOption) as err:
        build({"ipc_mode": "container:db"})
    assert err.value.field == "ipc_mode" and "not available" in err.value.reason
    with pytest.raises(InvalidOption) as err:
        build({"userns_mode": "private"})
    assert err.value.field == "userns_mode"


def test_cgroup_parent_and_sysctls() -> None:
    s = build({"cgroup_parent": "/custom", "sysctls": {"net.ipv4.ip_forward": "1"}})
    assert s["linux"]["cgroupsPath"] == f"/custom/{CID}"
    assert s["linux"]["sysctl"] == {"net.ipv4.ip_forward": "1"}


# ------------------------------------------------------------------ init, rlimits, tty, oom
def test_init() -> None:
    s = build({"init": True, "command": ["nginx"]}, init_path="/usr/libexec/berth/init")
    assert s["process"]["args"] == ["/sbin/berth-init", "--", "nginx"]
    assert mount(s, "/sbin/berth-init") == {"destination": "/sbin/berth-init", "type": "bind",
                                            "source": "/usr/libexec/berth/init", "options": ["rbind", "rprivate", "ro"]}
    with pytest.raises(InvalidOption) as err:
        build({"init": True})
    assert err.value.field == "init"


def test_rlimits_override_the_callers() -> None:
    base = [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 20000}, {"type": "RLIMIT_CORE", "soft": 0, "hard": INF}]
    s = build({"ulimits": ["nofile:512:4096", "nproc:-1"]}, base_rlimits=base)
    assert s["process"]["rlimits"] == [
        {"type": "RLIMIT_CORE", "soft": 0, "hard": INF},
        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 4096},
        {"type": "RLIMIT_NPROC", "soft": INF, "hard": INF},
    ]
    assert build({}, base_rlimits=base)["process"]["rlimits"] == sorted(base, key=lambda r: r["type"])


def test_tty_and_oom_score() -> None:
    s = build({"tty": True, "oom_score_adj": -200})
    assert s["process"]["terminal"] is True and s["process"]["oomScoreAdj"] == -200
    assert env_of(s)["TERM"] == "xterm"


class _Daemon:
    def __init__(self, raw: dict) -> None:
        self.raw = raw

    def get(self, key: str) -> t.Any:
        if key not in ("no-new-privileges",):
            raise KeyError(key)
        return self.raw.get(key)


def test_daemon_settings_and_unknown_keys() -> None:
    s = spec.build({"command": ["sh"]}, {}, _Daemon({"no-new-privileges": True}), container_id=CID, rootfs="/r",
                   arch="amd64", kernel=(6, 1))  # fmt: skip
    assert s["process"]["noNewPrivileges"] is True
    assert ns_types(s)["cgroup"] is None  # default-cgroupns-mode is not in the schema: private


def test_daemon_json_keys_spec_reads() -> None:
    """The three keys spec.py reads come from a real, validated daemon.json (they were refused as unknown)."""
    from ansible_collections.berth.engine.plugins.module_utils.engine.config.daemon import DaemonConfig

    daemon = DaemonConfig.from_dict({"no-new-privileges": True, "default-cgroupns-mode": "host",
                                     "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 2048}}})
    s = spec.build({"command": ["sh"]}, {}, daemon, container_id=CID, rootfs="/r", arch="amd64", kernel=(6, 1))
    assert s["process"]["noNewPrivileges"] is True
    assert "cgroup" not in ns_types(s)
    assert {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048} in s["process"]["rlimits"]


def test_build_is_pure(monkeypatch: pytest.MonkeyPatch) -> None:
    """No file is opened: the caller passes everything the host knows."""

    def no_io(*_a: t.Any, **_k: t.Any) -> t.NoReturn:
        raise AssertionError("spec.build opened a file")

    monkeypatch.setattr(builtins, "open", no_io)
    s = build({"privileged": True, "user": "app", "ulimits": ["nofile:10"]}, base_rlimits=[])
    assert s["process"]["user"]["uid"] == 1000
    build({"capabilities": ["ALL"]})


# ------------------------------------------------------------------ helpers the service calls directly
def test_resources_for_update_have_no_device_rules() -> None:
    opts = normalise_options({"memory": "1g", "cpus": 2})
    assert spec.resources(opts) == {"memory": {"limit": 1 << 30, "swap": 2 << 30},
                                    "cpu": {"period": 100000, "quota": 200000}}  # fmt: skip


def test_cgroups_path_takes_the_option_or_the_options() -> None:
    assert spec.cgroups_path(None, "abc") == "/berth/abc"
    assert spec.cgroups_path("/custom", "abc") == "/custom/abc"
    assert spec.cgroups_path({"cgroup_parent": "/custom"}, "abc") == "/custom/abc"
    assert spec.cgroups_path({}, "abc") == "/berth/abc"


def test_exec_process_inherits_the_container_process() -> None:
    container = build({"user": "app", "env": {"A": "1"}, "working_dir": "/srv", "ulimits": ["nofile:10"]},
                      base_rlimits=[])  # fmt: skip
    proc = spec.exec_process(container, ["ls", "-l"], user_db=db())
    assert proc["args"] == ["ls", "-l"] and proc["terminal"] is False
    assert proc["user"] == container["process"]["user"]
    assert proc["env"] == container["process"]["env"]
    assert proc["cwd"] == "/srv"
    assert proc["capabilities"] == container["process"]["capabilities"]
    assert proc["rlimits"] == container["process"]["rlimits"]


def test_exec_process_overrides() -> None:
    container = build({"user": "app", "env": {"A": "1"}})
    proc = spec.exec_process(container, ["id"], user="www", env={"A": "2", "B": "3"}, workdir="/tmp/", tty=True,
                             privileged=True, user_db=db(), cap_last=40)  # fmt: skip
    env = dict(e.split("=", 1) for e in proc["env"])
    assert proc["user"] == {"uid": 33, "gid": 33, "additionalGids": [29]}
    assert (env["A"], env["B"], env["HOME"], env["TERM"]) == ("2", "3", "/var/www", "xterm")
    assert proc["cwd"] == "/tmp" and proc["terminal"] is True
    assert proc["capabilities"]["effective"] == security.all_caps(40)


@pytest.mark.parametrize(
    "kw, field",
    [({"command": []}, "command"), ({"command": ["ls"], "workdir": "rel"}, "chdir"),
     ({"command": ["ls"], "user": "nobody"}, "user")],
)  # fmt: skip
def test_exec_process_errors(kw: dict, field: str) -> None:
    command = kw.pop("command")
    with pytest.raises(InvalidOption) as err:
        spec.exec_process(build({}), command, user_db=db(), **kw)
    assert err.value.field == field


# ------------------------------------------------------------------ what build() writes, runtime/validate.py accepts
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"privileged": True},
        {"tmpfs": ["/run", "/tmp:size=1m"], "read_only": True, "init": True},
        {"network_mode": "host", "uts": "host", "ipc_mode": "host", "pid_mode": "host"},
        {"userns_mode": "private"},
        {"sysctls": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1"}},
        {"ulimits": ["nofile:10:20"], "memory": "1g", "cpus": 1.5, "user": "1000:1000", "groups": ["5"]},
        {"devices": ["/dev/fuse"]},
        {"tty": True, "hostname": "web", "domainname": "example.com"},
    ],
)
def test_built_specs_pass_validation(options: dict, tmp_path: t.Any) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.engine.runtime import validate

    s = build(
        dict(options, command="sh"),
        rootfs=str(tmp_path),
        init_path="/usr/bin/tini-static",
        host_devices={"/dev/fuse": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]},
        id_mappings={"uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
                     "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]},
        base_rlimits=[],
    )  # fmt: skip
    validate.check(s, ctx=validate.Context(hard_limits={}, can_raise_rlimits=True))


def test_secret_env_values_go_to_the_process_env_over_the_image() -> None:
    opts = {"env": {"A": "1"}, "secret_env": {"DB_PASSWORD": "hunter2"}}
    env = spec.process_env(opts, {"Env": ["DB_PASSWORD=image-default", "B=2"]}, hostname="h", home="/root")
    assert env == ["PATH=" + spec.DEFAULT_PATH, "HOSTNAME=h", "A=1", "DB_PASSWORD=hunter2", "B=2", "HOME=/root"]


def test_task_mounts_volumes_binds_and_tmpfs() -> None:
    """The record's mounts (services/containers/mounts.py) as OCI mounts: rbind with the propagation and ro,
    tmpfs with Docker's defaults; they replace a default mount on the same path and come parents first."""
    mounts = [
        {"Type": "volume", "Name": "data", "Source": "/root/volumes/data/_data", "Destination": "/srv/data",
         "RW": True, "Propagation": "", "NoCopy": False, "Anonymous": False},
        {"Type": "bind", "Source": "/etc/app", "Destination": "/srv", "RW": False, "Propagation": "rslave"},
        {"Type": "tmpfs", "Destination": "/dev/shm", "RW": True, "Options": ["mode=1777", "size=1048576"]},
    ]
    s = spec.build({"command": ["sh"]}, {}, None, container_id=CID, rootfs="/r", task_mounts=mounts)
    by_dest = {m["destination"]: m for m in s["mounts"]}
    assert by_dest["/srv/data"] == {"destination": "/srv/data", "type": "bind", "source": "/root/volumes/data/_data",
                                    "options": ["rbind", "rprivate"]}
    assert by_dest["/srv"]["options"] == ["rbind", "rslave", "ro"]
    assert by_dest["/dev/shm"] == {"destination": "/dev/shm", "type": "tmpfs", "source": "tmpfs",
                                   "options": ["noexec", "nosuid", "nodev", "rprivate", "mode=1777", "size=1048576"]}
    assert [m["destination"] for m in s["mounts"]].count("/dev/shm") == 1
    order = [m["destination"] for m in s["mounts"]]
    assert order.index("/srv") < order.index("/srv/data")
