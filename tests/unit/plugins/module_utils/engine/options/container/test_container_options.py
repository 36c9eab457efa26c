# SPDX-License-Identifier: GPL-3.0-or-later
"""The container option table: normalisers, cross-option checks, effective values, comparisons, argspec."""
from __future__ import annotations

import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.errors import InvalidOption
from ansible_collections.berth.engine.plugins.module_utils.engine.options import container as c
from ansible_collections.berth.engine.plugins.module_utils.engine.options.container import kernel
from ansible_collections.berth.engine.plugins.module_utils.engine.options.container import (
    CONTAINER_EXEC_OPTIONS,
    CONTAINER_INFO_OPTIONS,
    CONTAINER_OPTIONS,
    CONTAINER_TASK_OPTIONS,
    ContainerOption,
    differences,
    effective,
    normalise_options,
    parse_comparisons,
    parse_env_file,
)
from ansible_collections.berth.engine.plugins.module_utils.glue.argspec import argument_spec, module_kwargs

MiB = 1024 * 1024
GiB = 1024 * MiB
S = 10**9


def norm(name: str, value: t.Any) -> t.Any:
    return t.cast(ContainerOption, CONTAINER_OPTIONS[name]).normalise(value)


@pytest.fixture(autouse=True)
def eight_cpus_two_nodes(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tables below assume a host with CPUs 0-7 and memory nodes 0-1 online (the kernel's list format);
    test_cpusets_against_this_host checks the real /sys files."""
    (tmp_path / "cpu-online").write_text("0-7\n")
    (tmp_path / "node-online").write_text("0-1\n")
    monkeypatch.setattr(kernel, "ONLINE_FILES", {"cpuset_cpus": str(tmp_path / "cpu-online"),
                                                 "cpuset_mems": str(tmp_path / "node-online")})


# ------------------------------------------------------------------ every normaliser: good values
GOOD = [
    ("memory", "512m", 512 * MiB),
    ("memory", "1g", GiB),
    ("memory", "1.5GB", int(1.5 * GiB)),
    ("memory", "1.5 GiB", int(1.5 * GiB)),
    ("memory", "100", 100),
    ("memory", "100b", 100),
    ("memory", "64K", 64 * 1024),
    ("memory", "2t", 2 << 40),
    ("memory", "1p", 1 << 50),
    ("memory", "0", 0),
    ("memory", 1048576, 1048576),
    ("memory", "8388607t", 8388607 << 40),  # just below the kernel's page-counter range
    ("memory", (1 << 63) - 1, (1 << 63) - 1),
    ("cpus", "8", 8 * S),
    ("cpus", "0", 0),
    ("cpuset_cpus", "0-7", "0-7"),
    ("cpuset_cpus", "0,2-3,7", "0,2-3,7"),
    ("cpuset_mems", "0-1", "0-1"),
    ("name", "a" * 255, "a" * 255),
    ("name", "/web.1_a-b", "web.1_a-b"),
    ("pids_limit", -1, 0),
    ("pids_limit", 4194304, 4194304),
    ("cpu_quota", (1 << 44) - 1, (1 << 44) - 1),
    ("tmpfs", ["/t:uid=1000,gid=0,nr_inodes=10k"], {"/t": "uid=1000,gid=0,nr_inodes=10k"}),
    ("ulimits", ["nofile:-1:-1"], [{"name": "nofile", "soft": -1, "hard": -1}]),
    ("memory_reservation", "256M", 256 * MiB),
    ("memory_swap", "-1", -1),
    ("memory_swap", -1, -1),
    ("memory_swap", "unlimited", -1),
    ("memory_swap", "1g", GiB),
    ("shm_size", "128m", 128 * MiB),
    ("shm_size", "0", 64 * MiB),
    ("cpus", 1.5, 1_500_000_000),
    ("cpus", 0.01, 10_000_000),
    ("cpus", 2, 2_000_000_000),
    ("cpus", "0.5", 500_000_000),
    ("cpu_shares", 512, 512),
    ("cpu_shares", 0, 0),
    ("cpu_period", 100000, 100000),
    ("cpu_quota", 50000, 50000),
    ("cpuset_cpus", "0-3,6", "0-3,6"),
    ("cpuset_cpus", "0, 1", "0,1"),
    ("cpuset_mems", "", ""),
    ("pids_limit", 100, 100),
    ("pids_limit", -1, 0),
    ("blkio_weight", 10, 10),
    ("blkio_weight", 1000, 1000),
    ("restart_retries", 3, 3),
    ("restart_policy", "unless-stopped", "unless-stopped"),
    ("command", "sh -c 'echo hello world'", ["sh", "-c", "echo hello world"]),
    ("command", ["sleep", 10], ["sleep", "10"]),
    ("command", "", None),
    ("command", [], None),
    ("entrypoint", "/bin/sh -c", ["/bin/sh", "-c"]),
    ("entrypoint", ["/entry.sh"], ["/entry.sh"]),
    ("entrypoint", "", []),
    ("entrypoint", [], []),
    ("env", {"A": "1", "B": 2}, {"A": "1", "B": "2"}),
    ("env", {"EMPTY": ""}, {"EMPTY": ""}),
    ("labels", {"com.example.tier": "web"}, {"com.example.tier": "web"}),
    ("user", "nobody", "nobody"),
    ("user", "1000:1000", "1000:1000"),
    ("user", "app:staff", "app:staff"),
    ("user", "", None),
    ("working_dir", "/srv/app/", "/srv/app"),
    ("working_dir", "/a/../b", "/b"),
    ("working_dir", "", None),
    ("hostname", "web-1", "web-1"),
    ("hostname", "web.example.com", "web.example.com"),
    ("domainname", "example.com", "example.com"),
    ("name", "web", "web"),
    ("name", "/web_1.a-b", "web_1.a-b"),
    ("image", "busybox", "docker.io/library/busybox:latest"),
    ("image", "registry.example.com:5000/team/app:1.0", "registry.example.com:5000/team/app:1.0"),
    ("image", "sha256:" + "a" * 64, "sha256:" + "a" * 64),
    ("cgroup_parent", "/custom/", "/custom"),
    ("cgroup_parent", "", None),
    ("ulimits", ["nproc:512", "nofile:1024:2048"],
     [{"name": "nofile", "soft": 1024, "hard": 2048}, {"name": "nproc", "soft": 512, "hard": 512}]),
    ("ulimits", ["core:-1:-1", "NOFILE:10:-1"],
     [{"name": "core", "soft": -1, "hard": -1}, {"name": "nofile", "soft": 10, "hard": -1}]),
    ("sysctls", {"net.ipv4.ip_forward": 1, "kernel.shmmax": "65536"},
     {"kernel.shmmax": "65536", "net.ipv4.ip_forward": "1"}),
    ("sysctls", {"net/ipv4/tcp_syncookies": "1"}, {"net.ipv4.tcp_syncookies": "1"}),
    ("capabilities", ["net_admin", "CAP_SYS_TIME", "NET_ADMIN"], ["CAP_NET_ADMIN", "CAP_SYS_TIME"]),
    ("capabilities", ["all"], ["ALL"]),
    ("cap_drop", ["MKNOD", "cap_chown"], ["CAP_CHOWN", "CAP_MKNOD"]),
    ("privileged", True, True),
    ("read_only", False, False),
    ("init", True, True),
    ("stop_signal", "SIGTERM", "SIGTERM"),
    ("stop_signal", "term", "SIGTERM"),
    ("stop_signal", "9", "SIGKILL"),
    ("stop_signal", "SIGIOT", "SIGABRT"),
    ("stop_signal", "RTMIN+3", "SIGRTMIN+3"),
    ("stop_signal", "SIGRTMAX", "SIGRTMAX"),
    ("stop_signal", "64", "SIGRTMAX"),
    ("stop_signal", "60", "SIGRTMAX-4"),
    ("stop_timeout", 30, 30),
    ("stop_timeout", -1, -1),
    ("healthcheck", {"test": "curl -f http://localhost/", "interval": "1m30s", "timeout": "500ms", "retries": 3},
     {"test": ["CMD-SHELL", "curl -f http://localhost/"], "interval": 90 * S, "timeout": 500_000_000, "retries": 3}),
    ("healthcheck", {"test": ["CMD", "/bin/check", "-v"], "start_period": "1.5s", "start_interval": "2s"},
     {"test": ["CMD", "/bin/check", "-v"], "start_period": 1_500_000_000, "start_interval": 2 * S}),
    ("healthcheck", {"test": "NONE"}, {"test": ["NONE"]}),
    ("healthcheck", {"test": ["NONE"], "interval": "5s"}, {"test": ["NONE"]}),
    ("healthcheck", {"interval": "0"}, {"interval": 0}),
    ("healthcheck", {"interval": "1h2m3s4ms5us6ns"}, {"interval": 3723 * S + 4_005_006}),
    ("log_driver", "none", "none"),
    ("log_options", {"max-size": "10m", "max-file": "3"}, {"max-file": 3, "max-size": 10 * MiB}),
    ("log_options", {"max-file": 2, "max-size": 1024}, {"max-file": 2, "max-size": 1024}),
    ("runtime", "runc", "runc"),
    ("security_opts", ["no-new-privileges"], {"no-new-privileges": True}),
    ("security_opts", ["no-new-privileges:false"], {"no-new-privileges": False}),
    ("security_opts", ["no-new-privileges=true", "seccomp=unconfined"],
     {"no-new-privileges": True, "seccomp": "unconfined"}),
    ("security_opts", ["systempaths=unconfined", "apparmor=unconfined"],
     {"apparmor": "unconfined", "systempaths": "unconfined"}),
    ("network_mode", "host", "host"),
    ("network_mode", "none", "none"),
    ("network_mode", "default", "bridge"),
    ("network_mode", "bridge", "bridge"),
    ("network_mode", "container:db", "container:db"),
    ("network_mode", "backend", "backend"),
    ("ipc_mode", "shareable", "shareable"),
    ("ipc_mode", "", "private"),
    ("ipc_mode", "container:db", "container:db"),
    ("pid_mode", "host", "host"),
    ("pid_mode", "container:abc123", "container:abc123"),
    ("uts", "host", "host"),
    ("userns_mode", "host", "host"),  # kept: with userns-remap on it is not the default
    ("userns_mode", "", ""),
    ("userns_mode", "private", "private"),
    ("devices", ["/dev/fuse"], [{"path_on_host": "/dev/fuse", "path_in_container": "/dev/fuse",
                                 "cgroup_permissions": "rwm"}]),
    ("devices", ["/dev/sda:/dev/xvda:r", "/dev/snd:rw"],
     [{"path_on_host": "/dev/snd", "path_in_container": "/dev/snd", "cgroup_permissions": "rw"},
      {"path_on_host": "/dev/sda", "path_in_container": "/dev/xvda", "cgroup_permissions": "r"}]),
    ("devices", ["/dev/sda:/dev/xvda:mr"],
     [{"path_on_host": "/dev/sda", "path_in_container": "/dev/xvda", "cgroup_permissions": "rm"}]),
    ("tmpfs", ["/run", "/tmp:size=64m, mode=1777"], {"/run": "", "/tmp": "size=64m,mode=1777"}),
    ("tmpfs", ["/var/cache/:exec,uid=1000"], {"/var/cache": "exec,uid=1000"}),
    ("oom_killer", True, True),
    ("oom_score_adj", -500, -500),
    ("groups", ["audio", 44, "audio"], ["44", "audio"]),
    ("tty", True, True),
    ("interactive", False, False),
    ("auto_remove", True, True),
]  # fmt: skip


@pytest.mark.parametrize("name, value, expected", GOOD)
def test_normalise_good(name: str, value: t.Any, expected: t.Any) -> None:
    assert norm(name, value) == expected


# ------------------------------------------------------------------ every normaliser: bad values name the option
BAD = [
    ("memory", "12q", "memory", "not a size"),
    ("memory", "-1", "memory", "not a size"),
    ("memory", "", "memory", "not a size"),
    ("memory", "1.2.3m", "memory", "not a size"),
    ("memory", True, "memory", "size"),
    ("memory_swap", "-2", "memory_swap", "not a size"),
    ("shm_size", "big", "shm_size", "not a size"),
    ("cpus", -1, "cpus", "negative"),
    ("cpus", "lots", "cpus", "number of CPUs"),
    ("cpus", "0.0000000001", "cpus", "too precise"),
    ("cpu_shares", 1, "cpu_shares", "between 2 and 262144"),
    ("cpu_period", 999, "cpu_period", "between 1000 and 1000000"),
    ("cpu_quota", 10, "cpu_quota", "between 1000 and"),
    ("cpuset_cpus", "a-b", "cpuset_cpus", "0-3"),
    ("cpuset_cpus", "3-1", "cpuset_cpus", "descending"),
    ("blkio_weight", 5, "blkio_weight", "between 10 and 1000"),
    ("restart_retries", -1, "restart_retries", "at least 0"),
    ("restart_policy", "sometimes", "restart_policy", "must be one of"),
    ("command", "sh -c 'unterminated", "command", "cannot be split"),
    ("command", {"a": 1}, "command", "string or a list"),
    ("command", ["ok", None], "command[1]", "must be a string"),
    ("env", {"A": True}, "env.A", "quote"),
    ("env", {"A": 1.5}, "env.A", "quote"),
    ("env", {"A": None}, "env.A", "quote"),
    ("env", {"A B": "x"}, "env", "whitespace"),
    ("env", {"A=B": "x"}, "env", "'='"),
    ("env", ["A=1"], "env", "dictionary"),
    ("labels", {"a": False}, "labels.a", "quote"),
    ("user", "a:b:c", "user", "user:group"),
    ("user", "a b", "user", "user:group"),
    ("working_dir", "relative/dir", "working_dir", "absolute"),
    ("hostname", "bad_host", "hostname", "RFC 1123"),
    ("hostname", "a" * 65, "hostname", "RFC 1123"),
    ("hostname", "-lead", "hostname", "RFC 1123"),
    ("domainname", "bad..dom", "domainname", "RFC 1123"),
    ("name", "a", "name", "at least two"),
    ("name", "bad name", "name", "container names"),
    ("image", "bad//name", "image", ""),
    ("image", "", "image", "empty"),
    ("cgroup_parent", "/a/../b", "cgroup_parent", ".."),
    ("ulimits", ["nofile"], "ulimits[0]", "name:soft"),
    ("ulimits", ["bogus:1"], "ulimits[0]", "unknown ulimit"),
    ("ulimits", ["nofile:2048:1024"], "ulimits[0]", "soft limit"),
    ("ulimits", ["nofile:x"], "ulimits[0]", "integers"),
    ("ulimits", ["nofile:-2"], "ulimits[0]", "-1"),
    ("ulimits", ["nofile:1", "nofile:2"], "ulimits[1]", "twice"),
    ("ulimits", "nofile:1", "ulimits", "list"),
    ("sysctls", {"kernel.hostname": "x"}, "sysctls", "namespaced"),
    ("sysctls", {"vm.swappiness": "1"}, "sysctls", "namespaced"),
    ("sysctls", {"net.ipv4.ip_forward": True}, "sysctls.net.ipv4.ip_forward", "quote"),
    ("capabilities", ["NET_ADMINS"], "capabilities[0]", "unknown capability"),
    ("cap_drop", [1], "cap_drop[0]", "capability name"),
    ("privileged", "yes", "privileged", "boolean"),
    ("stop_signal", "SIGFOO", "stop_signal", "unknown signal"),
    ("stop_signal", "0", "stop_signal", "no such signal"),
    ("stop_signal", "65", "stop_signal", "no such signal"),
    ("stop_signal", "RTMIN-1", "stop_signal", "RTMIN+n"),
    ("stop_timeout", -2, "stop_timeout", "at least -1"),
    ("healthcheck", {"test": ["curl", "x"]}, "healthcheck.test", "CMD, CMD-SHELL or NONE"),
    ("healthcheck", {"test": ["CMD-SHELL", "a", "b"]}, "healthcheck.test", "exactly one"),
    ("healthcheck", {"test": ["CMD"]}, "healthcheck.test", "needs a command"),
    ("healthcheck", {"test": 5}, "healthcheck.test", "shell command"),
    ("healthcheck", {"interval": "30"}, "healthcheck.interval", "missing unit"),
    ("healthcheck", {"interval": "-5s"}, "healthcheck.interval", "not a duration"),
    ("healthcheck", {"interval": "1d"}, "healthcheck.interval", "not a duration"),
    ("healthcheck", {"interval": 30}, "healthcheck.interval", "duration string"),
    ("healthcheck", {"timeout": "500us"}, "healthcheck.timeout", "at least 1ms"),
    ("healthcheck", {"retries": -1}, "healthcheck.retries", "at least 0"),
    ("healthcheck", {"tests": "x"}, "healthcheck.tests", "unknown key"),
    ("log_driver", "syslog", "log_driver", "json-file, none"),
    ("log_options", {"max-size": "big"}, "log_options.max-size", "not a size"),
    ("log_options", {"max-size": "0"}, "log_options.max-size", "more than 0"),
    ("log_options", {"max-file": 0}, "log_options.max-file", "at least 1"),
    ("log_options", {"compress": "true"}, "log_options.compress", "not supported"),
    ("log_options", {"labels": "a"}, "log_options.labels", "unknown json-file"),
    ("runtime", "bad runtime", "runtime", "configured runtime"),
    ("security_opts", ["label=disable"], "security_opts[0]", "SELinux"),
    ("security_opts", ["apparmor=docker-default"], "security_opts[0]", "AppArmor"),
    ("security_opts", ["no-new-privileges:maybe"], "security_opts[0]", "true or false"),
    ("security_opts", ["systempaths=confined"], "security_opts[0]", "systempaths=unconfined"),
    ("security_opts", ["seccomp"], "security_opts[0]", "unknown security option"),
    ("security_opts", ["mask=/proc/x"], "security_opts[0]", "unknown security option"),
    ("network_mode", "container:", "network_mode", "container:<name"),
    ("network_mode", "bad mode!", "network_mode", "host, none"),
    ("ipc_mode", "public", "ipc_mode", "private, shareable"),
    ("pid_mode", "private", "pid_mode", "host or container"),
    ("uts", "private", "uts", "host"),
    ("userns_mode", "keep-id", "userns_mode", "host or private"),
    ("devices", ["dev/sda"], "devices[0]", "absolute"),
    ("devices", ["/dev/sda:/dev/xvda:rwx"], "devices[0]", "r, w and m"),
    ("devices", ["/a:/b:r:x"], "devices[0]", "too many"),
    ("devices", ["/dev/a:/dev/x", "/dev/b:/dev/x"], "devices[1]", "two devices"),
    ("tmpfs", ["run"], "tmpfs[0]", "absolute"),
    ("tmpfs", ["/"], "tmpfs[0]", "over /"),
    ("tmpfs", ["/run:bogus"], "tmpfs[0]", "unknown tmpfs option"),
    ("tmpfs", ["/run:size=lots"], "tmpfs[0]", "not a size"),
    ("tmpfs", ["/run:mode=999"], "tmpfs[0]", "not octal"),
    ("tmpfs", ["/run", "/run/"], "tmpfs[1]", "two tmpfs"),
    ("oom_score_adj", 1001, "oom_score_adj", "between -1000 and 1000"),
    ("groups", ["a:b"], "groups[0]", "group name"),
    ("groups", [True], "groups[0]", "group name"),
    # beyond what the kernel (or Docker) takes: refused before anything exists
    ("memory", "99999999999999999999999g", "memory", "too large"),
    ("memory", 1 << 63, "memory", "too large"),
    ("memory", "8388608t", "memory", "too large"),
    ("memory", "9" * 5000, "memory", "not a size"),
    ("memory_reservation", "99999999999999p", "memory_reservation", "too large"),
    ("memory_swap", "99999999999999p", "memory_swap", "too large"),
    ("shm_size", "99999999999999999g", "shm_size", "too large"),
    ("tmpfs", ["/run:size=99999999999999999g"], "tmpfs[0]", "too large"),
    ("tmpfs", ["/run:nr_inodes=99999999999999999g"], "tmpfs[0]", "too large"),
    ("tmpfs", ["/run:uid=-1"], "tmpfs[0]", "uid"),
    ("tmpfs", ["/run:gid=4294967295"], "tmpfs[0]", "gid"),
    ("log_options", {"max-size": "99999999999999999g"}, "log_options.max-size", "too large"),
    ("cpus", "9", "cpus", "0.01 to 8"),
    ("cpus", "0.001", "cpus", "smallest"),
    ("cpus", "1e400", "cpus", "number of CPUs"),
    ("cpus", float("nan"), "cpus", "number of CPUs"),
    ("cpus", "9" * 5000, "cpus", "number of CPUs"),
    ("cpuset_cpus", "0-99999", "cpuset_cpus", "CPUs 8, 9, 10 not available on this host (online: 0-7)"),
    ("cpuset_cpus", "8", "cpuset_cpus", "not available"),
    ("cpuset_cpus", "9" * 5000, "cpuset_cpus", "0-3"),
    ("cpuset_mems", "2", "cpuset_mems", "memory nodes 2 not available on this host (online: 0-1)"),
    ("cpu_quota", 1 << 44, "cpu_quota", "between 1000 and"),
    ("pids_limit", 4194305, "pids_limit", "at most 4194304"),
    ("restart_retries", 1 << 31, "restart_retries", "between 0 and 2147483647"),
    ("stop_timeout", 10**30, "stop_timeout", "between -1 and 2147483647"),
    ("ulimits", ["nofile:99999999999999999999"], "ulimits[0]", "at most"),
    ("ulimits", ["nofile:" + "9" * 5000], "ulimits[0]", "integers"),
    ("healthcheck", {"interval": "9999999999h"}, "healthcheck.interval", "too long"),
    ("healthcheck", {"interval": "9" * 5000 + "s"}, "healthcheck.interval", "not a duration"),
    ("cpuset_cpus", "\u0b6c", "cpuset_cpus", "0-3"),  # ASCII digits only: the kernel reads this list
    ("memory", "\u0b6c\u0b6cm", "memory", "not a size"),
    ("tmpfs", ["/run:uid=\u00b2"], "tmpfs[0]", "uid"),
    ("stop_signal", "\u00b2", "stop_signal", "unknown signal"),
    ("name", "a" * 256, "name", "at most 255 characters"),
    ("name", "a" * 5000, "name", "at most 255 characters"),
    # NUL bytes: the kernel would cut the string there
    ("env", {"A": "x\0y"}, "env.A", "NUL"),
    ("env", {"A\0B": "x"}, "env", "NUL"),
    ("labels", {"a": "\0"}, "labels.a", "NUL"),
    ("command", ["sh", "-c", "echo\0"], "command[2]", "NUL"),
    ("command", "echo \0", "command", "NUL"),
    ("entrypoint", ["/bin/sh\0x"], "entrypoint[0]", "NUL"),
    ("hostname", "a\0b", "hostname", "NUL"),
    ("domainname", "a\0b", "domainname", "NUL"),
    ("working_dir", "/a\0b", "working_dir", "NUL"),
    ("user", "root\0", "user", "NUL"),
    ("image", "busybox\0", "image", "NUL"),
    ("name", "web\0", "name", "NUL"),
    ("cgroup_parent", "/a\0", "cgroup_parent", "NUL"),
    ("sysctls", {"net.core.somaxconn": "1\0"}, "sysctls.net.core.somaxconn", "NUL"),
    ("devices", ["/dev/fuse\0"], "devices[0]", "NUL"),
    ("tmpfs", ["/run\0"], "tmpfs[0]", "NUL"),
    ("healthcheck", {"test": ["CMD", "true\0"]}, "healthcheck.test[1]", "NUL"),
    ("security_opts", ["seccomp=/p\0"], "security_opts[0]", "NUL"),
    ("groups", ["a\0"], "groups[0]", "NUL"),
]  # fmt: skip


@pytest.mark.parametrize("name, value, field, reason", BAD)
def test_normalise_bad(name: str, value: t.Any, field: str, reason: str) -> None:
    with pytest.raises(InvalidOption) as err:
        norm(name, value)
    assert err.value.field == field
    assert reason in err.value.reason
    assert field in str(err.value)


def test_cpusets_against_this_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real /sys lists: what is online is accepted, one past the last CPU or node is not."""
    monkeypatch.undo()
    for name, path in c.ONLINE_FILES.items():
        try:
            with open(path) as fh:
                text = fh.read().strip()
        except OSError:
            text = "0"  # no NUMA node directory: node 0 only
        assert norm(name, text) == text
        last = max(hi for _lo, hi in c.parse_cpu_list(text))
        with pytest.raises(InvalidOption, match=f"{last + 1} not available on this host") as err:
            norm(name, f"0-{last + 1}")
        assert err.value.field == name


def test_parse_cpu_list_and_missing_from() -> None:
    assert c.parse_cpu_list("0-3,6\n") == [(0, 3), (6, 6)]
    have = [(0, 3), (6, 6)]
    assert c.missing_from([(0, 3), (6, 6)], have) == []
    assert c.missing_from([(2, 10**9)], have) == [4, 5, 7]  # walks ranges, never expands them


def test_a_long_value_is_shortened_in_the_message() -> None:
    with pytest.raises(InvalidOption) as err:
        norm("name", "a" * 5000)
    assert len(str(err.value)) < 400
    assert "5000 characters" in str(err.value)


def test_none_means_not_specified_for_every_option() -> None:
    for opt in CONTAINER_OPTIONS:
        assert t.cast(ContainerOption, opt).normalise(None) is None


def test_every_comparable_option_has_a_normaliser() -> None:
    for opt in CONTAINER_OPTIONS:
        copt = t.cast(ContainerOption, opt)
        assert copt.normaliser is not None or opt.name == "env_file", opt.name


# ------------------------------------------------------------------ env_file
def test_parse_env_file_like_docker() -> None:
    text = (
        "\ufeff# comment\n"
        "\n"
        "   A=1\n"
        "B='quoted stays'\n"
        "C=with=equals\n"
        "EMPTY=\n"
        "FROM_CALLER\n"
        "UNSET_IN_CALLER\n"
        "  # indented comment\n"
    )
    got = parse_env_file(text, {"FROM_CALLER": "yes"}.get)
    assert got == {"A": "1", "B": "'quoted stays'", "C": "with=equals", "EMPTY": "", "FROM_CALLER": "yes"}


@pytest.mark.parametrize("line, reason", [("=value", "no variable name"), ("MY VAR=1", "whitespace"),
                                          ("A=x\0y", "NUL byte"), ("A\0=1", "NUL byte")])
def test_parse_env_file_errors_name_the_line(line: str, reason: str) -> None:
    with pytest.raises(InvalidOption) as err:
        parse_env_file("OK=1\n" + line + "\n", {}.get, source="/etc/app.env")
    assert err.value.field == "env_file"
    assert "line 2" in err.value.reason and reason in err.value.reason


def test_env_file_is_merged_below_env_and_not_kept() -> None:
    files = {"/app.env": "A=file\nB=file\nHOME_DIR\n"}
    got = normalise_options(
        {"env_file": "/app.env", "env": {"B": "task"}}, read_file=files.__getitem__, environ={"HOME_DIR": "/h"}
    )
    assert got == {"env": {"A": "file", "B": "task", "HOME_DIR": "/h"}}


def test_unreadable_env_file_names_the_option() -> None:
    def missing(path: str) -> str:
        raise FileNotFoundError(2, "No such file or directory", path)

    with pytest.raises(InvalidOption) as err:
        normalise_options({"env_file": "/nope.env"}, read_file=missing)
    assert err.value.field == "env_file" and err.value.reason == "cannot read it: no such file or directory"
    with pytest.raises(InvalidOption) as err:  # the real file system: no "[Errno 2]" either
        normalise_options({"security_opts": ["seccomp=/nonexistent/profile.json"]})
    assert err.value.reason == "cannot read the profile: no such file or directory"
    assert "Errno" not in str(err.value)


def test_seccomp_profile_path_is_loaded() -> None:
    files = {"/p.json": '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []}', "/bad.json": "{", "/no.json": "{}"}
    got = normalise_options({"security_opts": ["seccomp=/p.json"]}, read_file=files.__getitem__)
    assert got["security_opts"]["seccomp"] == {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []}
    for path, reason in (("/bad.json", "not valid JSON"), ("/no.json", "no defaultAction")):
        with pytest.raises(InvalidOption) as err:
            normalise_options({"security_opts": [f"seccomp={path}"]}, read_file=files.__getitem__)
        assert err.value.field == "security_opts" and reason in err.value.reason


# ------------------------------------------------------------------ normalise_options + cross-option checks
def test_normalise_options_keeps_only_what_was_set() -> None:
    params = dict.fromkeys(CONTAINER_TASK_OPTIONS.names())
    params.update(name="web", image="busybox", memory="1g", state="started", pull="always", privileged=False)
    assert normalise_options(params) == {
        "name": "web",
        "image": "docker.io/library/busybox:latest",
        "memory": GiB,
        "privileged": False,
    }


def test_restart_policy_shorthand() -> None:
    got = normalise_options({"restart_policy": "on-failure:3"})
    assert got == {"restart_policy": "on-failure", "restart_retries": 3}
    assert normalise_options({"restart_policy": "on-failure:3", "restart_retries": 3})["restart_retries"] == 3
    with pytest.raises(InvalidOption) as err:
        normalise_options({"restart_policy": "on-failure:3", "restart_retries": 5})
    assert err.value.field == "restart_retries"
    with pytest.raises(InvalidOption) as err:
        normalise_options({"restart_policy": "on-failure:x"})
    assert err.value.field == "restart_policy"


CROSS = [
    ({"memory": "4m"}, "memory", "6MB"),
    ({"memory_swap": "1g"}, "memory_swap", "set memory too"),
    ({"memory": "1g", "memory_swap": "512m"}, "memory_swap", "at least memory"),
    ({"memory": "512m", "memory_reservation": "1g"}, "memory_reservation", "must not exceed"),
    ({"memory_reservation": "1m"}, "memory_reservation", "minimum memory reservation is 6MB"),
    ({"cpus": 1, "cpu_quota": 50000}, "cpus", "conflicts"),
    ({"cpus": 1, "cpu_period": 50000}, "cpus", "conflicts"),
    ({"restart_retries": 3}, "restart_retries", "on-failure"),
    ({"restart_policy": "always", "restart_retries": 3}, "restart_retries", "on-failure"),
    ({"auto_remove": True, "restart_policy": "always"}, "auto_remove", "restart_policy=always"),
    ({"hostname": "h", "uts": "host"}, "hostname", "uts=host"),
    ({"hostname": "h", "network_mode": "container:db"}, "hostname", "another container"),
    ({"privileged": True, "userns_mode": "private"}, "privileged", "userns_mode=private"),
    ({"sysctls": {"net.ipv4.ip_forward": "1"}, "network_mode": "host"}, "sysctls", "network_mode=host"),
    ({"sysctls": {"kernel.shmmax": "1"}, "ipc_mode": "host"}, "sysctls", "ipc_mode=host"),
    ({"sysctls": {"fs.mqueue.msg_max": "1"}, "ipc_mode": "host"}, "sysctls", "ipc_mode=host"),
    ({"log_driver": "none", "log_options": {"max-file": 2}}, "log_options", "none log driver"),
]


@pytest.mark.parametrize("params, field, reason", CROSS)
def test_cross_option_checks(params: dict[str, t.Any], field: str, reason: str) -> None:
    with pytest.raises(InvalidOption) as err:
        normalise_options(params)
    assert err.value.field == field and reason in err.value.reason


@pytest.mark.parametrize(
    "params",
    [
        {"memory": "1g", "memory_swap": "-1"},
        {"memory": "1g", "memory_swap": "1g"},
        {"memory": "1g", "memory_reservation": "512m"},
        {"memory_reservation": "512m"},
        {"cpu_period": 100000, "cpu_quota": 50000},
        {"restart_policy": "on-failure", "restart_retries": 2},
        {"auto_remove": True, "restart_policy": "no"},
        {"hostname": "h", "network_mode": "host"},
        {"sysctls": {"kernel.shmmax": "1"}, "network_mode": "host"},
    ],
)
def test_cross_option_checks_accept(params: dict[str, t.Any]) -> None:
    normalise_options(params)


# ------------------------------------------------------------------ effective values (Docker's merge rules)
IMAGE = {
    "Env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"],
    "Cmd": ["nginx", "-g", "daemon off;"],
    "Entrypoint": ["/docker-entrypoint.sh"],
    "User": "www",
    "WorkingDir": "/srv/",
    "Labels": {"maintainer": "x", "tier": "base"},
    "StopSignal": "SIGQUIT",
    "Healthcheck": {"Test": ["CMD-SHELL", "curl -f localhost"], "Interval": 30 * S, "Retries": 3},
}


def test_effective_without_options_is_the_image_and_engine_defaults() -> None:
    eff = effective({}, IMAGE)
    assert eff["env"] == {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    assert eff["entrypoint"] == ["/docker-entrypoint.sh"]
    assert eff["command"] == ["nginx", "-g", "daemon off;"]
    assert eff["user"] == "www"
    assert eff["working_dir"] == "/srv"
    assert eff["labels"] == {"maintainer": "x", "tier": "base"}
    assert eff["stop_signal"] == "SIGQUIT"
    assert eff["healthcheck"] == {"test": ["CMD-SHELL", "curl -f localhost"], "interval": 30 * S, "retries": 3}
    assert eff["restart_policy"] == "no" and eff["privileged"] is False and eff["shm_size"] == 64 * MiB
    assert eff["network_mode"] == "bridge" and eff["ipc_mode"] == "private" and eff["capabilities"] == []
    assert "name" not in eff and "image" not in eff and "env_file" not in eff


def test_effective_with_no_image_config() -> None:
    eff = effective({}, None)
    assert eff["command"] == [] and eff["entrypoint"] == [] and eff["env"] == {}
    assert eff["user"] == "" and eff["working_dir"] == "/" and eff["stop_signal"] == "SIGTERM"
    assert eff["healthcheck"] is None


@pytest.mark.parametrize(
    "options, entrypoint, command",
    [
        ({}, ["/docker-entrypoint.sh"], ["nginx", "-g", "daemon off;"]),
        ({"command": ["sh"]}, ["/docker-entrypoint.sh"], ["sh"]),
        ({"entrypoint": ["/bin/sh"]}, ["/bin/sh"], []),
        ({"entrypoint": ["/bin/sh"], "command": ["-c", "x"]}, ["/bin/sh"], ["-c", "x"]),
        ({"entrypoint": []}, [], ["nginx", "-g", "daemon off;"]),
        ({"entrypoint": [], "command": ["top"]}, [], ["top"]),
    ],
)
def test_effective_entrypoint_and_cmd(options: dict[str, t.Any], entrypoint: list[str], command: list[str]) -> None:
    eff = effective(options, IMAGE)
    assert (eff["entrypoint"], eff["command"]) == (entrypoint, command)


def test_effective_env_labels_and_healthcheck_merge() -> None:
    eff = effective({"env": {"LANG": "de_DE.UTF-8", "X": "1"}, "labels": {"tier": "web"},
                     "healthcheck": {"interval": 10 * S}}, IMAGE)  # fmt: skip
    assert eff["env"] == {"PATH": "/usr/bin:/bin", "LANG": "de_DE.UTF-8", "X": "1"}
    assert eff["labels"] == {"maintainer": "x", "tier": "web"}
    assert eff["healthcheck"] == {"test": ["CMD-SHELL", "curl -f localhost"], "interval": 10 * S, "retries": 3}
    assert effective({"healthcheck": {"test": ["NONE"]}}, IMAGE)["healthcheck"] == {"test": ["NONE"]}


# ------------------------------------------------------------------ differences: THE comparator over effective values
def diff_names(desired: dict[str, t.Any], current: dict[str, t.Any], **kw: t.Any) -> list[str]:
    kw.setdefault("desired_image", IMAGE)
    kw.setdefault("current_image", IMAGE)
    return [d.name for d in differences(desired, current, **kw)]


@pytest.mark.parametrize(
    "desired, current, names",
    [
        # a value inherited from the image is not a difference
        ({"command": ["nginx", "-g", "daemon off;"]}, {}, []),
        ({"env": {"LANG": "C.UTF-8"}}, {}, []),
        ({"user": "www"}, {}, []),
        ({"working_dir": "/srv"}, {}, []),
        ({"labels": {"tier": "base"}}, {}, []),
        ({"stop_signal": "SIGQUIT"}, {}, []),
        ({"entrypoint": ["/docker-entrypoint.sh"]}, {"entrypoint": ["/docker-entrypoint.sh"]}, []),
        ({"healthcheck": {"retries": 3}}, {}, []),
        # an engine default is not a difference either
        ({"privileged": False, "restart_policy": "no", "memory": 0, "shm_size": 64 * MiB}, {}, []),
        ({"network_mode": "bridge", "ipc_mode": "private", "capabilities": [], "sysctls": {}}, {}, []),
        ({"network_mode": "none"}, {}, ["network_mode"]),  # unset is the default bridge, as in Docker
        # unset options are never compared, whatever the container has
        ({}, {"memory": GiB, "env": {"A": "1"}, "privileged": True}, []),
        # real differences
        ({"command": ["sh"]}, {}, ["command"]),
        ({"env": {"LANG": "C"}}, {}, ["env"]),
        ({"env": {"A": "1"}}, {"env": {"A": "1", "B": "2"}}, ["env"]),  # removing a variable recreates
        ({"labels": {"a": "1"}}, {"labels": {"a": "1", "b": "2"}}, ["labels"]),
        ({"privileged": True}, {}, ["privileged"]),
        ({"memory": GiB}, {"memory": 2 * GiB}, ["memory"]),
        # an entrypoint decides the CMD, so command is compared when entrypoint is given
        ({"entrypoint": ["/docker-entrypoint.sh"]}, {}, ["command"]),
        # order-insensitive sets
        ({"capabilities": ["CAP_A", "CAP_B"]}, {"capabilities": ["CAP_B", "CAP_A"]}, []),
        ({"ulimits": [{"name": "a", "soft": 1, "hard": 1}, {"name": "b", "soft": 2, "hard": 2}]},
         {"ulimits": [{"name": "b", "soft": 2, "hard": 2}, {"name": "a", "soft": 1, "hard": 1}]}, []),
        ({"devices": [{"path_on_host": "/x", "path_in_container": "/x", "cgroup_permissions": "r"},
                      {"path_on_host": "/y", "path_in_container": "/y", "cgroup_permissions": "r"}]},
         {"devices": [{"path_on_host": "/y", "path_in_container": "/y", "cgroup_permissions": "r"},
                      {"path_on_host": "/x", "path_in_container": "/x", "cgroup_permissions": "r"}]}, []),
        ({"capabilities": ["CAP_A"]}, {"capabilities": ["CAP_A", "CAP_B"]}, ["capabilities"]),
        # command order matters
        ({"command": ["a", "b"]}, {"command": ["b", "a"]}, ["command"]),
        # stop_timeout is ignored by default (community.docker)
        ({"stop_timeout": 30}, {"stop_timeout": 5}, []),
    ],
)  # fmt: skip
def test_differences(desired: dict[str, t.Any], current: dict[str, t.Any], names: list[str]) -> None:
    assert diff_names(desired, current) == names


def test_differences_use_each_sides_own_image() -> None:
    old = dict(IMAGE, Env=["LANG=C"])
    assert diff_names({"env": {"X": "1"}}, {"env": {"X": "1"}}, current_image=old) == ["env"]
    assert diff_names({"env": {"X": "1"}}, {"env": {"X": "1"}}, current_image=IMAGE) == []


def test_difference_records_before_after_and_updatable() -> None:
    (mem,) = differences({"memory": GiB}, {"memory": 2 * GiB})
    assert (mem.before, mem.after, mem.updatable, mem.comparison_type) == (2 * GiB, GiB, True, "value")
    (priv,) = differences({"privileged": True}, {})
    assert (priv.before, priv.after, priv.updatable) == (False, True, False)


def test_user_comparisons_override_defaults() -> None:
    modes = parse_comparisons({"env": "allow_more_present", "cap_add": "ignore", "image": "ignore"})
    assert modes["env"] == "allow_more_present" and modes["capabilities"] == "ignore" and modes["image"] == "ignore"
    assert diff_names({"env": {"A": "1"}}, {"env": {"A": "1", "B": "2"}}, comparisons=modes) == []
    assert diff_names({"capabilities": ["CAP_X"]}, {}, comparisons=modes) == []
    star = parse_comparisons({"*": "ignore", "memory": "strict"})
    assert star["image"] == "ignore" and star["privileged"] == "ignore" and star["memory"] == "strict"
    assert diff_names({"privileged": True, "memory": GiB}, {}, comparisons=star) == ["memory"]


@pytest.mark.parametrize(
    "value, field, reason",
    [
        ({"*": "allow_more_present"}, "comparisons.*", "strict or ignore"),
        ({"bogus": "strict"}, "comparisons", "not an option"),
        ({"state": "strict"}, "comparisons", "not an option"),
        ({"memory": "loose"}, "comparisons.memory", "strict, ignore"),
        ({"memory": "allow_more_present"}, "comparisons.memory", "list, set or dictionary"),
        ({"capabilities": "strict", "cap_add": "ignore"}, "comparisons", "already given"),
        (["memory"], "comparisons", "dictionary"),
    ],
)
def test_bad_comparisons(value: t.Any, field: str, reason: str) -> None:
    with pytest.raises(InvalidOption) as err:
        parse_comparisons(value)
    assert err.value.field == field and reason in err.value.reason


# ------------------------------------------------------------------ the table itself and the argument_spec
def test_updatable_options_are_exactly_resources_and_restart_policy() -> None:
    assert set(c.UPDATABLE) == {
        "memory", "memory_reservation", "memory_swap", "cpus", "cpu_shares", "cpu_period", "cpu_quota",
        "cpuset_cpus", "cpuset_mems", "pids_limit", "blkio_weight", "restart_policy", "restart_retries",
    }  # fmt: skip


def test_engine_defaults_are_normalised_values() -> None:
    """An engine default must be what its normaliser returns for the same setting, or unset values differ."""
    for name, raw in [("shm_size", "64m"), ("restart_policy", "no"), ("network_mode", "bridge"),
                      ("ipc_mode", "private"), ("log_driver", "json-file"), ("stop_timeout", 10)]:  # fmt: skip
        assert norm(name, raw) == t.cast(ContainerOption, CONTAINER_OPTIONS[name]).engine_default


def test_community_docker_names_and_aliases() -> None:
    names = set(CONTAINER_TASK_OPTIONS.names())
    for n in ("capabilities", "cap_drop", "oom_killer", "log_options", "security_opts", "tmpfs",
              "comparisons", "force_kill", "healthy_wait_timeout", "restart", "recreate", "pull", "state"):
        assert n in names, n
    assert CONTAINER_TASK_OPTIONS["log_options"].aliases == ("log_opt",)
    assert CONTAINER_TASK_OPTIONS["force_kill"].aliases == ("forcekill",)
    assert CONTAINER_TASK_OPTIONS["capabilities"].aliases == ("cap_add",)


def test_argument_spec_generated_from_the_tables() -> None:
    spec = argument_spec(CONTAINER_TASK_OPTIONS)
    assert spec["name"] == {"type": "str", "required": True}
    assert spec["image"] == {"type": "str"}
    assert spec["command"] == {"type": "raw"}
    assert spec["ulimits"] == {"type": "list", "elements": "str"}
    assert spec["capabilities"] == {"type": "list", "elements": "str", "aliases": ["cap_add"]}
    assert spec["restart_policy"] == {"type": "str", "choices": ["no", "always", "on-failure", "unless-stopped"]}
    assert spec["state"] == {
        "type": "str", "default": "started", "choices": ["absent", "present", "stopped", "started", "healthy"]
    }  # fmt: skip
    assert spec["pull"]["default"] == "missing" and spec["healthy_wait_timeout"]["default"] == 300.0
    # container options have no Ansible default: unset must stay None ("not specified")
    for opt in CONTAINER_OPTIONS:
        assert "default" not in spec[opt.name], opt.name
    assert CONTAINER_OPTIONS["name"].required is False  # only the module requires a name
    assert argument_spec(CONTAINER_INFO_OPTIONS)["name"] == {"type": "str", "required": True}
    kwargs = module_kwargs(CONTAINER_EXEC_OPTIONS)
    assert kwargs["mutually_exclusive"] == [["argv", "command"]]
    assert kwargs["required_one_of"] == [["argv", "command"]]


# ------------------------------------------------------------------ secret_env
SALT = "00112233445566778899aabbccddeeff"


def recorded_secrets(**values: str) -> dict[str, t.Any]:
    """The options a container record keeps for a task with ``secret_env: values``."""
    return {"secret_env": c.seal_secrets(values, SALT)}


def test_secret_env_is_no_log_and_sealed_by_name_value_and_salt() -> None:
    assert argument_spec(CONTAINER_TASK_OPTIONS)["secret_env"]["no_log"] is True
    sealed = c.seal("DB_PASSWORD", "hunter2", SALT)
    assert sealed.startswith(f"hmac-sha256:{SALT}:") and "hunter2" not in sealed
    assert sealed != c.seal("OTHER", "hunter2", SALT)
    assert sealed != c.seal("DB_PASSWORD", "hunter2", "ff" * 16)
    assert c.is_sealed("DB_PASSWORD", "hunter2", sealed)
    assert not c.is_sealed("DB_PASSWORD", "hunter3", sealed)


def test_the_same_secret_is_no_difference() -> None:
    desired = normalise_options({"secret_env": {"DB_PASSWORD": "hunter2", "PORT_KEY": 42}})
    assert desired["secret_env"] == {"DB_PASSWORD": "hunter2", "PORT_KEY": "42"}
    assert differences(desired, recorded_secrets(DB_PASSWORD="hunter2", PORT_KEY="42")) == []


@pytest.mark.parametrize("task, before, after", [
    # a changed value: the names on both sides, the change marked, no value
    ({"A": "new"}, {"A": "old"}, ({"A": c.SECRET_MASK}, {"A": c.SECRET_CHANGED})),
    # an added name
    ({"A": "same", "B": "added"}, {"A": "same"}, ({"A": c.SECRET_MASK},
                                                  {"A": c.SECRET_MASK, "B": c.SECRET_CHANGED})),
    # a removed name
    ({"A": "same"}, {"A": "same", "B": "gone"}, ({"A": c.SECRET_MASK, "B": c.SECRET_MASK}, {"A": c.SECRET_MASK})),
    # a container created without secrets
    ({"A": "x"}, {}, ({}, {"A": c.SECRET_CHANGED})),
])
def test_a_changed_secret_recreates_and_shows_only_masks(
    task: dict[str, str], before: dict[str, str], after: tuple[dict[str, str], dict[str, str]]
) -> None:
    diffs = differences({"secret_env": task}, recorded_secrets(**before) if before else {})
    assert [(d.name, d.before, d.after, d.updatable) for d in diffs] == [("secret_env", *after, False)]
    text = repr(diffs)
    for value in (*task.values(), *before.values()):
        assert value not in text


def test_omitting_secret_env_is_no_difference_and_comparisons_can_ignore_it() -> None:
    assert differences({}, recorded_secrets(A="x")) == []
    modes = parse_comparisons({"secret_env": "ignore"})
    assert differences({"secret_env": {"A": "y"}}, recorded_secrets(A="x"), comparisons=modes) == []


def test_secret_env_errors_never_show_a_value() -> None:
    with pytest.raises(InvalidOption) as e1:
        normalise_options({"secret_env": {"A": 1.5}})
    assert (e1.value.field, e1.value.value) == ("secret_env.A", c.SECRET_MASK) and "1.5" not in str(e1.value)
    with pytest.raises(InvalidOption) as e2:
        normalise_options({"secret_env": "A=hunter2"})
    assert "hunter2" not in str(e2.value)
    with pytest.raises(InvalidOption) as e3:
        normalise_options({"secret_env": {"A B": "hunter2"}})
    assert e3.value.field == "secret_env" and "hunter2" not in str(e3.value)
    with pytest.raises(InvalidOption) as e4:
        normalise_options({"secret_env": {"A": "hunter2\0"}})
    assert e4.value.field == "secret_env.A" and "hunter2" not in str(e4.value)


def test_a_name_in_env_and_secret_env_is_an_error_naming_both(tmp_path: t.Any) -> None:
    with pytest.raises(InvalidOption) as exc:
        normalise_options({"env": {"A": "1"}, "secret_env": {"A": "hunter2"}})
    assert (exc.value.field, exc.value.value) == ("secret_env", "A")
    assert "env" in exc.value.reason and "hunter2" not in str(exc.value)
    with pytest.raises(InvalidOption):
        normalise_options({"env_file": "/f", "secret_env": {"A": "hunter2"}}, read_file=lambda p: "A=1\n")
