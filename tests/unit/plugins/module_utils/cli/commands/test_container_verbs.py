# SPDX-License-Identifier: GPL-3.0-or-later
"""The container verbs of the CLI without a kernel: flags -> options, docker's rows and lines, exit codes.

A fake ``Engine.containers`` records the calls; ``main()`` runs in-process with string streams.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import types
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.cli import context, parser, render
from ansible_collections.berth.engine.plugins.module_utils.cli import flags as cli_flags
from ansible_collections.berth.engine.plugins.module_utils.cli import main as cli
from ansible_collections.berth.engine.plugins.module_utils.cli.commands import interact, query, run_options
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import (
    Conflict,
    InvalidOption,
    NotFound,
    RuntimeFailure,
)
from ansible_collections.berth.engine.plugins.module_utils.engine.options import container as copts
from tests.support import REPO

CID = "c0ffee" + "0" * 58
CID2 = "beef" + "1" * 60
IMAGE_ID = "sha256:" + "a" * 64
MINUTE, HOUR = 60, 3600


# ------------------------------------------------------------------ fakes
class _Result(t.NamedTuple):
    id: str
    name: str
    exit_code: t.Optional[int]


class FakeContainers:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []
        self.containers: list[dict[str, t.Any]] = []
        self.raise_on: dict[str, Exception] = {}
        self.exit_code = 0
        self.log_entries: list[t.Any] = []

    def _call(self, verb: str, *args: t.Any, **kwargs: t.Any) -> None:
        self.calls.append((verb, args, kwargs))
        if verb in self.raise_on:
            raise self.raise_on[verb]

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def local_image(self, name: str) -> str | None:
        return None  # the CLI then asks FakeImages.resolve

    def host_warnings(self, options: t.Mapping[str, t.Any], platform_requested: bool = False) -> list[str]:
        return ["blkio_weight: not on this host"] if options.get("blkio_weight") else []

    def create(self, options: t.Mapping[str, t.Any], name: str | None = None, pull: str = "missing") -> str:
        self._call("create", dict(options), name=name, pull=pull)
        return CID

    def run(self, options: t.Mapping[str, t.Any], name: str | None = None, detach: bool = True,
            stdio: t.Any = None, remove: bool = False, pull: str = "missing",
            on_start: t.Callable[..., None] | None = None) -> _Result:
        self._call("run", dict(options), name=name, detach=detach, stdio=stdio, remove=remove, pull=pull)
        if on_start is not None:
            on_start(CID, 4242)
        return _Result(CID, name or "brave_anchor", None if detach else self.exit_code)

    def start(self, name: str, stdio: t.Any = None) -> t.Any:
        self._call("start", name, stdio=stdio)
        return types.SimpleNamespace(monitor_pid=4242)

    def wait_attached(self, handle: t.Any) -> int:
        self._call("wait_attached")
        return self.exit_code

    def attach(self, name: str, stdio: t.Any = None) -> int:
        self._call("attach", name)
        return self.exit_code

    def stop(self, name: str, timeout: int | None = None, signal: str | None = None) -> bool:
        self._call("stop", name, timeout=timeout, signal=signal)
        return True

    def restart(self, name: str, timeout: int | None = None) -> None:
        self._call("restart", name, timeout=timeout)

    def kill(self, name: str, signal: str | int = "KILL") -> None:
        self._call("kill", name, signal=signal)

    def pause(self, name: str) -> None:
        self._call("pause", name)

    def unpause(self, name: str) -> None:
        self._call("unpause", name)

    def remove(self, name: str, force: bool = False, volumes: bool = False) -> bool:
        self._call("remove", name, force=force)
        return name != "missing"

    def rename(self, name: str, new_name: str) -> None:
        self._call("rename", name, new_name)

    def update(self, name: str, options: t.Mapping[str, t.Any]) -> bool:
        self._call("update", name, dict(options))
        return True

    def wait(self, name: str, condition: str = "not-running", timeout: float | None = None) -> int:
        self._call("wait", name)
        return self.exit_code

    def lookup(self, name: str) -> str | None:
        return CID if name in ("web", CID[:12], CID) else None

    def inspect(self, name: str) -> dict[str, t.Any]:
        self._call("inspect", name)
        if self.lookup(name) is None:
            raise NotFound("container", name)
        return {"Id": CID, "Name": "/web", "State": {"Running": True, "Paused": False},
                "Config": {"Tty": False, "OpenStdin": False}}

    def list(self, all: bool = False, filters: t.Mapping[str, t.Any] | None = None) -> list[dict[str, t.Any]]:
        self._call("list", all=all, filters=filters)
        return [c for c in self.containers if all or c["State"] in ("running", "paused")]

    def logs(self, name: str, **kwargs: t.Any) -> t.Iterator[t.Any]:
        self._call("logs", name, **kwargs)
        return iter(self.log_entries)

    def exec(self, name: str, command: t.Sequence[str], **kwargs: t.Any) -> int:
        self._call("exec", name, list(command), **kwargs)
        return self.exit_code

    def top(self, name: str, ps_args: str | None = None) -> dict[str, t.Any]:
        self._call("top", name, ps_args)
        return {"Titles": ["UID", "PID", "CMD"], "Processes": [["0", "4242", "sleep 100"]]}

    def diff(self, name: str) -> list[dict[str, t.Any]]:
        self._call("diff", name)
        if self.lookup(name) is None:
            raise NotFound("container", name)
        return [{"Path": "/a", "Kind": 1}, {"Path": "/etc", "Kind": 0}, {"Path": "/etc/x\udcff", "Kind": 2}]

    def export(self, name: str, out: t.BinaryIO) -> int:
        self._call("export", name)
        out.write(b"TAR")
        return 1

    def export_file(self, name: str, path: str) -> int:
        self._call("export_file", name, path)
        return 1

    def stats(self, name: str) -> dict[str, t.Any]:
        self._call("stats", name)
        return {"id": CID, "name": "/web", "memory_stats": {"usage": 1 << 20, "limit": 1 << 30}}

    def prune(self, filters: t.Mapping[str, t.Any] | None = None) -> dict[str, t.Any]:
        self._call("prune", filters=filters)
        return {"ContainersDeleted": [CID, CID2], "SpaceReclaimed": 4261000}

    def restore(self) -> list[str]:
        self._call("restore")
        return [CID]

    def disk_usage(self) -> list[dict[str, t.Any]]:
        return [dict(c, SizeRw=1000) for c in self.containers]


class FakeImages:
    def __init__(self) -> None:
        self.present = True
        self.pulled: list[str] = []

    def resolve(self, name: str) -> str | None:
        return IMAGE_ID if self.present else None

    def pull(self, name: str, platform: str | None = None, on_event: t.Any = None) -> t.Any:
        self.pulled.append(name)

        class R:
            repo_digest = "busybox@sha256:" + "d" * 64
            changed = True
            familiar = "busybox:latest"

        return R()

    def inspect(self, name: str) -> dict[str, t.Any]:
        if name != "busybox":
            raise NotFound("image", name)
        return {"Id": IMAGE_ID, "RepoTags": ["busybox:latest"]}

    def list(self, all: bool = False, filters: t.Any = None) -> list[dict[str, t.Any]]:
        return [{"Id": IMAGE_ID, "Size": 4261000}]

    def default_platform(self) -> str:
        return "linux/arm64/v8"


class FakeSystem:
    """SystemService: df composes the container service's disk usage, as the engine's does."""

    def __init__(self, containers: FakeContainers) -> None:
        self.containers = containers

    def df(self) -> dict[str, t.Any]:
        return {"LayersSize": 0, "Images": [], "Containers": self.containers.disk_usage(), "Volumes": [],
                "BuildCache": []}

    def info(self) -> dict[str, t.Any]:
        return {"Containers": 2, "ContainersRunning": 1, "ContainersPaused": 0, "ContainersStopped": 1,
                "Images": 1, "ServerVersion": "0.1.0", "Driver": "overlay", "LoggingDriver": "json-file",
                "CgroupDriver": "cgroupfs", "CgroupVersion": "2", "Runtimes": {"runc": {"path": "/x/runc"},
                                                                               "berth": {"path": None}}, "DefaultRuntime": "berth",
                "SecurityOptions": ["name=seccomp,profile=builtin", "name=userns"], "NCPU": 2,
                "MemTotal": 8 * 1024 ** 3, "Name": "host1", "DockerRootDir": "/var/lib/berth",
                "LiveRestoreEnabled": True,
                "RegistryConfig": {"Mirrors": ["https://m.example"], "IndexConfigs": ["reg.local:5000"],
                                   "InsecureRegistryCIDRs": ["10.0.0.0/8"]}}


class FakeEngine:
    def __init__(self) -> None:
        self.containers = FakeContainers()
        self.images = FakeImages()
        self.system = FakeSystem(self.containers)
        self.config = types.SimpleNamespace(path="/etc/berth/daemon.json")

    def default_platform(self) -> str:
        return self.images.default_platform()


class Run(t.NamedTuple):
    rc: int
    out: str
    err: str


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    fake = FakeEngine()
    monkeypatch.setattr(context.Context, "engine", property(lambda self: fake))
    return fake


def berth(*argv: str, stdin: str = "") -> Run:
    out, err = io.StringIO(), io.StringIO()
    rc = cli.main(list(argv), stdout=out, stderr=err, stdin=io.StringIO(stdin))
    return Run(rc, out.getvalue(), err.getvalue())


def parse(*argv: str) -> t.Any:
    args, extra = parser.build_parser().parse_known_args(list(argv))
    assert not extra
    return args


# ------------------------------------------------------------------ flags -> option parameters
# Every flag of run/create: what it turns into before normalisation.
FLAG_CASES = [
    (["--rm"], {"auto_remove": True}),
    (["-i"], {"interactive": True}),
    (["-t"], {"tty": True}),
    (["-e", "A=1", "--env", "B=", "-e", "FROM_HOST", "-e", "NOT_SET"], {"env": {"A": "1", "B": "", "FROM_HOST": "h"}}),
    (["--env-file", "/a", "--env-file", "/b"], {"env_file": ["/a", "/b"]}),
    (["-u", "1000:1000"], {"user": "1000:1000"}),
    (["--user", "nobody"], {"user": "nobody"}),
    (["-w", "/tmp"], {"working_dir": "/tmp"}),
    (["--workdir", "/srv"], {"working_dir": "/srv"}),
    (["-h", "box"], {"hostname": "box"}),
    (["--hostname", "box"], {"hostname": "box"}),
    (["--domainname", "example.org"], {"domainname": "example.org"}),
    (["--entrypoint", "sh -c"], {"entrypoint": ["sh -c"]}),
    (["--entrypoint", ""], {"entrypoint": []}),
    (["--network", "host"], {"network_mode": "host"}),
    (["--network-alias", "a", "--ip", "10.0.0.5"], {}),  # read by normalised_options, with --network
    (["-p", "8080:80", "--publish", "53/udp", "-P"],
     {"published_ports": ["8080:80", "53/udp"], "publish_all_ports": True}),
    (["--expose", "80"], {"exposed_ports": ["80"]}),
    (["--dns", "9.9.9.9", "--dns-search", "example.com", "--dns-option", "ndots:2"],
     {"dns_servers": ["9.9.9.9"], "dns_search_domains": ["example.com"], "dns_opts": ["ndots:2"]}),
    (["--add-host", "db:10.0.0.2"], {"etc_hosts": ["db:10.0.0.2"]}),
    (["--mac-address", "02:42:ac:11:00:09"], {"mac_address": "02:42:ac:11:00:09"}),
    (["--net", "none"], {"network_mode": "none"}),
    (["--init"], {"init": True}),
    (["--read-only"], {"read_only": True}),
    (["--privileged"], {"privileged": True}),
    (["--cap-add", "NET_ADMIN", "--cap-add", "sys_time"], {"capabilities": ["NET_ADMIN", "sys_time"]}),
    (["--cap-drop", "ALL"], {"cap_drop": ["ALL"]}),
    (["--security-opt", "no-new-privileges"], {"security_opts": ["no-new-privileges"]}),
    (["--ulimit", "nofile=1024:2048", "--ulimit", "nproc=512"], {"ulimits": ["nofile:1024:2048", "nproc:512"]}),
    (["--sysctl", "net.ipv4.ip_forward=1"], {"sysctls": {"net.ipv4.ip_forward": "1"}}),
    (["--shm-size", "128m"], {"shm_size": "128m"}),
    (["--stop-signal", "SIGINT"], {"stop_signal": "SIGINT"}),
    (["--stop-timeout", "3"], {"stop_timeout": "3"}),
    (["--log-driver", "json-file"], {"log_driver": "json-file"}),
    (["--log-opt", "max-size=1m", "--log-opt", "max-file=2"], {"log_options": {"max-size": "1m", "max-file": "2"}}),
    (["--runtime", "runc"], {"runtime": "runc"}),
    (["-l", "a=b", "--label", "flag"], {"labels": {"a": "b", "flag": ""}}),
    (["-m", "64m"], {"memory": "64m"}),
    (["--memory", "1g"], {"memory": "1g"}),
    (["--memory-reservation", "32m"], {"memory_reservation": "32m"}),
    (["--memory-swap", "-1"], {"memory_swap": "-1"}),
    (["--cpus", "1.5"], {"cpus": "1.5"}),
    (["-c", "512"], {"cpu_shares": "512"}),
    (["--cpu-shares", "512"], {"cpu_shares": "512"}),
    (["--cpu-period", "100000"], {"cpu_period": "100000"}),
    (["--cpu-quota", "50000"], {"cpu_quota": "50000"}),
    (["--cpuset-cpus", "0-1"], {"cpuset_cpus": "0-1"}),
    (["--cpuset-mems", "0"], {"cpuset_mems": "0"}),
    (["--pids-limit", "100"], {"pids_limit": "100"}),
    (["--blkio-weight", "300"], {"blkio_weight": "300"}),
    (["--cgroup-parent", "/mine"], {"cgroup_parent": "/mine"}),
    (["--restart", "on-failure:3"], {"restart_policy": "on-failure:3"}),
    (["--oom-kill-disable"], {"oom_killer": True}),
    (["--oom-score-adj", "100"], {"oom_score_adj": "100"}),
    (["--ipc", "host"], {"ipc_mode": "host"}),
    (["--pid", "host"], {"pid_mode": "host"}),
    (["--uts", "host"], {"uts": "host"}),
    (["--userns", "host"], {"userns_mode": "host"}),
    (["--group-add", "audio"], {"groups": ["audio"]}),
    (["--health-cmd", "true", "--health-interval", "5s", "--health-timeout", "2s", "--health-retries", "3",
      "--health-start-period", "1s", "--health-start-interval", "1s"],
     {"healthcheck": {"test": "true", "interval": "5s", "timeout": "2s", "retries": "3", "start_period": "1s",
                      "start_interval": "1s"}}),
    (["--no-healthcheck"], {"healthcheck": {"test": ["NONE"]}}),
    (["--device", "/dev/fuse"], {"devices": ["/dev/fuse"]}),
    (["--tmpfs", "/run:size=64m"], {"tmpfs": ["/run:size=64m"]}),
    (["-v", "data:/srv", "--volume", "/cache"], {"volumes": ["data:/srv", "/cache"]}),
    (["--mount", "type=tmpfs,target=/t"], {"mounts": [{"type": "tmpfs", "target": "/t"}]}),
    (["--volumes-from", "db:ro"], {"volumes_from": ["db:ro"]}),
    (["--secret-env", "FROM_HOST"], {"secret_env": {"FROM_HOST": "h"}}),
    (["--secret-env-file", os.devnull], {}),
    # Read by the verb, not options:
    (["-d", "--name", "web", "--pull", "never", "--platform", "linux/amd64", "-q", "--detach-keys", "ctrl-x"], {}),
]


@pytest.mark.parametrize("flags, expected", FLAG_CASES)
def test_run_flags_to_params(flags: list[str], expected: dict[str, t.Any]) -> None:
    args = parse("run", *flags, "busybox")
    assert run_options.run_params(args, cli_flags.RUN_FLAGS, environ={"FROM_HOST": "h"}) == expected


def test_every_run_flag_is_covered_and_names_an_option() -> None:
    seen = {f for flags, dummy in FLAG_CASES for f in flags if f.startswith("-")}
    option_names = {o.name for o in copts.CONTAINER_OPTIONS}
    for f in cli_flags.RUN_FLAGS:
        assert seen & set(f.flags), f"no case for {f.flags}"
        if f.option is not None:
            assert f.option.split(".")[0] in option_names, f.option
        if f.kind == "health":
            assert f.option.split(".")[1] in copts.HEALTHCHECK_KEYS


def _run_lines() -> list[list[str]]:
    lines = [
        ["run", "busybox"],
        ["run", "--rm", "busybox", "true"],
        ["run", "-it", "bb", "sh"],
        ["run", "-dit", "--name", "x", "bb"],
        ["run", "-i", "-i", "-t", "bb"],
        ["--root", "/r", "--config=/c", "-D", "run", "-e", "A=1", "--env=B=2", "bb", "ls", "-l", "--rm", "-e"],
        ["--debug", "--root=/r", "run", "bb"],
        ["run", "--memory-swap", "-1", "--pids-limit", "-1", "--cpus", "0.5", "bb"],
        ["run", "-h", "box", "-w", "/", "-u", "0:0", "bb", "-h"],
        ["run", "-ite", "X=1", "bb"],
        ["run", "--entrypoint", "", "--name=", "bb", ""],
        ["run", "bb", "-"],
    ]
    for f in cli_flags.RUN_FLAGS:
        for name in f.flags:
            if f.switch:
                lines.append(["run", name, "bb"])
            else:
                lines.append(["run", name, "v=1", name, "w", "bb", "c"])
                if name.startswith("--"):
                    lines.append(["run", f"{name}=v=1", "bb"])
    for f in cli_flags.GLOBAL_FLAGS:  # berth's own flags, before the verb: the same table, read the same way
        for name in f.flags:
            if f.switch:
                lines.append([name, "run", "bb"])
            else:
                lines.append([name, "v", name, "-1", "run", "bb"])
                lines.append([f"{name}=v", "run", "bb"])
    lines.append(["-Dv", "run", "bb"])
    return lines


def assert_read_as_argparse_reads(fast: t.Any, argv: list[str]) -> str:
    """*fast* (what a flags reader made of *argv*) holds what argparse's parser gives; returns the prog."""
    assert fast is not None
    ref = parser.build_parser().parse_known_args(argv)
    assert ref[1] == []
    want = {k: v for k, v in vars(ref[0]).items() if k != "_parser"}
    got = {k: v for k, v in vars(fast).items() if k != "_parser"}
    assert got == want
    assert fast._parser.prog == ref[0]._parser.prog
    return str(fast._parser.prog)


@pytest.mark.parametrize("argv", _run_lines(), ids=" ".join)
def test_parse_run_reads_what_argparse_reads(argv: list[str]) -> None:
    assert assert_read_as_argparse_reads(cli_flags.parse_run(argv), argv) == "berth run"


@pytest.mark.parametrize("argv", [
    ["run"], ["run", "--help"], ["run", "-eA=1", "bb"], ["run", "-e=A", "bb"], ["run", "--rm=1", "bb"],
    ["run", "--", "bb"], ["run", "bb", "--", "x"], ["run", "--memor", "1g", "bb"], ["container", "run", "bb"],
    ["run", "-e", "--rm", "bb"], ["run", "-e"], ["-h", "run", "bb"], ["run", "--bogus", "bb"], ["ps"], [],
    ["--root", "run"], ["--root", "-D", "run", "bb"], ["run", "-x", "bb"], ["run", "-Zi", "bb"],
])
def test_parse_run_leaves_everything_else_to_argparse(argv: list[str]) -> None:
    assert cli_flags.parse_run(argv) is None


def test_run_fast_path_imports_no_argparse(tmp_path: t.Any) -> None:
    code = (
        "import sys, runpy\n"
        "sys.argv = ['berth', '--root', sys.argv[1], 'run', '--rm', 'bb:nope', 'true']\n"
        "try:\n"
        f"    runpy.run_path({os.path.join(REPO, 'bin', 'berth')!r}, run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('argparse', 'typing') if m in sys.modules), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-S", "-c", code, str(tmp_path / "root")], capture_output=True, text=True,
                          timeout=60, check=False)
    assert "No such image" in proc.stderr or "Unable to find image" in proc.stderr, proc.stderr
    assert "'argparse'" not in proc.stderr.strip().splitlines()[-1], proc.stderr


def _simple_lines() -> list[list[str]]:
    lines = [
        ["build", "."], ["build", "-"], ["build", "-q", "-t", "a:1", "-t", "b", "-f", "D", "ctx"],
        ["build", "--build-arg", "A=1", "--build-arg=B", "--label", "k=v", "--no-cache", "--pull", "."],
        ["build", "-qt", "x", "."], ["--root", "/r", "-D", "build", "--network=none", "--platform", "linux/amd64", "."],
        ["build", "--target", "s", "-t", "-1", "."], ["version"], ["version", "-f", "{{json .}}"],
        ["--config=/c", "version", "--format=json"],
    ]
    for verb, (flags, dummy, arg) in cli_flags.SIMPLE_VERBS.items():
        tail = ["ctx"] if arg else []
        for f in flags:
            for name in f.flags:
                lines.append([verb, name, *tail] if f.switch else [verb, name, "v=1", name, "w", *tail])
    return lines


@pytest.mark.parametrize("argv", _simple_lines(), ids=" ".join)
def test_parse_simple_reads_what_argparse_reads(argv: list[str]) -> None:
    assert assert_read_as_argparse_reads(cli_flags.parse_simple(argv), argv) in ("berth build", "berth version")


@pytest.mark.parametrize("argv", [
    ["build"], ["build", "--help"], ["build", "-h"], ["build", ".", "-t", "x"], ["build", "a", "b"],
    ["build", "--", "."],
    ["build", "-t"], ["build", "--no-cache=1", "."], ["build", "--bogus", "."], ["build", "-tx", "."],
    ["build", "--tag", "--pull", "."], ["image", "build", "."], ["version", "x"], ["version", "--help"],
    ["version", "-f"], ["run", "bb"], ["ps"], ["-v"], [],
])
def test_parse_simple_leaves_everything_else_to_argparse(argv: list[str]) -> None:
    assert cli_flags.parse_simple(argv) is None


def test_create_has_no_detach_and_argparse_stops_at_the_image() -> None:
    args = parse("run", "--rm", "-e", "A=1", "busybox", "ls", "-l", "--rm", "-e")
    assert (args.image, args.command, args.auto_remove) == ("busybox", ["ls", "-l", "--rm", "-e"], True)
    assert parser.build_parser().parse_known_args(["create", "-d", "busybox"])[1] == ["-d"]
    assert parse("container", "create", "--rm", "busybox").auto_remove is True


def test_all_flags_normalise_together() -> None:
    args = parse("run", "-e", "A=1", "-u", "1000", "-w", "/w", "-h", "box", "--memory", "64m", "--cpus", "0.5",
                 "--ulimit", "nofile=10:20", "--restart", "on-failure:2", "--health-cmd", "true",
                 "--health-interval", "1s", "--cap-add", "net_admin", "-l", "k=v", "busybox", "echo", "hi")
    opts = run_options.normalised_options(args, cli_flags.RUN_FLAGS, image=args.image, command=args.command)
    assert opts["env"] == {"A": "1"} and opts["memory"] == 64 << 20 and opts["cpus"] == 500_000_000
    assert opts["ulimits"] == [{"name": "nofile", "soft": 10, "hard": 20}]
    assert (opts["restart_policy"], opts["restart_retries"]) == ("on-failure", 2)
    assert opts["healthcheck"] == {"test": ["CMD-SHELL", "true"], "interval": 1_000_000_000}
    assert opts["capabilities"] == ["CAP_NET_ADMIN"] and opts["labels"] == {"k": "v"}
    assert opts["command"] == ["echo", "hi"] and opts["image"] == "docker.io/library/busybox:latest"


def test_env_file_below_env(tmp_path: t.Any) -> None:
    f = tmp_path / "env"
    f.write_text("# comment\nA=file\nB=file\n")
    args = parse("run", "--env-file", str(f), "-e", "B=flag", "busybox")
    assert run_options.normalised_options(args, cli_flags.RUN_FLAGS)["env"] == {"A": "file", "B": "flag"}


def test_secret_env_file_below_secret_env(tmp_path: t.Any) -> None:
    f = tmp_path / "secrets"
    f.write_text("DB_PASSWORD=from-file\nAPI_KEY=file-key\nFROM_HOST\n")
    args = parse("run", "--secret-env-file", str(f), "--secret-env", "API_KEY", "busybox")
    params = run_options.run_params(args, cli_flags.RUN_FLAGS, environ={"API_KEY": "env-key", "FROM_HOST": "h"})
    assert params == {"secret_env": {"DB_PASSWORD": "from-file", "API_KEY": "env-key", "FROM_HOST": "h"}}


@pytest.mark.parametrize("flags, message, hidden", [
    (["--secret-env", "TOKEN=s3cr3t-value"], 'berth run: invalid argument "TOKEN=..." for "--secret-env" flag: give '
                                             "only the variable name", "s3cr3t-value"),
    (["--secret-env", "BERTH_SURELY_UNSET"], 'berth run: invalid argument "BERTH_SURELY_UNSET" for "--secret-env" '
                                             "flag: BERTH_SURELY_UNSET is not set in the environment", None),
    (["--secret-env-file", "/nonexistent/s"], "berth run: invalid value '/nonexistent/s' for secret_env_file: open "
                                              "/nonexistent/s: no such file", None),
    (["-e", "A=1", "--secret-env-file", "ENVFILE"],
     'berth run: invalid argument "A" for "--secret-env" flag: is also set in env', "hidden-a"),
])
def test_bad_secret_flags(engine: FakeEngine, tmp_path: t.Any, flags: list[str], message: str,
                          hidden: str | None) -> None:
    f = tmp_path / "env"
    f.write_text("A=hidden-a\n")
    r = berth("run", *[str(f) if x == "ENVFILE" else x for x in flags], "busybox")
    assert r.rc == 125
    assert r.err.startswith(message), r.err
    if hidden:
        assert hidden not in r.err
    assert "run" not in engine.containers.names()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["-m", "lots"], 'berth run: invalid argument "lots" for "-m, --memory" flag: not a size'),
        (["--memory", "1m"], 'berth run: invalid argument "1m" for "-m, --memory" flag: the minimum memory limit is 6MB'),
        (["--ulimit", "nofile=1:2", "--ulimit", "bogus=1"],
         'berth run: invalid argument "bogus=1" for "--ulimit" flag: unknown ulimit'),
        (["--sysctl", "kernel.panic=1"], 'berth run: invalid argument "kernel.panic=1" for "--sysctl" flag: not a'),
        (["--sysctl", "net.x"], 'berth run: invalid argument "net.x" for "--sysctl" flag: expected KEY=VALUE'),
        (["--cap-add", "CHOWN", "--cap-add", "NOPE"], 'berth run: invalid argument "NOPE" for "--cap-add" flag: unknown'),
        (["--restart", "sometimes"], 'berth run: invalid argument "sometimes" for "--restart" flag: must be one of'),
        (["--health-interval", "5"], 'berth run: invalid argument "5" for "--health-interval" flag: missing unit'),
        (["--stop-signal", "SIGNOPE"], 'berth run: invalid argument "SIGNOPE" for "--stop-signal" flag: unknown signal'),
        (["-h", "bad_host"], 'berth run: invalid argument "bad_host" for "-h, --hostname" flag:'),
        (["--env-file", "/nonexistent/env"],
         'berth run: invalid argument "/nonexistent/env" for "--env-file" flag: open /nonexistent/env: no such file'),
        (["--no-healthcheck", "--health-cmd", "x"], "berth run: --no-healthcheck conflicts with --health-* options"),
        (["--pull", "sometimes"], "berth run: invalid pull option: 'sometimes'"),
        (["--name", "x"], 'berth run: invalid argument "x" for "--name" flag: container names are'),
    ],
)
def test_bad_flag_values_name_the_flag(engine: FakeEngine, flags: list[str], message: str) -> None:
    r = berth("run", *flags, "busybox")
    assert r.rc == 125
    assert r.err.startswith(message), r.err
    assert r.err.endswith("\nSee 'berth run --help'.\n")
    assert "run" not in engine.containers.names()


def test_engine_refusals_of_run(engine: FakeEngine) -> None:
    svc = engine.containers
    svc.raise_on["run"] = InvalidOption("network_mode", "bridge", "only 'none' and 'host' are supported so far")
    r = berth("run", "--network", "bridge", "busybox")
    assert (r.rc, r.err) == (125, 'berth run: invalid argument "bridge" for "--network" flag: only \'none\' and '
                                  "'host' are supported so far\nSee 'berth run --help'.\n")
    svc.raise_on["run"] = Conflict('Conflict. The container name "/web" is already in use by container "x". '
                                   "You have to remove (or rename) that container to be able to reuse that name.")
    r = berth("run", "--name", "web", "busybox")
    assert r.rc == 125 and r.err.startswith('berth: Conflict. The container name "/web"')
    assert r.err.endswith("reuse that name.\nSee 'berth run --help'.\n")
    svc.raise_on["run"] = RuntimeFailure(CID, "exec", 'exec: "nope": executable file not found in $PATH')
    r = berth("run", "busybox", "nope")
    assert (r.rc, r.err) == (127, f'berth: container {CID}: exec: exec: "nope": executable file not found in $PATH.\n')
    svc.raise_on["run"] = RuntimeFailure(CID, "exec", 'exec: "/etc": permission denied')
    assert berth("run", "busybox", "/etc").rc == 126
    svc.raise_on["run"] = RuntimeFailure(CID, "mount", "something else")
    assert berth("run", "busybox").rc == 125
    told = RuntimeFailure(CID, "start", "the monitor says so")
    told.exit_code = 126
    svc.raise_on["run"] = told
    assert berth("run", "busybox").rc == 126


@pytest.mark.parametrize(
    "message, code",
    [
        ('exec: "x": executable file not found in $PATH', 127),
        ("exec: stat /x: no such file or directory", 127),
        ('exec: "/etc": permission denied', 126),
        ("exec /etc: Is a directory", 126),
        ("cgroup: something", 125),
    ],
)
def test_start_exit_code(message: str, code: int) -> None:
    assert interact.start_exit_code(message) == code


# ------------------------------------------------------------------ run / create through main()
def test_run_detached_prints_the_id(engine: FakeEngine) -> None:
    r = berth("run", "-d", "--rm", "--name", "web", "-e", "A=1", "busybox", "sleep", "100")
    assert (r.rc, r.out, r.err) == (0, CID + "\n", "")
    ((verb, (opts,), kw),) = [c for c in engine.containers.calls if c[0] == "run"]
    assert kw["detach"] is True and kw["remove"] is True and kw["name"] == "web" and kw["pull"] == "never"
    assert opts["command"] == ["sleep", "100"] and opts["env"] == {"A": "1"} and opts["auto_remove"] is True


def test_run_attached_returns_the_exit_code_and_passes_fds(engine: FakeEngine) -> None:
    engine.containers.exit_code = 3
    r = berth("run", "busybox", "false")
    assert r.rc == 3
    ((_v, _a, kw),) = [c for c in engine.containers.calls if c[0] == "run"]
    stdio = kw["stdio"]
    assert (stdio.stdin, stdio.stdout, stdio.stderr, stdio.tty) == (None, 1, 2, False)
    assert kw["detach"] is False


def test_run_pulls_a_missing_image_on_stderr(engine: FakeEngine) -> None:
    engine.images.present = False
    r = berth("run", "-d", "busybox")
    assert r.out == CID + "\n"
    assert r.err.splitlines()[0] == "Unable to find image 'busybox:latest' locally"
    assert r.err.splitlines()[-1] == "Status: Downloaded newer image for busybox:latest"
    assert engine.images.pulled == ["busybox"]
    engine.images.pulled = []
    r = berth("run", "-d", "--pull", "never", "busybox")
    assert engine.images.pulled == [] and r.err == ""
    engine.images.present = True
    r = berth("create", "--pull", "always", "-q", "busybox:1")
    assert engine.images.pulled == ["busybox:1"] and r.err == "" and r.out == CID + "\n"


def test_run_tty_interactive_needs_a_terminal(engine: FakeEngine) -> None:
    r = berth("run", "-it", "busybox")
    assert (r.rc, r.err) == (1, "the input device is not a TTY\n")


def test_create_prints_the_id(engine: FakeEngine) -> None:
    r = berth("container", "create", "--name", "web", "busybox")
    assert (r.rc, r.out) == (0, CID + "\n")
    assert engine.containers.calls[-1][2]["name"] == "web"


def test_attached_proxy_forwards_signals_to_the_container() -> None:
    killed: list[tuple[str, int]] = []
    att = interact._Attached(lambda cid, sig: killed.append((cid, sig)), None, tty=False)
    with pytest.raises(KeyboardInterrupt):
        att._proxy(2, None)  # before the container started: an ordinary Ctrl-C
    att.on_start(CID, 99)
    att._proxy(15, None)
    assert killed == [(CID, 15)]


# ------------------------------------------------------------------ lifecycle verbs
def test_lifecycle_verbs_print_names(engine: FakeEngine) -> None:
    svc = engine.containers
    assert berth("start", "a", "b").out == "a\nb\n"
    assert berth("stop", "-t", "3", "-s", "int", "a").out == "a\n"
    assert svc.calls[-1] == ("stop", ("a",), {"timeout": 3, "signal": "SIGINT"})
    assert berth("restart", "a").out == "a\n"
    assert berth("kill", "a").out == "a\n" and svc.calls[-1][2] == {"signal": "SIGKILL"}
    assert berth("kill", "-s", "9", "a").out == "a\n" and svc.calls[-1][2] == {"signal": "SIGKILL"}
    bad = berth("kill", "-s", "NOPE", "a")
    assert bad.rc == 125 and bad.err.startswith('berth kill: invalid argument "NOPE" for "-s, --signal" flag')
    assert berth("pause", "a").out == "a\n" and berth("unpause", "a").out == "a\n"
    assert berth("container", "rm", "-f", "a").out == "a\n" and svc.calls[-1][2] == {"force": True}
    assert berth("rename", "a", "b").out == "" and svc.calls[-1] == ("rename", ("a", "b"), {})
    assert berth("stop", "-t", "x", "a").rc == 125


def test_errors_per_container(engine: FakeEngine) -> None:
    engine.containers.raise_on["stop"] = NotFound("container", "x")
    r = berth("stop", "x")
    assert (r.rc, r.out, r.err) == (1, "", "Error: No such container: x\n")
    missing = berth("rm", "missing", "a")
    assert (missing.rc, missing.out, missing.err) == (1, "a\n", "Error: No such container: missing\n")
    forced = berth("rm", "-f", "missing")
    assert (forced.rc, forced.err) == (0, "Error: No such container: missing\n")
    engine.containers.raise_on["start"] = RuntimeFailure(CID, "exec", "exec: nope")
    r = berth("start", "a")
    assert r.rc == 1 and r.err.endswith("Error: failed to start containers: a\n")


def test_start_attach(engine: FakeEngine) -> None:
    engine.containers.exit_code = 7
    r = berth("start", "-a", "web")
    assert r.rc == 7 and r.out == ""
    assert [c[0] for c in engine.containers.calls] == ["inspect", "start", "wait_attached"]
    assert berth("start", "-a", "web", "other").rc == 1


def test_wait_update_prune_restore(engine: FakeEngine) -> None:
    engine.containers.exit_code = 2
    assert berth("wait", "a", "b").out == "2\n2\n"
    r = berth("update", "-m", "64m", "--restart", "on-failure:2", "--cpus", "1", "a")
    assert r.out == "a\n"
    assert engine.containers.calls[-1] == (
        "update", ("a", {"memory": 64 << 20, "restart_policy": "on-failure", "restart_retries": 2,
                         "cpus": 1_000_000_000}), {})
    berth("update", "--restart", "always", "a")
    assert engine.containers.calls[-1][1][1] == {"restart_policy": "always", "restart_retries": None}
    none = berth("update", "a")
    assert none.rc == 125 and "you must provide one or more flags" in none.err
    assert berth("update", "--memory", "lots", "a").err.startswith('berth update: invalid argument "lots" for "-m')
    no = berth("container", "prune", stdin="n\n")
    assert no.out == "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] "
    r = berth("container", "prune", "-f", "--filter", "until=1h")
    assert r.out == f"Deleted Containers:\n{CID}\n{CID2}\n\nTotal reclaimed space: 4.261MB\n"
    assert engine.containers.calls[-1][2] == {"filters": {"until": ["1h"]}}
    assert berth("system", "restore").out == CID + "\n"


# ------------------------------------------------------------------ ps
def _container(cid: str = CID, state: str = "running", status: str = "Up 2 minutes",
               command: str = "sleep 100", created: int = 1000) -> dict[str, t.Any]:
    return {"Id": cid, "Names": ["/web"], "Image": "docker.io/library/busybox:latest", "ImageID": IMAGE_ID,
            "Command": command, "Created": created, "State": state, "Status": status,
            "Labels": {"b": "2", "a": "1"}, "HostConfig": {"NetworkMode": "none"}}


@pytest.mark.parametrize(
    "command, trunc, expected",
    [
        ("sleep 100", True, '"sleep 100"'),
        ("/docker-entrypoint.sh nginx -g 'daemon off;'", True, '"/docker-entrypoint.…"'),
        ("/docker-entrypoint.sh nginx", False, '"/docker-entrypoint.sh nginx"'),
        ('sh -c "echo hi"', True, '"sh -c \\"echo hi\\""'),
        ("", True, '""'),
    ],
)
def test_ps_command_column(command: str, trunc: bool, expected: str) -> None:
    (item,) = query.ps_items([_container(command=command)], trunc=trunc)
    assert item["Command"] == expected


@pytest.mark.parametrize(
    "image, trunc, expected",
    [
        ("docker.io/library/busybox:latest", True, "busybox:latest"),
        ("docker.io/library/busybox:latest", False, "docker.io/library/busybox:latest"),
        ("127.0.0.1:5000/library/busybox:1", True, "127.0.0.1:5000/library/busybox:1"),
        ("docker.io/me/app@sha256:" + "b" * 64, True, "me/app"),
        (IMAGE_ID[:19], True, "aaaaaaaaaaaa"),
        ("", True, "<no image>"),
    ],
)
def test_ps_image_column(image: str, trunc: bool, expected: str) -> None:
    assert query.ps_image(image, IMAGE_ID, trunc) == expected


@pytest.mark.parametrize(("ports", "expected"), [
    ([], ""),
    ([{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}], "0.0.0.0:8080->80/tcp"),
    ([{"PrivatePort": 53, "Type": "udp"}, {"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}],
     "127.0.0.1:8080->80/tcp, 53/udp"),
    ([{"IP": "0.0.0.0", "PrivatePort": p, "PublicPort": p + 8000, "Type": "tcp"} for p in (81, 80, 82)]
     + [{"IP": "0.0.0.0", "PrivatePort": 90, "PublicPort": 9999, "Type": "tcp"}],
     "0.0.0.0:8080-8082->80-82/tcp, 0.0.0.0:9999->90/tcp"),
    ([{"PrivatePort": 80, "Type": "tcp"}, {"PrivatePort": 81, "Type": "tcp"}], "80-81/tcp"),
    ([{"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}], "[::]:8080->80/tcp"),
])
def test_ps_ports_column(ports: list[dict[str, t.Any]], expected: str) -> None:
    """docker ps's PORTS: published as ip:public->private/proto, exposed as private/proto, runs folded."""
    assert query.ps_ports(ports) == expected
    assert query.ps_items([{"Id": "a" * 64, "Ports": ports}])[0]["Ports"] == expected


def test_ps_items_fields() -> None:
    (item,) = query.ps_items([_container(created=1000)], now=1000 + 2 * HOUR, sizes={CID: (1000, 4262000)})
    assert item["ID"] == CID[:12] and item["RunningFor"] == "2 hours ago" and item["Names"] == "web"
    assert item["Labels"] == "a=1,b=2" and item["Status"] == "Up 2 minutes" and item["State"] == "running"
    assert item["Size"] == "1kB (virtual 4.26MB)" and item["Ports"] == ""


def test_ps_table_like_docker(engine: FakeEngine) -> None:
    assert berth("ps").out == "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n"
    engine.containers.containers = [
        _container(),
        _container(CID2, "exited", "Exited (0) 5 seconds ago", "/docker-entrypoint.sh nginx", created=900),
    ]
    rows = berth("ps").out.splitlines()
    assert rows[0] == "CONTAINER ID   IMAGE            COMMAND       CREATED        STATUS         PORTS     NAMES"
    assert rows[1].startswith(f"{CID[:12]}   busybox:latest   \"sleep 100\"   ")
    assert rows[1].endswith("   Up 2 minutes             web")
    assert len(rows) == 2
    everything = berth("ps", "-a").out.splitlines()
    assert len(everything) == 3 and '"/docker-entrypoint.…"' in everything[2]
    assert berth("ps", "-q").out == CID[:12] + "\n"
    assert berth("ps", "-aq", "--no-trunc").out == f"{CID}\n{CID2}\n"
    assert berth("ps", "-n", "1", "-q").out == CID[:12] + "\n"
    assert berth("container", "ls", "-l", "-q").out == CID[:12] + "\n"
    assert engine.containers.calls[-1][2]["all"] is True
    objs = [json.loads(x) for x in berth("ps", "-a", "--format", "json").out.splitlines()]
    assert objs[0]["Command"] == '"sleep 100"' and objs[0]["Names"] == "web" and objs[1]["State"] == "exited"
    assert sorted(objs[0]) == sorted(query._PS_HEADERS)
    assert berth("ps", "--format", "{{.Names}} {{.Status}}").out == "web Up 2 minutes\n"
    assert berth("ps", "--format", "table {{.ID}}\\t{{.Names}}").out == f"CONTAINER ID   NAMES\n{CID[:12]}   web\n"
    berth("ps", "-f", "status=exited", "--filter", "name=web")
    assert engine.containers.calls[-1][2]["filters"] == {"status": ["exited"], "name": ["web"]}
    assert berth("ps", "-f", "nonsense").rc == 125
    sized = berth("ps", "-s").out.splitlines()
    assert sized[0].endswith("NAMES     SIZE") and sized[1].endswith("1kB (virtual 4.26MB)")


# ------------------------------------------------------------------ logs
class Entry(t.NamedTuple):
    stream: str
    time: float
    data: bytes


def test_log_line() -> None:
    entry = Entry("stdout", 1714564800.123456, b"hello\n")
    assert query.log_line(entry, False) == b"hello\n"
    assert query.log_line(entry, True) == b"2024-05-01T12:00:00.123456Z hello\n"
    assert query.log_line(Entry("stdout", 1714564800.0, b"x\n"), True) == b"2024-05-01T12:00:00Z x\n"


def test_logs_split_streams(engine: FakeEngine) -> None:
    engine.containers.log_entries = [Entry("stdout", 1.0, b"out\n"), Entry("stderr", 2.0, b"err\n"),
                                     Entry("stdout", 3.0, b"more")]
    r = berth("logs", "web")
    assert (r.out, r.err) == ("out\nmore", "err\n")
    assert engine.containers.calls[-1] == ("logs", ("web",), {"follow": False, "tail": None})
    r = berth("logs", "-t", "--tail", "2", "-f", "web")
    assert r.out.startswith("1970-01-01T00:00:01Z out\n")
    assert engine.containers.calls[-1][2] == {"follow": True, "tail": 2}
    berth("logs", "-n", "all", "--since", "1700000000", "--until", "1700000100.5", "web")
    assert engine.containers.calls[-1][2] == {"follow": False, "tail": None, "since": 1700000000.0,
                                              "until": 1700000100.5}
    bad = berth("logs", "--since", "yesterday", "web")
    assert bad.rc == 125 and 'invalid value for "since"' in bad.err


@pytest.mark.parametrize(
    "value, expected",
    [
        ("1700000000", 1700000000.0),
        ("1700000000.25", 1700000000.25),
        ("10m", 10_000.0 - 600),
        ("1h30m", 10_000.0 - 5400),
        ("2024-05-01T12:00:00Z", 1714564800.0),
        ("2024-05-01T12:00:00.5Z", 1714564800.5),
        ("2024-05-01T14:00:00+02:00", 1714564800.0),
    ],
)
def test_parse_time(value: str, expected: float) -> None:
    assert query.parse_time(value, now=10_000.0) == pytest.approx(expected)


def test_parse_time_local_and_bad() -> None:
    import datetime

    local = datetime.datetime(2024, 5, 1).astimezone().timestamp()
    assert query.parse_time("2024-05-01") == local
    with pytest.raises(ValueError):
        query.parse_time("yesterday")


# ------------------------------------------------------------------ exec / attach / inspect / top
def test_exec(engine: FakeEngine, tmp_path: t.Any) -> None:
    engine.containers.exit_code = 42
    envf = tmp_path / "e"
    envf.write_text("F=1\nA=file\n")
    r = berth("exec", "-e", "A=1", "--env-file", str(envf), "-u", "nobody", "-w", "/tmp", "--privileged",
              "web", "sh", "-c", "exit 42")
    assert r.rc == 42
    verb, (name, command), kw = engine.containers.calls[-1]
    assert (name, command) == ("web", ["sh", "-c", "exit 42"])
    assert kw["env"] == {"F": "1", "A": "1"} and kw["user"] == "nobody" and kw["workdir"] == "/tmp"
    assert kw["privileged"] is True and kw["detach"] is False and kw["stdio"].stdin is None
    assert berth("exec", "-d", "web", "true").rc == 42 and engine.containers.calls[-1][2]["stdio"] is None
    assert berth("exec", "-i", "web", "cat").rc == 42 and engine.containers.calls[-1][2]["stdio"].stdin == 0
    usage = berth("exec", "web")
    assert usage.rc == 125 and '"berth exec" requires at least 2 arguments.' in usage.err
    engine.containers.raise_on["exec"] = RuntimeFailure(CID, "exec", 'exec: "nope": executable file not found')
    assert berth("exec", "web", "nope").rc == 127
    engine.containers.raise_on["exec"] = Conflict(f"Container {CID} is not running")
    r = berth("exec", "web", "true")
    assert (r.rc, r.err) == (1, f"Error: Container {CID} is not running\n")


def test_attach_returns_the_exit_code(engine: FakeEngine) -> None:
    engine.containers.exit_code = 3
    r = berth("attach", "web")
    assert r.rc == 3
    assert ("attach", ("web",), {}) in engine.containers.calls or "attach" in [c[0] for c in engine.containers.calls]
    assert berth("attach", "nope").err == "Error: No such container: nope\n"


def test_inspect_container_first_then_image(engine: FakeEngine) -> None:
    both = json.loads(berth("inspect", "web", "busybox").out)
    assert [x["Id"] for x in both] == [CID, IMAGE_ID]
    assert berth("inspect", "-f", "{{.Id}}", "web").out == CID + "\n"
    assert berth("inspect", "--type", "image", "-f", "{{.Id}}", "busybox").out == IMAGE_ID + "\n"
    missing = berth("inspect", "nope")
    assert (missing.rc, missing.out, missing.err) == (1, "[]\n", "Error: No such object: nope\n")
    only = berth("container", "inspect", "busybox")
    assert (only.rc, only.err) == (1, "Error: No such container: busybox\n")
    assert berth("inspect", "--type", "image", "web").err == "Error: No such image: web\n"


def test_top_uses_docker_column_width(engine: FakeEngine) -> None:
    r = berth("top", "web", "-ef")
    assert r.out == ("UID                 PID                 CMD\n"
                     "0                   4242                sleep 100\n")
    assert engine.containers.calls[-1] == ("top", ("web", "-ef"), {})


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_diff_and_export(engine: FakeEngine, tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def binary(*argv: str) -> tuple[int, bytes, str]:
        raw = io.BytesIO()
        out, err = io.TextIOWrapper(raw, encoding="utf-8"), io.StringIO()
        rc = cli.main(list(argv), stdout=out, stderr=err, stdin=io.StringIO())
        out.flush()
        return rc, raw.getvalue(), err.getvalue()

    assert binary("diff", "web") == (0, b"A /a\nC /etc\nD /etc/x\xff\n", "")  # names as they are on disk
    assert binary("container", "diff", "nope") == (1, b"", "Error: No such container: nope\n")
    assert binary("export", "web") == (0, b"TAR", "")
    assert binary("container", "export", "-o", "-", "web") == (0, b"TAR", "")
    monkeypatch.chdir(tmp_path)
    assert binary("export", "-o", "fs.tar", "web") == (0, b"", "")
    assert engine.containers.calls[-1] == ("export_file", ("web", str(tmp_path / "fs.tar")), {})
    del engine.containers.calls[:]
    err = io.StringIO()
    assert cli.main(["export", "web"], stdout=_Terminal(), stderr=err, stdin=io.StringIO()) == 1
    assert err.getvalue() == "Error: cowardly refusing to save to a terminal. Use the -o flag or redirect\n"
    assert engine.containers.calls == []
    assert berth("export").rc == 125 and berth("diff", "a", "b").rc == 125


# ------------------------------------------------------------------ stats
def _sample(cpu: int, system: int, mem: int = 0, **extra: t.Any) -> dict[str, t.Any]:
    return dict({"id": CID, "name": "/web",
                 "cpu_stats": {"cpu_usage": {"total_usage": cpu}, "system_cpu_usage": system, "online_cpus": 2},
                 "memory_stats": {"usage": mem, "limit": 8 << 30, "stats": {"inactive_file": 1 << 20}},
                 "pids_stats": {"current": 3}}, **extra)


def test_stats_item_docker_arithmetic() -> None:
    before = _sample(1_000_000_000, 100_000_000_000)
    after = _sample(1_500_000_000, 102_000_000_000, mem=(1 << 20) + 1261568,
                    blkio_stats={"io_service_bytes_recursive": [{"op": "read", "value": 4096},
                                                                {"op": "Write", "value": 1200}]},
                    networks={"eth0": {"rx_bytes": 1200, "tx_bytes": 0}})
    item = query.stats_item("web", after, before)
    assert item == {
        "Container": "web",
        "ID": CID[:12],
        "Name": "web",
        "CPUPerc": "50.00%",  # 0.5 s of 2 s host time, times 2 CPUs
        "MemUsage": "1.203MiB / 8GiB",
        "MemPerc": "0.01%",
        "NetIO": "1.2kB / 0B",
        "BlockIO": "4.1kB / 1.2kB",
        "PIDs": "3",
    }
    idle = query.stats_item(CID, {"id": CID, "name": "/web", "memory_stats": {}, "cpu_stats": {}})
    assert (idle["CPUPerc"], idle["MemUsage"], idle["MemPerc"], idle["PIDs"]) == ("0.00%", "0B / 0B", "0.00%", "0")


def test_stats_no_stream(engine: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(query, "STATS_INTERVAL", 0)
    r = berth("stats", "--no-stream", "web")
    assert r.out.splitlines() == [
        "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   BLOCK I/O   PIDS",
        f"{CID[:12]}   web       0.00%     1MiB / 1GiB         0.10%     0B / 0B   0B / 0B     0",
    ]
    obj = json.loads(berth("stats", "--no-stream", "--format", "json", "web").out)
    assert obj["Container"] == "web" and obj["MemPerc"] == "0.10%" and sorted(obj) == sorted(query._STATS_HEADERS)
    assert berth("stats", "--no-stream").out.count("\n") == 1  # nothing running: the header


# ------------------------------------------------------------------ system df
def test_system_df_counts_containers(engine: FakeEngine) -> None:
    engine.containers.containers = [_container(), _container(CID2, "exited", "Exited (0) 1 second ago")]
    rows = berth("system", "df").out.splitlines()
    assert rows[2].split() == ["Containers", "2", "1", "2kB", "1kB", "(50%)"]
    assert "Containers space usage:" in berth("system", "df", "-v").out


# ------------------------------------------------------------------ info
def test_info_text_json_and_template(engine: FakeEngine) -> None:
    out = berth("info").out
    for line in (" Containers: 2", "  Running: 1", "  Stopped: 1", " Cgroup Version: 2", " Runtimes: berth runc",
                 " Default Runtime: berth", "  seccomp", "   Profile: builtin", "  userns", " CPUs: 2",
                 " Total Memory: 8GiB", " Config File: /etc/berth/daemon.json", "  reg.local:5000", "  10.0.0.0/8",
                 " Registry Mirrors:", "  https://m.example", " Live Restore Enabled: true"):
        assert line + "\n" in out, (line, out)
    assert out.startswith("Server:\n")
    assert json.loads(berth("info", "--format", "json").out)["ContainersRunning"] == 1
    assert berth("system", "info", "-f", "{{.Name}} {{.NCPU}}").out == "host1 2\n"


# ------------------------------------------------------------------ version
def test_version_text_json_and_template(engine: FakeEngine) -> None:
    import platform

    from ansible_collections.berth.engine.plugins.module_utils.cli.commands import system as system_cmd
    from ansible_collections.berth.engine.plugins.module_utils.engine.api import VERSION

    py, kernel = platform.python_version(), os.uname().release
    # docker version's layout (tabwriter, min width 20, padding 1), Go's fields replaced by Python's
    assert berth("version").out == (
        "Client:\n"
        f" Version:           {VERSION}\n"
        " API version:       1.43\n"
        f" Python version:    {py}\n"
        " OS/Arch:           linux/arm64\n"
        "\n"
        "Server: Berth Engine\n"
        " Engine:\n"
        f"  Version:          {VERSION}\n"
        "  API version:      1.43\n"
        f"  Python version:   {py}\n"
        "  OS/Arch:          linux/arm64\n"
        f"  Kernel version:   {kernel}\n"
    )
    data = json.loads(berth("version", "--format", "json").out)
    assert data == system_cmd.version_data(VERSION, "linux/arm64/v8")
    assert data["Server"]["Components"][0]["Details"]["PythonVersion"] == py
    assert berth("version", "-f", "{{.Server.APIVersion}} {{.Client.Os}}/{{.Client.Arch}}").out == "1.43 linux/arm64\n"
    bad = berth("version", "-f", "{{.Nope}}")
    assert bad.rc != 0 and "template parsing error" in bad.err and "Nope" in bad.err


# ------------------------------------------------------------------ help stays fast
def test_help_imports_no_command_module() -> None:
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['berth'] + sys.argv[1:]\n"
        "try:\n"
        f"    runpy.run_path({os.path.join(REPO, 'bin', 'berth')!r}, run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = sorted(m for m in sys.modules if '.cli.commands.' in m or m.endswith('engine.api'))\n"
        "print(loaded, file=sys.stderr)\n"
    )
    for argv in (["--help"], ["run", "--help"], ["container", "run", "--memory"], ["ps", "--bogus"]):
        proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60, check=False)
        assert proc.stderr.strip().splitlines()[-1] == "[]", (argv, proc.stderr)
    usage = subprocess.run([sys.executable, os.path.join(REPO, "bin", "berth"), "run", "--help"],
                           capture_output=True, text=True, timeout=60, check=False)
    assert usage.returncode == 0 and "-h STRING, --hostname STRING" in usage.stdout and "--health-cmd" in usage.stdout


def test_parser_is_built_lazily() -> None:
    top = parser.build_parser()
    verbs = next(a for a in top._actions if isinstance(a, parser._LazyVerbs))
    assert verbs._name_parser_map["run"] is None
    top.parse_known_args(["ps"])
    assert verbs._name_parser_map["run"] is None and verbs._name_parser_map["ps"] is not None


def test_render_helpers() -> None:
    assert render.go_quote('a "b"\tc\n\x01') == '"a \\"b\\"\\tc\\n\\x01"'
    assert render.bytes_size(1261568) == "1.203MiB" and render.bytes_size(8 << 30) == "8GiB"
    assert render.familiar_image("docker.io/library/busybox:latest") == "busybox:latest"
    assert render.familiar_image("docker.io/library/a/b:1") == "library/a/b:1"
    assert render.familiar_image("docker.io/me/app:1") == "me/app:1"
    assert render.familiar_image("localhost:5000/app:1") == "localhost:5000/app:1"
    assert render.rfc3339_nano(1714564800_123456789) == "2024-05-01T12:00:00.123456789Z"
