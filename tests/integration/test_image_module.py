# SPDX-License-Identifier: GPL-3.0-or-later
"""berth.engine.image and image_info through ansible-playbook on localhost.

The triplet for every change (STYLE rule 10): do X in check mode (predicts, touches nothing),
do X (changed, same diff as predicted), do X again (not changed).  Several checks share one
playbook run: each ansible-playbook start costs one to two seconds.
"""
from __future__ import annotations

import os
import tarfile
import typing as t

import pytest

from tests.support import images as test_images
from tests.support import require_tools, run

pytestmark = [pytest.mark.integration, pytest.mark.registry]

IMAGE = "berth.engine.image"
INFO = "berth.engine.image_info"


def image_id(layout: test_images.OciLayout) -> str:
    return str(layout.manifest["config"]["digest"])


def blob_files(root: str) -> list[str]:
    found = []
    for dirpath, _dirs, files in os.walk(os.path.join(root, "blobs")):
        found.extend(os.path.join(dirpath, f) for f in files)
    return found


def assert_clean_failure(result: dict[str, t.Any], *words: str) -> None:
    """Failed with a message naming the field/value, and no traceback."""
    assert result.get("failed") is True, result
    msg = result.get("msg", "")
    for word in words:
        assert word in msg, f"{word!r} not in {msg!r}"
    # ansible-core 2.19 adds an ``exception`` summary to every failure ("(traceback unavailable)");
    # what must not be there is a Python traceback or a crash on stderr.
    assert "Traceback" not in str(result.get("exception", "")), result["exception"]
    assert "Traceback" not in msg and "module_stderr" not in result, result


def diff_of(result: dict[str, t.Any]) -> dict[str, t.Any]:
    """The diff a module returned, as the json callback shows it (a list of diffs per task)."""
    diff = result.get("diff")
    if isinstance(diff, list):
        assert len(diff) == 1, diff
        diff = diff[0]
    assert diff, f"no diff in {result}"
    return {"before": diff["before"], "after": diff["after"]}


@pytest.fixture
def engine_defaults(registry: t.Any, berth_config: t.Callable[..., str], berth_root: str) -> dict[str, str]:
    return {"data_root": berth_root, "config_path": berth_config()}


def test_pull_check_apply_idempotent_update_and_remove(
    run_playbook: t.Callable[..., t.Any],
    engine_defaults: dict[str, str],
    registry: t.Any,
    busybox_layout: test_images.OciLayout,
    tmp_path: t.Any,
) -> None:
    root = engine_defaults["data_root"]
    repo = f"{registry.host}/berth-it/app"
    ref = f"{repo}:latest"
    test_images.push(busybox_layout, "latest", registry.host, "berth-it/app:latest")
    first_id = image_id(busybox_layout)
    saved = str(tmp_path / "saved.tar")

    # 1. --check --diff on a fresh data root: predicted, nothing downloaded
    check = run_playbook(
        [
            {"name": "pull", IMAGE: {"name": repo}},
            {"name": "info", INFO: {"name": [ref]}},
        ],
        check=True,
        diff=True,
        defaults=engine_defaults,
    )
    assert check["pull"]["changed"] is True
    assert diff_of(check["pull"]) == {
        "before": {"id": None, "repo_tags": []},
        "after": {"id": first_id, "repo_tags": [f"{repo}:latest"]},
    }
    assert check["pull"]["actions"] == [f"Pulled image {ref}"]
    assert check["info"]["images"] == []
    assert blob_files(root) == [], "check mode downloaded content"
    assert os.listdir(root) == [], f"check mode wrote to the data root: {os.listdir(root)}"

    # 2. apply, repeat, pull=always without a remote change, inspect, and bad input
    applied = run_playbook(
        [
            {"name": "pull", IMAGE: {"name": repo}},
            {"name": "pull again", IMAGE: {"name": repo}},
            {"name": "pull always, same remote", IMAGE: {"name": repo, "pull": "always"}},
            {"name": "pull always, same remote, check", IMAGE: {"name": repo, "pull": "always"}, "check_mode": True},
            {"name": "info", INFO: {"name": [ref, "berth-it/none:1"]}},
            {"name": "info all", INFO: {"filters": {"reference": "*/berth-it/*"}}},
            {"name": "bad name", IMAGE: {"name": "UPPER/Case"}, "ignore_errors": True},
            {"name": "bad tag", IMAGE: {"name": repo, "tag": "no such:tag"}, "ignore_errors": True},
            {"name": "load without archive", IMAGE: {"name": "x", "source": "load"}, "ignore_errors": True},
            {"name": "bad pull policy", IMAGE: {"name": repo, "pull": "sometimes"}, "ignore_errors": True},
            {"name": "pull never, missing", IMAGE: {"name": repo, "tag": "v9", "pull": "never"},
             "ignore_errors": True},
            {"name": "archive as load input", IMAGE: {"name": repo, "source": "load", "archive_path": "/nope.tar"},
             "ignore_errors": True},
            {"name": "save", IMAGE: {"name": repo, "archive_path": saved}},
            {"name": "save again", IMAGE: {"name": repo, "archive_path": saved}},
            {"name": "build", IMAGE: {"name": repo, "source": "build"}, "ignore_errors": True},
            {"name": "relative data root", IMAGE: {"name": repo, "data_root": "rel/root"}, "ignore_errors": True},
        ],
        diff=True,
        defaults=engine_defaults,
    )
    assert applied["pull"]["changed"] is True
    assert diff_of(applied["pull"]) == diff_of(check["pull"])
    assert applied["pull"]["actions"] == check["pull"]["actions"]
    assert applied["pull"]["image"]["Id"] == first_id
    assert blob_files(root), "nothing was downloaded"
    assert applied["pull again"]["changed"] is False
    assert applied["pull again"]["actions"] == []
    assert applied["pull always, same remote"]["changed"] is False
    assert applied["pull always, same remote, check"]["changed"] is False
    assert [i["Id"] for i in applied["info"]["images"]] == [first_id]
    assert applied["info"]["images"][0]["RepoTags"] == [ref]
    assert [i["Id"] for i in applied["info all"]["images"]] == [first_id]
    assert_clean_failure(applied["bad name"], "name", "UPPER/Case")
    assert_clean_failure(applied["bad tag"], "tag", "no such:tag")
    assert_clean_failure(applied["load without archive"], "load_path")
    assert_clean_failure(applied["bad pull policy"], "pull", "sometimes")
    assert_clean_failure(applied["pull never, missing"], "pull", f"{repo}:v9")
    assert_clean_failure(applied["archive as load input"], "archive_path", "load_path")
    assert applied["save"]["changed"] is True and os.path.getsize(saved) > 0
    assert applied["save again"]["changed"] is False
    assert_clean_failure(applied["build"], "source", "build")
    assert_clean_failure(applied["relative data root"], "data_root", "rel/root")

    # 3. the registry moves the tag: pull=always predicts, applies, settles; then remove
    v2 = test_images.make_oci_layout(tmp_path / "v2", "v2", [{"etc/berth-v2": b"2\n"}], cmd=["sh"])
    pushed_v2 = test_images.push(v2, "v2", registry.host, "berth-it/app:latest")
    second_id = image_id(v2)
    moved = run_playbook(
        [
            {"name": "update, check", IMAGE: {"name": repo, "pull": "always"}, "check_mode": True},
            {"name": "update", IMAGE: {"name": repo, "pull": "always"}},
            {"name": "update again", IMAGE: {"name": repo, "pull": "always"}},
            {"name": "remove digest", IMAGE: {"name": pushed_v2.by_digest, "state": "absent"}},
            {"name": "remove digest again", IMAGE: {"name": pushed_v2.by_digest, "state": "absent"}},
            {"name": "remove, check", IMAGE: {"name": ref, "state": "absent"}, "check_mode": True},
            {"name": "remove", IMAGE: {"name": ref, "state": "absent"}},
            {"name": "remove again", IMAGE: {"name": ref, "state": "absent"}},
            {"name": "remove again, check", IMAGE: {"name": ref, "state": "absent"}, "check_mode": True},
            {"name": "info after remove", INFO: {"name": [ref]}},
        ],
        diff=True,
        defaults=engine_defaults,
    )
    assert moved["update, check"]["changed"] is True
    assert moved["update"]["changed"] is True
    assert diff_of(moved["update"]) == diff_of(moved["update, check"]) == {
        "before": {"id": first_id, "repo_tags": [ref]},
        "after": {"id": second_id, "repo_tags": [ref]},
    }
    assert moved["update"]["image"]["Id"] == second_id
    assert moved["update again"]["changed"] is False
    # a digest reference goes, the tag of the same image stays (docker rmi repo@digest)
    assert moved["remove digest"]["changed"] is True
    assert moved["remove digest"]["actions"] == [f"Untagged: {pushed_v2.by_digest}"]
    assert moved["remove digest again"]["changed"] is False

    assert moved["remove, check"]["changed"] is True
    assert moved["remove"]["changed"] is True
    assert diff_of(moved["remove"]) == diff_of(moved["remove, check"]) == {
        "before": {"id": second_id, "repo_tags": [ref]},
        "after": {"id": None, "repo_tags": []},
    }
    actions = moved["remove"]["actions"]
    assert f"Untagged: {ref}" in actions and f"Deleted: {second_id}" in actions
    assert moved["remove, check"]["actions"] == actions[: len(moved["remove, check"]["actions"])]
    assert moved["remove again"]["changed"] is False
    assert moved["remove again, check"]["changed"] is False
    assert moved["info after remove"]["images"] == []


def _rootfs_tarball(rootfs: str, path: str) -> str:
    with tarfile.open(path, "w:gz") as tar:
        for name in sorted(os.listdir(rootfs)):
            tar.add(os.path.join(rootfs, name), arcname=name)
    return path


def test_import_and_load(
    run_playbook: t.Callable[..., t.Any],
    engine_defaults: dict[str, str],
    busybox_layout: test_images.OciLayout,
    busybox_rootfs: str,
    tmp_path: t.Any,
) -> None:
    require_tools("skopeo", why="making a docker-archive")
    rootfs_tar = _rootfs_tarball(busybox_rootfs, str(tmp_path / "rootfs.tar.gz"))
    archive = str(tmp_path / "busybox-docker.tar")
    run(["skopeo", "--insecure-policy", "copy", "--quiet", f"oci:{busybox_layout.path}:latest",
         f"docker-archive:{archive}:berth-it/loaded:1"])
    imported = "berth-it/imported"
    loaded = "berth-it/loaded:1"
    changes = ['CMD ["sh"]', "ENV BERTH_IT=1"]
    res = run_playbook(
        [
            {"name": "import, check", IMAGE: {"name": imported, "source": "import", "load_path": rootfs_tar,
                                              "changes": changes}, "check_mode": True},
            {"name": "info after check", INFO: {"name": [imported]}},
            {"name": "import", IMAGE: {"name": imported, "source": "import", "load_path": rootfs_tar,
                                       "changes": changes}},
            {"name": "import again", IMAGE: {"name": imported, "source": "import", "load_path": rootfs_tar,
                                             "changes": changes}},
            {"name": "load, check", IMAGE: {"name": loaded, "source": "load", "load_path": archive},
             "check_mode": True},
            {"name": "load", IMAGE: {"name": loaded, "source": "load", "load_path": archive}},
            {"name": "load again", IMAGE: {"name": loaded, "source": "load", "load_path": archive}},
            {"name": "load forced, same content", IMAGE: {"name": loaded, "source": "load",
                                                          "load_path": archive, "force": True}},
            {"name": "load wrong name", IMAGE: {"name": "berth-it/other:1", "source": "load",
                                                "load_path": archive}, "ignore_errors": True},
            {"name": "info", INFO: {"name": [imported, loaded]}},
        ],
        diff=True,
        defaults=engine_defaults,
    )
    assert res["import, check"]["changed"] is True
    assert res["info after check"]["images"] == []
    assert res["import"]["changed"] is True
    cfg = res["import"]["image"]["Config"]
    assert cfg["Cmd"] == ["sh"] and "BERTH_IT=1" in cfg["Env"]
    assert diff_of(res["import"])["after"]["repo_tags"] == diff_of(res["import, check"])["after"]["repo_tags"]
    assert res["import again"]["changed"] is False

    assert res["load, check"]["changed"] is True
    assert res["load"]["changed"] is True
    assert res["load"]["image"]["Id"] == image_id(busybox_layout)
    assert diff_of(res["load"])["after"]["repo_tags"] == diff_of(res["load, check"])["after"]["repo_tags"]
    assert res["load again"]["changed"] is False
    assert res["load forced, same content"]["changed"] is False
    assert_clean_failure(res["load wrong name"], "berth-it/other:1", archive)
    assert [i["RepoTags"] for i in res["info"]["images"]] == [[f"{imported}:latest"], [loaded]]


def test_a_damaged_local_image_is_pulled_again(
    run_playbook: t.Callable[..., t.Any],
    engine_defaults: dict[str, str],
    registry: t.Any,
    busybox_layout: test_images.OciLayout,
) -> None:
    """With the default pull policy a present image is not pulled, unless its content is damaged: then the
    task pulls it again (a change, predicted by check mode), as ``berth pull`` does."""
    root = engine_defaults["data_root"]
    repo = f"{registry.host}/berth-it/damaged"
    test_images.push(busybox_layout, "latest", registry.host, "berth-it/damaged:latest")
    first = run_playbook([{"name": "pull", IMAGE: {"name": repo}}], defaults=engine_defaults)
    assert first["pull"]["changed"] is True
    config = os.path.join(root, "blobs", "sha256", image_id(busybox_layout).split(":", 1)[1])
    with open(config, "r+b") as fh:
        fh.truncate(40)
    again = run_playbook(
        [
            {"name": "check", IMAGE: {"name": repo}, "check_mode": True},
            {"name": "pull", IMAGE: {"name": repo}},
            {"name": "pull again", IMAGE: {"name": repo}},
        ],
        defaults=engine_defaults,
    )
    assert again["check"]["changed"] is True and again["pull"]["changed"] is True, again
    assert again["pull again"]["changed"] is False
    with open(config, "rb") as fh:
        assert len(fh.read()) > 40
