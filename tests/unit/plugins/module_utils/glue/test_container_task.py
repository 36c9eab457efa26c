# SPDX-License-Identifier: GPL-3.0-or-later
"""The container tasks against a fake ContainerService and ImageService (no kernel, no disk).

Every state-changing scenario runs twice from the same starting state, first in check mode then for
real: the check run must predict the real run's ``changed``, ``actions`` and ``diff``, and must not
call anything that writes.  Then the same task again must report no change.
"""
from __future__ import annotations

import copy
import os
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.api import PullResult
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import (
    EngineError,
    ImageNotFound,
    InvalidOption,
    NotFound,
)
from ansible_collections.berth.engine.plugins.module_utils.engine.options.container import (
    CONTAINER_EXEC_OPTIONS,
    CONTAINER_INFO_OPTIONS,
    CONTAINER_TASK_OPTIONS,
    UPDATABLE,
    normalise_options,
)
from ansible_collections.berth.engine.plugins.module_utils.glue import container_task
from ansible_collections.berth.engine.plugins.module_utils.glue.runner import TaskContext

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
BB = "docker.io/library/busybox:latest"
GiB = 1 << 30
BUSYBOX_CONFIG = {"Cmd": ["sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]}
WRITES = ("create", "start", "stop", "kill", "restart", "remove", "update", "pause", "unpause", "pull", "exec")


class FakeImages:
    def __init__(self, tags: dict[str, str] | None = None, remote: dict[str, str] | None = None) -> None:
        self.tags = dict(tags or {})  # canonical reference -> id
        self.store = set(self.tags.values())  # image IDs present (a moved tag leaves its old image)
        self.remote = dict(remote or {})
        self.configs = {A: dict(BUSYBOX_CONFIG), B: {"Cmd": ["top"], "Env": ["PATH=/bin"]}}
        self.calls: list[tuple[str, t.Any]] = []

    def resolve(self, name: str) -> str | None:
        if name.startswith("sha256:") or all(c in "0123456789abcdef" for c in name):
            full = name if name.startswith("sha256:") else "sha256:" + name
            hits = [i for i in self.store if i.startswith(full)]
            return hits[0] if len(hits) == 1 else None
        return self.tags.get(name)

    def inspect(self, name: str) -> dict[str, t.Any]:
        image_id = self.resolve(name)
        if image_id is None:
            raise ImageNotFound(name)
        return {"Id": image_id, "Config": copy.deepcopy(self.configs.get(image_id, {}))}

    def remote_digest(self, name: str, platform: str | None = None) -> tuple[str, str]:
        self.calls.append(("remote_digest", name))
        return name + "@sha256:" + "d" * 64, self.remote[name]

    def pull(self, name: str, platform: str | None = None, on_event: t.Any = None) -> PullResult:
        self.calls.append(("pull", name))
        new = self.remote[name]
        changed = self.tags.get(name) != new
        self.tags[name] = new
        self.store.add(new)
        return PullResult(new, name, None, changed)


class FakeContainers:
    """Records, states and health with just enough of ContainerService's behaviour for the task."""

    def __init__(self, images: FakeImages) -> None:
        self.images = images
        self.records: dict[str, dict[str, t.Any]] = {}  # name -> record
        self.calls: list[tuple[str, t.Any]] = []
        self.counter = 0
        self.health_script: list[str | None] = []  # health statuses inspect reports, one per call
        self.exit_code = 0
        self.logs_data = b"hello\n"

    def _get(self, name: str) -> dict[str, t.Any]:
        for rec in self.records.values():
            if name in (rec["name"], rec["id"]):
                return rec
        raise NotFound("container", name)

    # queries
    def inspect(self, name: str) -> dict[str, t.Any]:
        rec = self._get(name)
        status = rec["status"]
        state = {"Status": status, "Running": status in ("running", "paused"), "Paused": status == "paused",
                 "ExitCode": rec.get("exit_code", 0)}  # fmt: skip
        if rec.get("health") is not None:
            state["Health"] = {"Status": rec["health"]}
        if self.health_script and status == "running":
            rec["health"] = self.health_script.pop(0)
            if rec["health"] == "exited":
                rec["status"], rec["health"] = "exited", None
        return {"Id": rec["id"], "Name": "/" + rec["name"], "Image": rec["image_id"], "State": state,
                "Berth": {"Desired": copy.deepcopy(rec["options"])}}  # fmt: skip

    def desired(self, name: str) -> dict[str, t.Any]:
        return copy.deepcopy(self._get(name)["options"])

    def host_warnings(self, options: t.Mapping[str, t.Any]) -> list[str]:
        return ["blkio_weight: not on this host"] if options.get("blkio_weight") else []

    def check(self, options: t.Mapping[str, t.Any], name: str | None = None) -> None:
        """ContainerService.check: create's checks, writing nothing (one fake failure: an unknown user)."""
        if options.get("user") == "nosuchuser":
            raise InvalidOption("user", "nosuchuser", "no user 'nosuchuser' in the container's /etc/passwd")

    # writes
    def create(self, options: t.Mapping[str, t.Any], name: str | None = None, pull: str = "missing") -> str:
        self.calls.append(("create", name))
        assert pull == "never", "the task pulls; create must not"
        assert "name" not in options
        image_id = self.images.resolve(options["image"])
        assert image_id, f"create with an absent image {options['image']}"
        self.counter += 1
        cid = f"{self.counter:02d}" + "f" * 62
        self.records[cid] = {"id": cid, "name": name, "options": copy.deepcopy(dict(options)),
                             "image_id": image_id, "status": "created", "health": None}  # fmt: skip
        return cid

    def start(self, name: str, stdio: t.Any = None) -> None:
        self.calls.append(("start", name))
        rec = self._get(name)
        assert rec["status"] in ("created", "exited")
        rec["status"] = "running"
        if rec["options"].get("healthcheck") or self.health_script:
            rec["health"] = "starting"

    def stop(self, name: str, timeout: int | None = None, signal: str | None = None) -> bool:
        self.calls.append(("stop", (name, timeout)))
        rec = self._get(name)
        was = rec["status"] in ("running", "paused")
        rec["status"], rec["health"] = "exited", None
        return was

    def kill(self, name: str, signal: str | int = "KILL") -> None:
        self.calls.append(("kill", (name, signal)))
        self._get(name)["status"] = "exited"

    def wait(self, name: str, condition: str = "not-running", timeout: float | None = None) -> int:
        self.calls.append(("wait", name))
        rec = self._get(name)
        rec["status"] = "exited"
        rec["exit_code"] = self.exit_code
        return self.exit_code

    def restart(self, name: str, timeout: int | None = None) -> None:
        self.calls.append(("restart", (name, timeout)))
        self._get(name)["status"] = "running"

    def remove(self, name: str, force: bool = False, volumes: bool = False) -> bool:
        self.calls.append(("remove", (name, force)))
        self.removed_volumes = volumes
        rec = self._get(name)
        del self.records[rec["id"]]
        return True

    def update(self, name: str, options: t.Mapping[str, t.Any]) -> bool:
        self.calls.append(("update", dict(options)))
        assert set(options) <= set(UPDATABLE)
        rec = self._get(name)
        rec["options"].update(options)
        return True

    def pause(self, name: str) -> None:
        self.calls.append(("pause", name))
        self._get(name)["status"] = "paused"

    def unpause(self, name: str) -> None:
        self.calls.append(("unpause", name))
        self._get(name)["status"] = "running"

    def logs(self, name: str, **kw: t.Any) -> t.Iterator[t.Any]:
        self._get(name)

        class Entry(t.NamedTuple):
            stream: str
            time: str
            data: bytes

        return iter([Entry("stdout", "", self.logs_data)])

    def exec(self, name: str, command: t.Sequence[str], user: str | None = None, env: t.Any = None,
             workdir: str | None = None, tty: bool = False, detach: bool = False, privileged: bool = False,
             stdio: t.Any = None) -> int:  # fmt: skip
        self.calls.append(("exec", (name, list(command), user, env, workdir, tty, detach, privileged)))
        rec = self._get(name)
        if rec["status"] != "running":
            raise EngineError(f"Container {rec['id']} is not running")
        if stdio is not None:
            data = b""
            if stdio.stdin is not None:
                data = os.read(stdio.stdin, 1000)
            os.write(stdio.stdout, b"out:" + data + b"\n\n")
            os.write(stdio.stderr, b"err\n")
        return getattr(self, "exec_rc", 3)


class FakeEngine:
    def __init__(self, images: FakeImages, containers: FakeContainers) -> None:
        self.images = images
        self.containers = containers


def world(tags: dict[str, str] | None = None, remote: dict[str, str] | None = None) -> FakeEngine:
    images = FakeImages({BB: A} if tags is None else tags, remote)
    return FakeEngine(images, FakeContainers(images))


def params(**kw: t.Any) -> dict[str, t.Any]:
    p = CONTAINER_TASK_OPTIONS.defaults()
    p.update(name="web", image="busybox")
    p.update(kw)
    return p


def run(eng: FakeEngine, check: bool = False, **kw: t.Any) -> dict[str, t.Any]:
    ctx = TaskContext(engine=eng, params=params(**kw), check_mode=check, diff_mode=True)  # type: ignore[arg-type]
    return container_task.container(ctx)


def writes(eng: FakeEngine) -> list[tuple[str, t.Any]]:
    return [c for c in eng.containers.calls + eng.images.calls if c[0] in WRITES]


def check_then_apply(eng: FakeEngine, **kw: t.Any) -> tuple[dict[str, t.Any], dict[str, t.Any]]:
    before = (copy.deepcopy(eng.containers.records), dict(eng.images.tags))
    n = len(writes(eng))
    predicted = run(eng, True, **kw)
    assert (eng.containers.records, eng.images.tags) == before, "check mode changed something"
    assert writes(eng)[n:] == [], "check mode called a writing method"
    applied = run(eng, False, **kw)
    assert predicted["changed"] is applied["changed"]
    assert predicted["actions"] == applied["actions"]
    assert predicted["diff"] == applied["diff"]
    return predicted, applied


def the(eng: FakeEngine, name: str = "web") -> dict[str, t.Any]:
    return eng.containers._get(name)


def assert_idempotent(eng: FakeEngine, **kw: t.Any) -> None:
    n = len(writes(eng))
    again = run(eng, False, **kw)
    assert again["changed"] is False, again
    assert again["actions"] == [] and again["diff"] == {"before": {}, "after": {}}
    allowed = {("pull", BB)} if kw.get("pull") in ("always", True) else set()  # asking the registry is no change
    assert [w for w in writes(eng)[n:] if w not in allowed] == []


# ------------------------------------------------------------------ create / idempotency
def test_create_and_start_then_nothing_to_do() -> None:
    eng = world()
    predicted, applied = check_then_apply(eng, memory="512m", env={"A": "1"})
    assert applied["changed"] is True
    assert applied["actions"] == ["Created container web", "Started container web"]
    assert applied["diff"] == {"before": {"exists": False, "running": False},
                               "after": {"exists": True, "running": True}}  # fmt: skip
    assert predicted["container"] == {} and applied["container"]["Id"] == the(eng)["id"]
    assert the(eng)["status"] == "running"
    assert the(eng)["options"] == {"image": BB, "memory": 512 << 20, "env": {"A": "1"}}
    assert_idempotent(eng, memory="512m", env={"A": "1"})
    assert_idempotent(eng, memory="0.5g", env={"A": "1"})  # the same value written differently


def test_create_pulls_a_missing_image_and_check_mode_predicts_it() -> None:
    eng = world(tags={}, remote={BB: A})
    predicted, applied = check_then_apply(eng)
    assert applied["actions"] == [f"Pulled image {BB}", "Created container web", "Started container web"]
    assert ("remote_digest", BB) in eng.images.calls and ("pull", BB) in eng.images.calls
    assert_idempotent(eng)


def test_state_present_creates_without_starting() -> None:
    eng = world()
    dummy, applied = check_then_apply(eng, state="present")
    assert applied["actions"] == ["Created container web"]
    assert applied["diff"] == {"before": {"exists": False}, "after": {"exists": True}}
    assert the(eng)["status"] == "created"
    assert_idempotent(eng, state="present")


def test_values_inherited_from_the_image_are_not_differences() -> None:
    eng = world()
    run(eng)
    assert_idempotent(eng, command="sh", env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, privileged=False,
                      restart_policy="no", working_dir="/")  # fmt: skip


# ------------------------------------------------------------------ changes
def test_updatable_option_is_updated_in_place() -> None:
    eng = world()
    run(eng, memory="512m", restart_policy="no")
    cid = the(eng)["id"]
    dummy, applied = check_then_apply(eng, memory="1g", restart_policy="always")
    assert applied["changed"] is True
    assert applied["actions"] == [f"Updated container web ({cid[:12]}): restart_policy, memory"]
    assert applied["diff"] == {"before": {"restart_policy": "no", "memory": 512 << 20},
                               "after": {"restart_policy": "always", "memory": GiB}}  # fmt: skip
    assert the(eng)["id"] == cid and the(eng)["status"] == "running"
    assert ("update", {"restart_policy": "always", "memory": GiB}) in eng.containers.calls
    assert_idempotent(eng, memory="1g", restart_policy="always")


def test_non_updatable_option_recreates() -> None:
    eng = world()
    run(eng, env={"A": "1"})
    old = the(eng)["id"]
    dummy, applied = check_then_apply(eng, env={"A": "2"})
    label = f"web ({old[:12]})"
    assert applied["actions"] == [f"Stopped container {label}", f"Removed container {label}",
                                  "Created container web", "Started container web"]  # fmt: skip
    assert applied["diff"] == {"before": {"env": {"A": "1", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}},
                               "after": {"env": {"A": "2", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}}}  # fmt: skip
    assert the(eng)["id"] != old and the(eng)["status"] == "running"
    assert_idempotent(eng, env={"A": "2"})


def test_mixed_differences_recreate_with_everything() -> None:
    eng = world()
    run(eng, memory="512m")
    dummy, applied = check_then_apply(eng, memory="1g", privileged=True)
    assert "Created container web" in applied["actions"]
    assert not [c for c in eng.containers.calls if c[0] == "update"]
    assert the(eng)["options"]["memory"] == GiB and the(eng)["options"]["privileged"] is True


def test_new_image_id_behind_the_tag_recreates() -> None:
    eng = world(remote={BB: B})
    run(eng)
    old = the(eng)["id"]
    dummy, applied = check_then_apply(eng, pull="always")
    assert applied["actions"][0] == f"Pulled image {BB}"
    assert applied["diff"]["before"]["image"] == A and applied["diff"]["after"]["image"] == B
    assert the(eng)["id"] != old and the(eng)["image_id"] == B
    assert_idempotent(eng, pull="always")


@pytest.mark.parametrize("pull, pulls", [(True, True), (False, False), ("always", True), ("missing", False)])
def test_pull_true_and_false_mean_what_they_mean_in_community_docker(pull: t.Any, pulls: bool) -> None:
    eng = world(remote={BB: B})
    run(eng)
    dummy, applied = check_then_apply(eng, pull=pull)
    assert applied["changed"] is pulls
    assert (("pull", BB) in eng.images.calls) is pulls


def test_image_name_mismatch() -> None:
    """The same image ID under another name: recreated (community.docker 4 default), unless ignore."""
    eng = world(tags={BB: A, "docker.io/library/other:latest": A})
    run(eng)
    old = the(eng)["id"]
    assert run(eng, image="other", image_name_mismatch="ignore")["changed"] is False
    dummy, applied = check_then_apply(eng, image="other")
    assert applied["changed"] is True and the(eng)["id"] != old


@pytest.mark.parametrize("option, value", [
    ("cgroupns_mode", "private"), ("memory_swappiness", 10), ("device_read_bps", [{"path": "/dev/sda", "rate": "1m"}]),
    ("device_write_iops", [{"path": "/dev/sda", "rate": 10}]), ("device_cgroup_rules", ["c 1:3 rmw"]),
    ("storage_opts", {"size": "10G"}), ("image_comparison", "current-image"), ("networks_cli_compatible", False),
])  # fmt: skip
def test_community_docker_options_berth_lacks_fail_naming_what_to_use(option: str, value: t.Any) -> None:
    eng = world()
    with pytest.raises(InvalidOption) as info:
        run(eng, **{option: value})
    assert info.value.field == option
    assert ("instead" in info.value.reason or "use" in info.value.reason or "remove it" in info.value.reason)
    assert not writes(eng)


def test_community_docker_switches_are_accepted() -> None:
    eng = world()
    switches = {"container_default_behavior": "compatibility", "image_comparison": "desired-image",
                "image_label_mismatch": "fail", "networks_cli_compatible": True, "command_handling": "correct",
                "device_read_bps": []}  # fmt: skip
    run(eng, **switches)
    assert_idempotent(eng, **switches)
    assert_idempotent(eng)


def test_command_handling_compatibility_joins_and_splits_a_list() -> None:
    eng = world()
    run(eng, command=["sh", "-c", "echo hi"], command_handling="compatibility")
    assert the(eng)["options"]["command"] == ["sh", "-c", "echo", "hi"]
    run(eng, command=["sh", "-c", "echo hi"])
    assert the(eng)["options"]["command"] == ["sh", "-c", "echo hi"]


def test_force_kill_sends_kill_signal() -> None:
    eng = world()
    run(eng)
    run(eng, state="absent", force_kill=True, kill_signal="SIGINT")
    assert ("kill", ("web", "SIGINT")) in eng.containers.calls


def test_pull_always_with_the_same_image_is_not_a_change() -> None:
    eng = world(remote={BB: A})
    run(eng)
    assert_idempotent(eng, pull="always")
    assert ("pull", BB) in eng.images.calls


def test_comparisons_can_ignore_image_and_options() -> None:
    eng = world(remote={BB: B})
    run(eng, env={"A": "1"})
    kw = {"pull": "always", "env": {"A": "2"}, "comparisons": {"image": "ignore", "env": "ignore"}}
    predicted, applied = check_then_apply(eng, **kw)
    assert applied["actions"] == [f"Pulled image {BB}"]  # the pull itself is a change
    assert the(eng)["image_id"] == A


def test_removing_an_env_variable_recreates_but_omitting_env_does_not() -> None:
    eng = world()
    run(eng, env={"A": "1", "B": "2"})
    assert_idempotent(eng)  # env not given: not compared
    dummy, applied = check_then_apply(eng, env={"A": "1"})
    assert "Created container web" in applied["actions"]


def test_recreate_and_restart_flags() -> None:
    eng = world()
    run(eng)
    dummy, applied = check_then_apply(eng, recreate=True)
    assert "Created container web" in applied["actions"] and applied["changed"]
    dummy, applied = check_then_apply(eng, restart=True)
    cid = the(eng)["id"]
    assert applied["actions"] == [f"Restarted container web ({cid[:12]})"]
    assert applied["diff"] == {"before": {"restarted": False}, "after": {"restarted": True}}


def test_recreate_keeps_the_containers_image_when_the_task_names_none() -> None:
    eng = world()
    run(eng)
    eng.images.tags[BB] = B  # the tag moved since
    eng.images.store.add(B)
    p = params(recreate=True)
    p["image"] = None
    applied = container_task.container(TaskContext(engine=eng, params=p, diff_mode=True))  # type: ignore[arg-type]
    assert applied["changed"] and the(eng)["image_id"] == A


# ------------------------------------------------------------------ stop / absent
def test_stopped_then_absent() -> None:
    eng = world()
    run(eng)
    cid = the(eng)["id"]
    dummy, applied = check_then_apply(eng, state="stopped", stop_timeout=3)
    assert applied["actions"] == [f"Stopped container web ({cid[:12]})"]
    assert applied["diff"] == {"before": {"running": True}, "after": {"running": False}}
    assert ("stop", ("web", 3)) in eng.containers.calls
    assert_idempotent(eng, state="stopped")
    dummy, applied = check_then_apply(eng, state="absent")
    assert applied["actions"] == [f"Removed container web ({cid[:12]})"]
    assert applied["diff"] == {"before": {"exists": True}, "after": {"exists": False}}
    assert eng.containers.records == {}
    assert_idempotent(eng, state="absent")


def test_keep_volumes_false_removes_anonymous_volumes_with_the_container() -> None:
    eng = world()
    run(eng)
    check_then_apply(eng, state="absent")
    assert eng.containers.removed_volumes is False  # keep_volumes defaults to true
    run(eng)
    check_then_apply(eng, state="absent", keep_volumes=False)
    assert eng.containers.removed_volumes is True


def test_absent_stops_a_running_container_first_or_kills_it() -> None:
    eng = world()
    run(eng)
    dummy, applied = check_then_apply(eng, state="absent", force_kill=True)
    assert applied["actions"][0].startswith("Killed container web")
    assert applied["diff"] == {"before": {"running": True, "exists": True},
                               "after": {"running": False, "exists": False}}  # fmt: skip
    assert [c[0] for c in eng.containers.calls[-3:]] == ["kill", "stop", "remove"]


def test_stopped_on_a_new_container_creates_it() -> None:
    eng = world()
    dummy, applied = check_then_apply(eng, state="stopped")
    assert applied["actions"] == ["Created container web"] and the(eng)["status"] == "created"


def test_started_starts_an_exited_container() -> None:
    eng = world()
    run(eng)
    the(eng)["status"] = "exited"
    dummy, applied = check_then_apply(eng)
    assert applied["actions"] == ["Started container web"]
    assert applied["diff"] == {"before": {"running": False}, "after": {"running": True}}


def test_paused() -> None:
    eng = world()
    run(eng)
    dummy, applied = check_then_apply(eng, paused=True)
    assert applied["actions"] == ["Paused container web"] and the(eng)["status"] == "paused"
    assert_idempotent(eng, paused=True)
    dummy, applied = check_then_apply(eng, paused=False)
    assert applied["diff"] == {"before": {"paused": True}, "after": {"paused": False}}


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "tags, kw, field",
    [
        ({}, {"pull": "never"}, "pull"),
        ({}, {"image": "sha256:" + "e" * 64}, "image"),
        ({BB: A}, {"image": None}, "image"),
        ({BB: A}, {"memory": "12q"}, "memory"),
        ({BB: A}, {"comparisons": {"bogus": "strict"}}, "comparisons"),
    ],
)
def test_errors_name_the_option(tags: dict, kw: dict, field: str) -> None:
    eng = world(tags=tags)
    with pytest.raises(InvalidOption) as err:
        run(eng, True, **kw)
    assert err.value.field == field
    assert writes(eng) == []


def test_image_by_id_is_never_pulled() -> None:
    eng = world()
    dummy, applied = check_then_apply(eng, image=A[7:19])
    assert the(eng)["image_id"] == A and not eng.images.calls


# ------------------------------------------------------------------ healthy / detach=false
def test_healthy_waits_for_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(container_task, "_sleep", lambda s: None)
    eng = world()
    eng.containers.health_script = ["starting", "starting", "healthy"]
    predicted, applied = check_then_apply(eng, state="healthy", healthcheck={"test": "true", "interval": "1s"})
    assert applied["changed"] and "failed" not in applied
    assert applied["container"]["State"]["Health"]["Status"] == "healthy"


def test_healthy_without_a_healthcheck_is_started() -> None:
    eng = world()
    dummy, applied = check_then_apply(eng, state="healthy")
    assert "failed" not in applied and the(eng)["status"] == "running"


def test_healthy_timeout_and_exit_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(0, 10_000, 50))
    monkeypatch.setattr(container_task, "_monotonic", lambda: next(clock))
    monkeypatch.setattr(container_task, "_sleep", lambda s: None)
    eng = world()
    eng.containers.health_script = ["unhealthy"] * 100
    res = run(eng, state="healthy", healthy_wait_timeout=120)
    assert res["failed"] is True and "healthy_wait_timeout" in res["msg"] and res["changed"] is True
    eng = world()
    eng.containers.health_script = ["starting", "exited"]
    res = run(eng, state="healthy")
    assert res["failed"] is True and "not healthy" in res["msg"]


def test_detach_false_waits_and_reports_output() -> None:
    eng = world()
    res = run(eng, detach=False)
    assert res["status"] == 0 and res["output"] == "hello\n" and "failed" not in res
    eng = world()
    eng.containers.exit_code = 2
    res = run(eng, detach=False)
    assert res["failed"] is True and res["status"] == 2 and "exited with status 2" in res["msg"]
    assert run(eng, True, detach=False)["changed"] is True  # check mode never waits


# ------------------------------------------------------------------ the normalised options the service records
def test_created_options_are_exactly_the_normalised_task() -> None:
    eng = world()
    kw = {"command": "sleep 1", "ulimits": ["nofile:10:20"], "capabilities": ["net_admin"], "stop_signal": "9",
          "restart_policy": "on-failure", "restart_retries": 2, "healthcheck": {"test": "true", "interval": "30s"}}
    run(eng, **kw)
    expected = normalise_options(dict(params(**kw)))
    expected.pop("name")
    assert the(eng)["options"] == expected
    assert_idempotent(eng, **kw)


# ------------------------------------------------------------------ container_info
def test_container_info() -> None:
    eng = world()
    p = dict(CONTAINER_INFO_OPTIONS.defaults(), name="web")
    ctx = TaskContext(engine=eng, params=p)  # type: ignore[arg-type]
    assert container_task.container_info(ctx) == {"changed": False, "exists": False, "container": {}}
    run(eng)
    res = container_task.container_info(ctx)
    assert res["exists"] is True and res["changed"] is False and res["container"]["Id"] == the(eng)["id"]


# ------------------------------------------------------------------ container_exec
def exec_params(**kw: t.Any) -> dict[str, t.Any]:
    p = CONTAINER_EXEC_OPTIONS.defaults()
    p.update(container="web")
    p.update(kw)
    return p


def test_container_exec_captures_output() -> None:
    eng = world()
    run(eng)
    p = exec_params(command="cat -", stdin="hi", env={"X": "1"})
    ctx = TaskContext(engine=eng, params=p)  # type: ignore[arg-type]
    res = container_task.container_exec(ctx)
    assert res == {"changed": True, "rc": 3, "stdout": "out:hi", "stderr": "err",
                   "msg": "the command exited with code 3"}
    assert eng.containers.calls[-1] == ("exec", ("web", ["cat", "-"], None, {"X": "1"}, None, False, False, False))
    ctx = TaskContext(engine=eng, params=exec_params(argv=["ls", "a b"], strip_empty_ends=False, chdir="/tmp",
                                                     user="nobody"))  # type: ignore[arg-type]  # fmt: skip
    res = container_task.container_exec(ctx)
    assert res["stdout"] == "out:\n\n"
    assert eng.containers.calls[-1][1][:5] == ("web", ["ls", "a b"], "nobody", None, "/tmp")
    eng.containers.exec_rc = 0
    assert "msg" not in container_task.container_exec(ctx)


def test_container_exec_check_mode_and_errors() -> None:
    eng = world()
    run(eng)
    ctx = TaskContext(engine=eng, params=exec_params(command="rm -rf /data"), check_mode=True)  # type: ignore[arg-type]
    assert container_task.container_exec(ctx)["skipped"] is True
    assert not [c for c in eng.containers.calls if c[0] == "exec"]
    for kw, field in (({"command": "a 'b"}, "command"), ({"command": ""}, "command"),
                      ({"command": "ls", "chdir": "rel"}, "chdir"), ({"command": "ls", "env": {"A": True}}, "env.A")):
        with pytest.raises(InvalidOption) as err:
            container_task.container_exec(TaskContext(engine=eng, params=exec_params(**kw)))  # type: ignore[arg-type]
        assert err.value.field == field
