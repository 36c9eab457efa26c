# SPDX-License-Identifier: GPL-3.0-or-later
"""berth.engine.container, container_info and container_exec through ansible-playbook on localhost.

The idempotency bar of ANSIBLE_USERS.md: create (changed) / again (not changed) / check mode (predicts,
touches nothing) / one updatable option (updated in place, same container ID) / one other option
(recreated, new ID) / stopped / absent, each change also run under --check --diff first with the same
diff as the applied one.  Containers run with the system Python's engine (ansible_python_interpreter
is /usr/bin/python3), as root.
"""
from __future__ import annotations

import glob
import hashlib
import os
import typing as t

import pytest

from tests.support import images as test_images
from tests.support.files import files_holding

pytestmark = [pytest.mark.integration, pytest.mark.registry]

CONTAINER = "berth.engine.container"
INFO = "berth.engine.container_info"
EXEC = "berth.engine.container_exec"


def diff_of(result: dict[str, t.Any]) -> dict[str, t.Any]:
    diff = result.get("diff")
    if isinstance(diff, list):
        assert len(diff) == 1, diff
        diff = diff[0]
    assert diff is not None, f"no diff in {result}"
    return {"before": diff.get("before", {}), "after": diff.get("after", {})}


def ok(result: dict[str, t.Any]) -> dict[str, t.Any]:
    assert not result.get("failed"), result
    return result


@pytest.fixture
def engine_defaults(registry: t.Any, berth_config: t.Callable[..., str], berth_root: str) -> dict[str, str]:
    return {"data_root": berth_root, "config_path": berth_config()}


@pytest.fixture
def image_ref(registry: t.Any, busybox_layout: test_images.OciLayout) -> str:
    test_images.push(busybox_layout, "latest", registry.host, "berth-it/box:latest")
    return f"{registry.host}/berth-it/box:latest"


def test_create_idempotent_update_recreate_stop_remove(
    run_playbook: t.Callable[..., t.Any], engine_defaults: dict[str, str], image_ref: str
) -> None:
    root = engine_defaults["data_root"]
    base = {"name": "berth-it-web", "image": image_ref, "command": "sleep 3600", "stop_timeout": 1,
            "memory": "64m", "env": {"MODE": "one"}}  # fmt: skip

    # 1. check mode on a fresh data root: predicted, nothing written
    check = run_playbook([{"name": "create", CONTAINER: base}], check=True, diff=True, defaults=engine_defaults)
    assert ok(check["create"])["changed"] is True
    assert diff_of(check["create"]) == {"before": {"exists": False, "running": False},
                                        "after": {"exists": True, "running": True}}  # fmt: skip
    assert os.listdir(root) == [], f"check mode wrote to the data root: {os.listdir(root)}"

    # 2. create, again, again in check mode, info, exec
    first = run_playbook(
        [
            {"name": "create", CONTAINER: base},
            {"name": "again", CONTAINER: base},
            {"name": "again, check", CONTAINER: base, "check_mode": True},
            {"name": "same values written differently",
             CONTAINER: dict(base, memory="65536k", command=["sleep", "3600"])},  # fmt: skip
            {"name": "info", INFO: {"name": "berth-it-web"}},
            {"name": "exec", EXEC: {"container": "berth-it-web", "command": "sh -c 'echo $MODE; id -u'"}},
        ],
        diff=True,
        defaults=engine_defaults,
    )
    created = ok(first["create"])
    assert created["changed"] is True
    assert diff_of(created) == diff_of(check["create"])
    assert created["actions"][-2:] == ["Created container berth-it-web", "Started container berth-it-web"]
    first_id = created["container"]["Id"]
    assert created["container"]["State"]["Running"] is True
    for task in ("again", "again, check", "same values written differently"):
        assert ok(first[task])["changed"] is False, task
        assert first[task]["actions"] == [], task
    assert first["info"]["exists"] is True and first["info"]["container"]["Id"] == first_id
    assert ok(first["exec"])["stdout"] == "one\n0" and first["exec"]["rc"] == 0

    # 3. an updatable option: updated in place (same ID), predicted exactly
    bigger = dict(base, memory="128m")
    updated = run_playbook(
        [
            {"name": "update, check", CONTAINER: bigger, "check_mode": True},
            {"name": "update", CONTAINER: bigger},
            {"name": "update again", CONTAINER: bigger},
        ],
        diff=True,
        defaults=engine_defaults,
    )
    assert ok(updated["update"])["changed"] is True
    assert updated["update"]["container"]["Id"] == first_id
    assert diff_of(updated["update"]) == diff_of(updated["update, check"]) == {
        "before": {"memory": 64 << 20},
        "after": {"memory": 128 << 20},
    }
    assert updated["update"]["actions"] == updated["update, check"]["actions"]
    assert updated["update"]["container"]["HostConfig"]["Memory"] == 128 << 20
    assert ok(updated["update again"])["changed"] is False

    # 4. a non-updatable option: recreated (new ID), predicted exactly
    other = dict(bigger, env={"MODE": "two"})
    recreated = run_playbook(
        [
            {"name": "recreate, check", CONTAINER: other, "check_mode": True},
            {"name": "recreate", CONTAINER: other},
            {"name": "recreate again", CONTAINER: other},
            {"name": "exec", EXEC: {"container": "berth-it-web", "argv": ["sh", "-c", "echo $MODE"]}},
        ],
        diff=True,
        defaults=engine_defaults,
    )
    assert ok(recreated["recreate"])["changed"] is True
    second_id = recreated["recreate"]["container"]["Id"]
    assert second_id != first_id
    assert diff_of(recreated["recreate"]) == diff_of(recreated["recreate, check"])
    assert diff_of(recreated["recreate"])["after"]["env"]["MODE"] == "two"
    assert recreated["recreate"]["actions"] == recreated["recreate, check"]["actions"]
    assert recreated["recreate"]["container"]["State"]["Running"] is True
    assert ok(recreated["recreate again"])["changed"] is False
    assert recreated["exec"]["stdout"] == "two"

    # 5. stopped, absent: each predicted, applied, then unchanged
    stopped = dict(other, state="stopped")
    absent = {"name": "berth-it-web", "state": "absent"}
    done = run_playbook(
        [
            {"name": "stop, check", CONTAINER: stopped, "check_mode": True},
            {"name": "stop", CONTAINER: stopped},
            {"name": "stop again", CONTAINER: stopped},
            {"name": "remove, check", CONTAINER: absent, "check_mode": True},
            {"name": "remove", CONTAINER: absent},
            {"name": "remove again", CONTAINER: absent},
            {"name": "info", INFO: {"name": "berth-it-web"}},
        ],
        diff=True,
        defaults=engine_defaults,
    )
    assert ok(done["stop"])["changed"] is True
    assert diff_of(done["stop"]) == diff_of(done["stop, check"]) == {"before": {"running": True},
                                                                     "after": {"running": False}}  # fmt: skip
    assert done["stop"]["container"]["Id"] == second_id
    assert done["stop"]["container"]["State"]["Running"] is False
    assert ok(done["stop again"])["changed"] is False
    assert ok(done["remove"])["changed"] is True
    assert diff_of(done["remove"]) == diff_of(done["remove, check"]) == {"before": {"exists": True},
                                                                         "after": {"exists": False}}  # fmt: skip
    assert ok(done["remove again"])["changed"] is False
    assert done["info"]["exists"] is False


def test_bad_options_fail_cleanly(
    run_playbook: t.Callable[..., t.Any], engine_defaults: dict[str, str], image_ref: str
) -> None:
    res = run_playbook(
        [
            {"name": "bad memory", CONTAINER: {"name": "x1", "image": image_ref, "memory": "12q"},
             "ignore_errors": True},
            {"name": "bad env value", CONTAINER: {"name": "x1", "image": image_ref, "env": {"A": True}},
             "ignore_errors": True},
            {"name": "no such network", CONTAINER: {"name": "x1", "image": image_ref, "network_mode": "nosuchnet"},
             "ignore_errors": True},
            {"name": "no image", CONTAINER: {"name": "x1"}, "ignore_errors": True},
            {"name": "exec in a missing container", EXEC: {"container": "x1", "command": "true"},
             "ignore_errors": True},
        ],
        defaults=engine_defaults,
    )  # fmt: skip
    for task, words in (
        ("bad memory", ("memory", "12q")),
        ("bad env value", ("env.A",)),
        ("no such network", ("nosuchnet",)),
        ("no image", ("image",)),
        ("exec in a missing container", ("x1",)),
    ):
        result = res[task]
        assert result.get("failed") is True, (task, result)
        for word in words:
            assert word in result["msg"], (task, result["msg"])
        assert "Traceback" not in result["msg"] and "module_stderr" not in result, (task, result)


def test_an_unknown_user_fails_create_and_check_mode(
    run_playbook: t.Callable[..., t.Any], engine_defaults: dict[str, str], image_ref: str
) -> None:
    """The OCI spec is built at create and in check mode: ``user: nosuchuser`` fails there (not at the first
    start), naming option and value, and leaves no container behind."""
    bad = {"name": "x2", "image": image_ref, "command": "true", "user": "nosuchuser"}
    res = run_playbook(
        [
            {"name": "pull", "berth.engine.image": {"name": image_ref, "source": "pull"}},
            {"name": "bad user, check", CONTAINER: dict(bad, state="present"), "check_mode": True,
             "ignore_errors": True},
            {"name": "bad user", CONTAINER: dict(bad, state="present"), "ignore_errors": True},
            {"name": "info", INFO: {"name": "x2"}},
        ],
        defaults=engine_defaults,
    )  # fmt: skip
    ok(res["pull"])
    for task in ("bad user, check", "bad user"):
        result = res[task]
        assert result.get("failed") is True, (task, result)
        assert "invalid value 'nosuchuser' for user" in result["msg"], (task, result["msg"])
        assert "Traceback" not in result["msg"] and "module_stderr" not in result, (task, result)
    assert ok(res["info"])["exists"] is False
    for sub in ("containers", "names"):  # no record, no name link
        path = os.path.join(engine_defaults["data_root"], sub)
        assert not os.path.isdir(path) or os.listdir(path) == [], sub


def test_unsupported_setting_warns_and_stays_idempotent(
    run_playbook: t.Callable[..., t.Any], engine_defaults: dict[str, str], image_ref: str
) -> None:
    """blkio_weight where the kernel has no block I/O weight: Docker's warning, recorded, not applied."""
    from ansible_collections.berth.engine.plugins.module_utils.engine.runtime.cgroups import detect

    spec = {"name": "berth-it-io", "image": image_ref, "command": "sleep 3600", "stop_timeout": 1,
            "blkio_weight": 300}
    res = run_playbook(
        [{"name": "create", CONTAINER: spec}, {"name": "again", CONTAINER: spec},
         {"name": "drop", CONTAINER: {"name": "berth-it-io", "state": "absent"}}],
        defaults=engine_defaults,
    )  # fmt: skip
    created, again = ok(res["create"]), ok(res["again"])
    assert created["changed"] is True and again["changed"] is False
    assert created["container"]["HostConfig"]["BlkioWeight"] == 300
    warned = [w for w in created.get("warnings") or [] if w.startswith("blkio_weight: ")]
    assert bool(warned) is (not detect.io_weight_supported()), created.get("warnings")
    assert not again.get("warnings")


def test_userns_mode_is_compared(
    run_playbook: t.Callable[..., t.Any], engine_defaults: dict[str, str], image_ref: str
) -> None:
    """userns_mode takes part in idempotency (host stays host; private would recreate, predicted in
    check mode only: creating it needs subordinate ID ranges on the host)."""
    base = {"name": "berth-it-userns", "image": image_ref, "command": "sleep 3600", "stop_timeout": 1,
            "userns_mode": "host"}  # fmt: skip
    res = run_playbook(
        [
            {"name": "create", CONTAINER: base},
            {"name": "again", CONTAINER: base},
            {"name": "without the option", CONTAINER: {k: v for k, v in base.items() if k != "userns_mode"}},
            {"name": "private, check", CONTAINER: dict(base, userns_mode="private"), "check_mode": True},
            {"name": "privileged private", CONTAINER: dict(base, userns_mode="private", privileged=True),
             "ignore_errors": True},
            {"name": "remove", CONTAINER: {"name": "berth-it-userns", "state": "absent"}},
        ],
        diff=True,
        defaults=engine_defaults,
    )  # fmt: skip
    created = ok(res["create"])
    assert created["changed"] is True and created["container"]["HostConfig"]["UsernsMode"] == "host"
    assert ok(res["again"])["changed"] is False and ok(res["without the option"])["changed"] is False
    check = ok(res["private, check"])
    assert check["changed"] is True
    assert diff_of(check)["before"].get("userns_mode") == "host"
    assert diff_of(check)["after"].get("userns_mode") == "private"
    assert "Removed container" in " ".join(check["actions"]) and "Created container" in " ".join(check["actions"])
    failed = res["privileged private"]
    assert failed.get("failed") is True and "privileged" in failed["msg"] and "user namespaces" in failed["msg"]
    assert ok(res["remove"])["changed"] is True


def test_healthy_and_one_off_job(
    run_playbook: t.Callable[..., t.Any], engine_defaults: dict[str, str], image_ref: str
) -> None:
    healthy = {"name": "berth-it-hc", "image": image_ref, "command": "sleep 3600", "stop_timeout": 1,
               "state": "healthy", "healthy_wait_timeout": 60,
               "healthcheck": {"test": "test -e /proc/self", "interval": "1s", "start_interval": "200ms"}}
    job = {"name": "berth-it-job", "image": image_ref, "command": ["sh", "-c", "echo done; exit 3"],
           "detach": False}  # fmt: skip
    res = run_playbook(
        [
            {"name": "healthy", CONTAINER: healthy},
            {"name": "healthy again", CONTAINER: healthy},
            {"name": "job", CONTAINER: job, "ignore_errors": True},
            {"name": "cleanup hc", CONTAINER: {"name": "berth-it-hc", "state": "absent"}},
            {"name": "cleanup job", CONTAINER: {"name": "berth-it-job", "state": "absent"}},
        ],
        defaults=engine_defaults,
    )
    assert ok(res["healthy"])["changed"] is True
    assert res["healthy"]["container"]["State"]["Health"]["Status"] == "healthy"
    assert ok(res["healthy again"])["changed"] is False
    assert res["job"]["failed"] is True and res["job"]["status"] == 3
    assert res["job"]["output"] == "done\n" and "exited with status 3" in res["job"]["msg"]
    assert ok(res["cleanup hc"])["changed"] is True and ok(res["cleanup job"])["changed"] is True


def test_the_whole_run_surface_converges(
    run_playbook: t.Callable[..., t.Any], engine_defaults: dict[str, str], image_ref: str, tmp_path: t.Any
) -> None:
    """Every option at once, in the forms people write (units, strings for numbers, names, shorthand):
    created, then the same task again (and under --check --diff) is unchanged, touches nothing (same
    ID, same start time), and the container got what was asked (the false "changed" is the first
    complaint of ANSIBLE_USERS.md §3)."""
    env_file = tmp_path / "app.env"
    env_file.write_text("# comment\nFROM_FILE=yes\nSHARED=file\n")
    full = {
        "name": "berth-it-full", "image": image_ref,
        "entrypoint": ["/bin/sh", "-c"], "command": ["echo started; exec sleep 3600", "ignored-arg0"],
        "env": {"A": "1", "NUM": 3, "SPACED": "two words", "SHARED": "task"}, "env_file": str(env_file),
        "user": "65534:65534", "groups": ["1000", "nobody"], "working_dir": "/tmp/work",
        "hostname": "full", "domainname": "example.test", "labels": {"tier": "web", "n": "1"},
        "restart_policy": "on-failure", "restart_retries": 3,
        "memory": "96m", "memory_reservation": "32M", "memory_swap": "192MB", "cpus": 0.5, "cpu_shares": 512,
        "cpuset_cpus": "0", "cpuset_mems": "0", "pids_limit": 64, "cgroup_parent": "berth-it-full",
        "oom_score_adj": 100, "ulimits": ["nofile:1024:2048", "nproc:512"],
        "sysctls": {"kernel.msgmax": 65536, "net.ipv4.ip_unprivileged_port_start": "1024"},
        "cap_add": ["net_admin", "CAP_SYS_TIME"], "cap_drop": ["MKNOD"], "privileged": False,
        "read_only": True, "tmpfs": ["/run:size=1m", "/tmp:mode=1777,size=8m"], "shm_size": "32m",
        "devices": ["/dev/zero:/dev/myzero:r"], "init": True, "stop_signal": "SIGINT", "stop_timeout": 2,
        "healthcheck": {"test": ["CMD-SHELL", "test -d /proc/1"], "interval": "30s", "timeout": "5s",
                        "retries": 2, "start_period": "1s"},
        "log_driver": "json-file", "log_options": {"max-size": "1m", "max-file": 2},
        "security_opts": ["no-new-privileges"], "network_mode": "none", "ipc_mode": "private",
        "tty": False, "interactive": False,
    }  # fmt: skip
    res = run_playbook(
        [
            {"name": "create", CONTAINER: full},
            {"name": "again", CONTAINER: full},
            {"name": "again, check", CONTAINER: full, "check_mode": True},
            {"name": "look", EXEC: {"container": "berth-it-full", "argv": [
                "sh", "-c",
                "id; echo $A $NUM $SPACED $SHARED $FROM_FILE; pwd; hostname; "
                "ulimit -n; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null "
                "|| cat /sys/fs/cgroup/pids.max; touch /x 2>/dev/null || echo ro"]}},
            # the reverse mistake (ansible/ansible#31338): a key taken away must count as a change
            {"name": "one env var fewer, check",
             CONTAINER: dict(full, env={k: v for k, v in full["env"].items() if k != "A"}),
             "check_mode": True},
            {"name": "one label fewer, check", CONTAINER: dict(full, labels={"tier": "web"}), "check_mode": True},
            {"name": "remove", CONTAINER: {"name": "berth-it-full", "state": "absent"}},
        ],
        diff=True,
        defaults=engine_defaults,
    )  # fmt: skip
    created = ok(res["create"])
    assert ok(res["one env var fewer, check"])["changed"] is True
    assert "A" in diff_of(res["one env var fewer, check"])["before"]["env"]
    assert ok(res["one label fewer, check"])["changed"] is True
    assert created["changed"] is True
    for task in ("again", "again, check"):
        assert ok(res[task])["changed"] is False, (task, res[task].get("diff"), res[task].get("actions"))
        assert res[task]["actions"] == [], task
        assert res[task]["container"]["Id"] == created["container"]["Id"], task
        assert res[task]["container"]["State"]["StartedAt"] == created["container"]["State"]["StartedAt"], task
    lines = ok(res["look"])["stdout"].splitlines()
    assert lines[0].startswith("uid=65534(nobody) gid=65534(nobody)") and "1000" in lines[0], lines
    assert lines[1:] == ["1 3 two words task yes", "/tmp/work", "full", "1024", "64", "ro"], lines
    host = created["container"]["HostConfig"]
    assert host["Memory"] == 96 << 20 and host["MemoryReservation"] == 32 << 20 and host["MemorySwap"] == 192 << 20
    assert host["NanoCpus"] == 500_000_000 and host["PidsLimit"] == 64 and host["ReadonlyRootfs"] is True
    assert ok(res["remove"])["changed"] is True
    for parent in glob.glob("/sys/fs/cgroup/berth-it-full") + glob.glob("/sys/fs/cgroup/*/berth-it-full"):
        os.rmdir(parent)  # the cgroup_parent stays after its last container, as with Docker: the test's own


def test_secret_env_stays_out_of_output_and_records(
    run_playbook: t.Callable[..., t.Any], engine_defaults: dict[str, str], image_ref: str
) -> None:
    root = engine_defaults["data_root"]
    secret, rotated = "s3cr3t-" + os.urandom(8).hex(), "r0tated-" + os.urandom(8).hex()
    base = {"name": "berth-it-secret", "image": image_ref, "command": "sleep 3600", "stop_timeout": 1,
            "env": {"PLAIN": "shown"}, "secret_env": {"DB_PASSWORD": secret}}  # fmt: skip
    # the process's view of the secret, printed as a digest so that the playbook's output never holds it
    show = {"container": "berth-it-secret", "argv": ["sh", "-c", 'printf %s "$DB_PASSWORD" | sha256sum; echo $PLAIN']}

    def seen(value: str) -> str:
        return f"{hashlib.sha256(value.encode()).hexdigest()}  -\nshown"

    check = run_playbook([{"name": "create, check", CONTAINER: base}], check=True, diff=True, verbosity=1,
                         defaults=engine_defaults)
    assert ok(check["create, check"])["changed"] is True
    first = run_playbook(
        [
            {"name": "create", CONTAINER: base},
            {"name": "again", CONTAINER: base},
            {"name": "again, check", CONTAINER: base, "check_mode": True},
            {"name": "info", INFO: {"name": "berth-it-secret"}},
            {"name": "exec", EXEC: show},
        ],
        diff=True,
        verbosity=1,
        defaults=engine_defaults,
    )
    first_id = ok(first["create"])["container"]["Id"]
    assert ok(first["again"])["changed"] is False and ok(first["again, check"])["changed"] is False
    # container_info has no no_log parameter: Ansible masks nothing there, the engine does
    config = first["info"]["container"]["Config"]
    assert "DB_PASSWORD=********" in config["Env"] and "PLAIN=shown" in config["Env"]
    assert first["info"]["container"]["Berth"]["Desired"]["secret_env"] == {"DB_PASSWORD": "********"}
    assert ok(first["exec"])["stdout"] == seen(secret)  # exec runs with the process's env
    bundle = os.path.join(root, "containers", first_id, "bundle", "config.json")
    assert files_holding(root, secret.encode()) == [os.path.relpath(bundle, root)]
    assert os.stat(bundle).st_mode & 0o777 == 0o600

    # a rotated secret recreates; the diff says so without a value, check mode predicts it exactly
    changed = dict(base, secret_env={"DB_PASSWORD": rotated})
    second = run_playbook(
        [
            {"name": "rotate, check", CONTAINER: changed, "check_mode": True},
            {"name": "rotate", CONTAINER: changed},
            {"name": "rotate again", CONTAINER: changed},
            {"name": "exec", EXEC: show},
        ],
        diff=True,
        verbosity=1,
        defaults=engine_defaults,
    )
    assert ok(second["rotate"])["changed"] is True and second["rotate"]["container"]["Id"] != first_id
    assert diff_of(second["rotate"]) == diff_of(second["rotate, check"]) == {
        "before": {"secret_env": {"DB_PASSWORD": "********"}},
        "after": {"secret_env": {"DB_PASSWORD": "******** (changed)"}},
    }
    assert ok(second["rotate again"])["changed"] is False
    assert second["exec"]["stdout"] == seen(rotated)
    assert not files_holding(root, secret.encode())
    assert len(files_holding(root, rotated.encode())) == 1

    # a name in env and secret_env: an error naming both, and no value
    both = run_playbook([{"name": "both", CONTAINER: dict(base, env={"DB_PASSWORD": "plain"})}],
                        defaults=engine_defaults)
    assert both["both"]["failed"] is True
    assert "secret_env" in both["both"]["msg"] and "env" in both["both"]["msg"]

    for result in (check, first, second, both):
        for value in (secret, rotated):
            assert value not in result.stdout + result.stderr
    run_playbook([{"name": "remove", CONTAINER: {"name": "berth-it-secret", "state": "absent"}}],
                 defaults=engine_defaults)
