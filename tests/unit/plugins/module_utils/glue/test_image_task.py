# SPDX-License-Identifier: GPL-3.0-or-later
"""The image tasks and the runner, against a fake ImageService (no network, no disk).

Every scenario runs twice, first in check mode then for real, from the same starting state:
the check run must predict the real run's ``changed`` and ``diff`` and must not touch the fake.
"""
from __future__ import annotations

import copy
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.api import LoadedImage, PullResult
from ansible_collections.berth.engine.plugins.module_utils.engine.core.events import Event
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import (
    EngineError,
    ImageNotFound,
    InvalidOption,
)
from ansible_collections.berth.engine.plugins.module_utils.engine.options.image import (
    IMAGE_INFO_OPTIONS,
    IMAGE_OPTIONS,
)
from ansible_collections.berth.engine.plugins.module_utils.glue import image_task, runner
from ansible_collections.berth.engine.plugins.module_utils.glue.runner import TaskContext

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
C = "sha256:" + "c" * 64
BB = "docker.io/library/busybox:latest"


class FakeImages:
    """Tags -> IDs, with just enough of the facade's behaviour for the tasks."""

    def __init__(self, tags: dict[str, str] | None = None, remote: dict[str, str] | None = None) -> None:
        self.tags = dict(tags or {})  # familiar tag -> id
        self.remote = dict(remote or {})  # full reference -> id
        self.calls: list[tuple[str, t.Any]] = []
        self.archive: list[tuple[str, tuple[str, ...]]] = []
        self.import_id = C
        self.pull_warnings: tuple[str, ...] = ()
        self.load_warnings: tuple[str, ...] = ()
        self.saved: dict[str, list[tuple[str, list[str]]]] = {}

    # queries ---------------------------------------------------------
    def _familiar(self, name: str) -> str:
        for prefix in ("docker.io/library/", "docker.io/"):
            if name.startswith(prefix):
                return name[len(prefix) :]
        return name

    def resolve(self, name: str) -> str | None:
        if name.startswith("sha256:"):
            return name if name in self.tags.values() else None
        return self.tags.get(self._familiar(name))

    def inspect(self, name: str) -> dict[str, t.Any]:
        image_id = self.resolve(name)
        if image_id is None:
            raise ImageNotFound(name)
        refs = sorted(k for k, v in self.tags.items() if v == image_id)
        return {
            "Id": image_id,
            "RepoTags": [r for r in refs if "@" not in r],
            "RepoDigests": [r for r in refs if "@" in r],
            "Os": "linux",
            "Architecture": "amd64",
        }

    def list(self, filters: t.Any = None, all: bool = False) -> list[dict[str, t.Any]]:
        self.calls.append(("list", (filters, all)))
        return [{"Id": i} for i in sorted(set(self.tags.values()))]

    # network ---------------------------------------------------------
    def remote_digest(self, name: str, platform: str | None = None) -> tuple[str, str]:
        self.calls.append(("remote_digest", name))
        if name not in self.remote:
            raise EngineError(f"registry docker.io: manifest unknown for {name}")
        return name.rsplit(":", 1)[0] + "@sha256:" + "d" * 64, self.remote[name]

    # writes ----------------------------------------------------------
    def pull(self, name: str, platform: str | None = None, on_event: t.Any = None) -> PullResult:
        self.calls.append(("pull", name))
        new = self.remote[name]
        old = self.tags.get(self._familiar(name))
        self.tags[self._familiar(name)] = new
        return PullResult(new, name, None, new != old, self.pull_warnings)

    def remove(self, name: str, force: bool = False) -> list[dict[str, str]]:
        self.calls.append(("remove", (name, force)))
        image_id = self.resolve(name)
        assert image_id
        if name == image_id:
            report = [{"Untagged": tg} for tg in sorted(k for k, v in self.tags.items() if v == image_id)]
            self.tags = {k: v for k, v in self.tags.items() if v != image_id}
            return report + [{"Deleted": image_id}]
        fam = self._familiar(name)
        report = [{"Untagged": fam}]
        del self.tags[fam]
        if image_id not in self.tags.values():
            report.append({"Deleted": image_id})
        return report

    def load(self, path: str, on_event: t.Any = None) -> list[LoadedImage]:
        self.calls.append(("load", path))
        for message in self.load_warnings:
            on_event(Event("warning", path, message=message))
        out = []
        for image_id, tags in self.archive:
            changed = any(self.tags.get(tg) != image_id for tg in tags)
            for tg in tags:
                self.tags[tg] = image_id
            out.append(LoadedImage(image_id, tags, changed))
        return out

    def archive_images(self, path: str) -> list[tuple[str, list[str]]]:
        if path in self.saved:
            return self.saved[path]
        return [(image_id, list(tags)) for image_id, tags in self.archive]

    def save(self, names: t.Sequence[str], path: str) -> None:
        self.calls.append(("save", (list(names), path)))
        self.saved[path] = [(self.resolve(n) or "", [self._familiar(n)]) for n in names]
        with open(path, "w") as fh:
            fh.write("archive")

    def import_(self, path: str, reference: str | None = None, changes: t.Any = (), message: str = "",
                platform: str | None = None, dry_run: bool = False) -> str:
        if dry_run:
            return self.import_id
        self.calls.append(("import", (path, reference, tuple(changes))))
        assert reference
        self.tags[self._familiar(reference)] = self.import_id
        return self.import_id


class FakeEngine:
    def __init__(self, images: FakeImages) -> None:
        self.images = images


def params(**kw: t.Any) -> dict[str, t.Any]:
    p = IMAGE_OPTIONS.defaults()
    p.update(kw)
    return p


def run(images: FakeImages, check: bool, **kw: t.Any) -> dict[str, t.Any]:
    ctx = TaskContext(engine=FakeEngine(images), params=params(**kw), check_mode=check, diff_mode=True)  # type: ignore[arg-type]
    return image_task.image(ctx)


def check_then_apply(images: FakeImages, **kw: t.Any) -> tuple[dict[str, t.Any], dict[str, t.Any]]:
    """Run in check mode on a copy, assert it wrote nothing, then for real."""
    before = copy.deepcopy(images.tags)
    predicted = run(images, True, **kw)
    assert images.tags == before, "check mode changed the store"
    assert not [c for c in images.calls if c[0] in ("pull", "remove", "load", "import", "save")]
    applied = run(images, False, **kw)
    return predicted, applied


# ------------------------------------------------------------------ pull
@pytest.mark.parametrize(
    "tags, remote, pull, changed, after_id, contacts_registry",
    [
        ({}, {BB: A}, "missing", True, A, True),
        ({"busybox:latest": A}, {BB: B}, "missing", False, A, False),
        ({"busybox:latest": A}, {BB: A}, "always", False, A, True),
        ({"busybox:latest": A}, {BB: B}, "always", True, B, True),
        ({"busybox:latest": A}, {}, "never", False, A, False),
        ({"other:1": A}, {BB: A}, "missing", True, A, True),
    ],
)
def test_pull_predicts_and_applies(
    tags: dict, remote: dict, pull: str, changed: bool, after_id: str, contacts_registry: bool
) -> None:
    images = FakeImages(tags, remote)
    predicted, applied = check_then_apply(images, name="busybox", pull=pull)
    assert predicted["changed"] is applied["changed"] is changed
    assert predicted["diff"] == applied["diff"]
    assert applied["diff"]["after"]["id"] == after_id
    assert applied["image"]["Id"] == after_id
    assert ("remote_digest", BB) in images.calls if contacts_registry else not images.calls
    if changed:
        assert predicted["actions"] == applied["actions"] == [f"Pulled image {BB}"]


def test_present_digest_is_never_asked_for_again() -> None:
    digest_ref = "busybox@sha256:" + "d" * 64
    images = FakeImages({"busybox@sha256:" + "d" * 64: A}, {})
    predicted, applied = check_then_apply(images, name=digest_ref, pull="always")
    assert predicted["changed"] is applied["changed"] is False
    assert images.calls == []


def test_absent_by_digest_only_counts_the_recorded_digest() -> None:
    digest = "sha256:" + "d" * 64
    images = FakeImages({"busybox:latest": A, f"busybox@{digest}": A})
    predicted, applied = check_then_apply(images, name=f"busybox@{digest}", state="absent")
    assert predicted["changed"] is applied["changed"] is True
    assert applied["actions"] == [f"Untagged: busybox@{digest}"]
    assert predicted["diff"] == applied["diff"] == {
        "before": {"id": A, "repo_tags": ["busybox:latest"]},
        "after": {"id": None, "repo_tags": []},
    }
    again = run(images, False, name=f"busybox@{digest}", state="absent")
    assert again["changed"] is False
    assert images.tags == {"busybox:latest": A}


def test_pull_passes_the_engine_warnings_on() -> None:
    images = FakeImages(remote={BB: A})
    images.pull_warnings = ("The requested image's platform (linux/arm64/v8) does not match the detected host",)
    engine: t.Any = FakeEngine(images)
    ctx = TaskContext(engine=engine, params=params(name="busybox"), check_mode=False, diff_mode=False)
    assert image_task.image(ctx)["changed"]
    assert ctx.warnings == list(images.pull_warnings)


def test_pull_diff_shows_tags_of_the_image_the_name_points_at() -> None:
    images = FakeImages({"busybox:latest": A, "mirror:1": B}, {BB: B})
    predicted, applied = check_then_apply(images, name="busybox", pull="always")
    assert applied["diff"] == {
        "before": {"id": A, "repo_tags": ["busybox:latest"]},
        "after": {"id": B, "repo_tags": ["busybox:latest", "mirror:1"]},
    }
    assert predicted["diff"] == applied["diff"]


def test_pull_never_fails_naming_the_image() -> None:
    images = FakeImages({}, {BB: A})
    for check in (True, False):
        with pytest.raises(InvalidOption) as info:
            run(images, check, name="busybox", tag="1.36", pull="never")
        assert info.value.field == "pull"
        assert "busybox:1.36" in str(info.value)
    assert not images.calls


def test_check_mode_propagates_registry_errors() -> None:
    with pytest.raises(EngineError, match="manifest unknown"):
        run(FakeImages({}, {}), True, name="busybox")


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"name": "busybox", "load_path": "/x.tar"}, "load_path"),
        ({"name": "busybox", "source": "load", "archive_path": "/x.tar"}, "archive_path"),  # Berth's old meaning
        ({"name": "busybox", "source": "import", "archive_path": "/x.tar"}, "archive_path"),
        ({"name": "busybox", "source": "load"}, "load_path"),
        ({"name": "busybox", "source": "build"}, "build"),
        ({"name": "busybox", "source": "build", "build": {"path": "/x", "cache": True}}, "build.cache"),
        ({"name": "busybox", "source": "build", "build": {"path": "/x", "args": "A=1"}}, "build.args"),
        ({"name": "busybox", "build": {"path": "/x"}}, "build"),
        ({"name": "busybox", "pull": "sometimes"}, "pull"),
        ({"name": "busybox", "pull": {"platform": "linux/arm64"}, "platform": "linux/amd64"}, "pull.platform"),
        ({"name": "busybox", "pull": {"cache": True}}, "pull.cache"),
        ({"name": "busybox", "source": "load", "load_path": "/x", "changes": ["CMD sh"]}, "changes"),
        ({"name": "busybox", "source": "load", "load_path": "/x", "platform": "linux/amd64"}, "platform"),
        ({"name": A}, "name"),
        ({"name": "busybox@sha256:" + "e" * 64, "source": "import", "load_path": "/x"}, "name"),
        ({"name": "Busy"}, "name"),
        ({"name": "busybox", "tag": "no way"}, "tag"),
    ],
)
def test_bad_combinations_name_the_field(kw: dict, field: str) -> None:
    images = FakeImages({}, {BB: A})
    with pytest.raises(InvalidOption) as info:
        run(images, False, **kw)
    assert info.value.field == field
    assert not images.calls


# ------------------------------------------------------------------ community.docker.docker_image options
def test_force_source_pulls_a_present_image_again() -> None:
    images = FakeImages({"busybox:latest": A}, {BB: B})
    predicted, applied = check_then_apply(images, name="busybox", force_source=True)
    assert predicted["changed"] is applied["changed"] is True
    assert applied["image"]["Id"] == B


def test_pull_as_a_dict_of_settings_pulls_when_missing_for_its_platform() -> None:
    images = FakeImages({}, {BB: A})
    predicted, applied = check_then_apply(images, name="busybox", pull={"platform": "linux/amd64"})
    assert predicted["changed"] is applied["changed"] is True
    assert run(images, False, name="busybox", pull={"platform": "linux/amd64"})["changed"] is False


def test_source_local_needs_the_image_and_touches_nothing() -> None:
    images = FakeImages({"busybox:latest": A})
    assert run(images, False, name="busybox", source="local")["changed"] is False
    assert not images.calls
    with pytest.raises(InvalidOption) as info:
        run(FakeImages(), False, name="busybox", source="local")
    assert info.value.field == "name" and "source=local" in info.value.reason


def test_force_source_loads_again() -> None:
    images = FakeImages()
    images.archive = [(A, ("app:1",))]
    run(images, False, name="app:1", source="load", load_path="/a.tar")
    run(images, False, name="app:1", source="load", load_path="/a.tar", force_source=True)
    assert images.calls.count(("load", "/a.tar")) == 2


def test_force_absent_removes_with_force() -> None:
    images = FakeImages({"busybox:latest": A})
    run(images, False, name="busybox", state="absent", force_absent=True)
    assert ("remove", (BB, True)) in images.calls


def test_archive_path_saves_the_image_once(tmp_path: t.Any) -> None:
    """archive_path is where the image is saved to (community.docker.docker_image), not an input."""
    images = FakeImages({"busybox:latest": A})
    path = str(tmp_path / "busybox.tar")
    predicted, applied = check_then_apply(images, name="busybox", archive_path=path)
    assert predicted["changed"] is applied["changed"] is True
    assert predicted["actions"] == applied["actions"] == [f"Archived image busybox:latest to {path}"]
    assert images.calls == [("save", ([BB], path))]
    assert run(images, False, name="busybox", archive_path=path)["changed"] is False
    images.tags["busybox:latest"] = B  # another image under the name: saved again
    assert run(images, False, name="busybox", archive_path=path)["changed"] is True


# ------------------------------------------------------------------ absent
@pytest.mark.parametrize(
    "tags, name, force, changed, actions",
    [
        ({}, "busybox", False, False, []),
        ({"busybox:latest": A}, "busybox", False, True, ["Untagged: busybox:latest", f"Deleted: {A}"]),
        ({"busybox:latest": A, "x:1": A}, "busybox", False, True, ["Untagged: busybox:latest"]),
        ({"busybox:latest": A, "x:1": A}, A, True, True, ["Untagged: busybox:latest", "Untagged: x:1", f"Deleted: {A}"]),
        ({"busybox:latest": B}, A, False, False, []),
    ],
)
def test_absent(tags: dict, name: str, force: bool, changed: bool, actions: list) -> None:
    images = FakeImages(tags)
    predicted, applied = check_then_apply(images, name=name, state="absent", force=force)
    assert predicted["changed"] is applied["changed"] is changed
    assert predicted["diff"] == applied["diff"]
    assert applied["diff"]["after"] == {"id": None, "repo_tags": []}
    assert applied["actions"] == actions
    assert predicted["actions"] == actions
    assert applied["image"] == {}
    # check mode returns the image as it is now
    assert predicted["image"].get("Id") == (applied["diff"]["before"]["id"] if changed else None)


# ------------------------------------------------------------------ load / import
def test_load_when_missing_then_not_again() -> None:
    images = FakeImages()
    images.archive = [(A, ("app:1", "app:latest"))]
    predicted, applied = check_then_apply(images, name="app:1", source="load", load_path="/a.tar")
    assert predicted["changed"] is applied["changed"] is True
    assert applied["image"]["Id"] == A
    assert applied["actions"] == ["Loaded image app:1", "Loaded image app:latest"]
    again = run(images, False, name="app:1", source="load", load_path="/a.tar")
    assert again["changed"] is False
    assert images.calls.count(("load", "/a.tar")) == 1


def test_load_passes_the_engine_warnings_on() -> None:
    images = FakeImages()
    images.archive = [(A, ("app:1",))]
    images.load_warnings = ("skipped other:2: index sha256:...: no manifest for platform linux/amd64",)
    engine: t.Any = FakeEngine(images)
    p = params(name="app:1", source="load", load_path="/a.tar")
    ctx = TaskContext(engine=engine, params=p, check_mode=False, diff_mode=False)
    assert image_task.image(ctx)["changed"]
    assert ctx.warnings == list(images.load_warnings)


def test_forced_load_of_same_content_is_not_a_change() -> None:
    images = FakeImages({"app:1": A})
    images.archive = [(A, ("app:1",))]
    predicted, applied = check_then_apply(images, name="app:1", source="load", load_path="/a.tar", force=True)
    assert predicted["changed"] is applied["changed"] is False
    assert predicted["diff"] == applied["diff"]
    assert ("load", "/a.tar") in images.calls


def test_load_when_a_tag_moved_in_the_archive() -> None:
    images = FakeImages({"app:1": A})
    images.archive = [(B, ("app:1",))]
    predicted, applied = check_then_apply(images, name="app:1", source="load", load_path="/a.tar")
    assert predicted["changed"] is applied["changed"] is True
    assert predicted["diff"] == applied["diff"]
    assert applied["diff"]["after"]["id"] == B


def test_load_fails_when_archive_lacks_the_name() -> None:
    images = FakeImages()
    images.archive = [(A, ("other:1",))]
    with pytest.raises(InvalidOption) as info:
        run(images, False, name="app:1", source="load", load_path="/a.tar")
    assert info.value.field == "name"
    assert "other:1" in str(info.value) and "/a.tar" in str(info.value)


def test_import_when_missing_then_not_again_and_force() -> None:
    images = FakeImages()
    predicted, applied = check_then_apply(
        images, name="rootfs/busybox", source="import", load_path="/r.tar", changes=["CMD [\"sh\"]"]
    )
    assert predicted["changed"] is applied["changed"] is True
    assert applied["image"]["Id"] == C
    assert ("import", ("/r.tar", "docker.io/rootfs/busybox:latest", ('CMD ["sh"]',))) in images.calls
    assert predicted["diff"] == applied["diff"]
    assert run(images, False, name="rootfs/busybox", source="import", load_path="/r.tar")["changed"] is False
    # forced re-import with an identical result: not a change
    forced = run(images, False, name="rootfs/busybox", source="import", load_path="/r.tar", force=True)
    assert forced["changed"] is False
    # the tarball or the changes differ: the image the name points at is replaced, predicted exactly
    images.import_id = B
    images.calls.clear()
    predicted, applied = check_then_apply(images, name="rootfs/busybox", source="import", load_path="/r.tar")
    assert predicted["changed"] is applied["changed"] is True
    assert predicted["diff"] == applied["diff"]
    assert applied["diff"]["after"]["id"] == B


# ------------------------------------------------------------------ image_info
def test_image_info_by_name_skips_missing_and_dedupes() -> None:
    images = FakeImages({"busybox:latest": A, "x:1": A, "y:1": B})
    p = dict(IMAGE_INFO_OPTIONS.defaults(), name=["busybox", "x:1", "nope", B])
    res = image_task.image_info(TaskContext(engine=FakeEngine(images), params=p))  # type: ignore[arg-type]
    assert res["changed"] is False
    assert [i["Id"] for i in res["images"]] == [A, B]


def test_image_info_lists_with_filters() -> None:
    images = FakeImages({"busybox:latest": A, "y:1": B})
    p = dict(IMAGE_INFO_OPTIONS.defaults(), filters={"dangling": False})
    res = image_task.image_info(TaskContext(engine=FakeEngine(images), params=p))  # type: ignore[arg-type]
    assert [i["Id"] for i in res["images"]] == [A, B]
    assert images.calls == [("list", ({"dangling": ["false"]}, False))]


def test_image_info_rejects_bad_name() -> None:
    p = dict(IMAGE_INFO_OPTIONS.defaults(), name=["ok", "Not Ok"])
    with pytest.raises(InvalidOption) as info:
        image_task.image_info(TaskContext(engine=FakeEngine(FakeImages()), params=p))  # type: ignore[arg-type]
    assert info.value.field == "name[1]"


# ------------------------------------------------------------------ runner
class Exit(Exception):
    pass


class FakeModule:
    """Records what AnsibleModule would have been given and how the run ended."""

    last: "FakeModule"

    def __init__(self, **kwargs: t.Any) -> None:
        FakeModule.last = self
        self.kwargs = kwargs
        self.params = dict(FakeModule.next_params)
        self.check_mode = False
        self._diff = FakeModule.next_diff
        self.warnings: list[str] = []
        self.exit: dict[str, t.Any] | None = None
        self.fail: dict[str, t.Any] | None = None

    next_params: dict[str, t.Any] = {}
    next_diff = False

    def exit_json(self, **kw: t.Any) -> None:
        self.exit = kw
        raise Exit()

    def fail_json(self, **kw: t.Any) -> None:
        self.fail = kw
        raise Exit()

    def warn(self, msg: str) -> None:
        self.warnings.append(msg)


def _run_task(tmp_path: t.Any, task: t.Any, diff: bool = False, **kw: t.Any) -> FakeModule:
    FakeModule.next_params = dict(IMAGE_OPTIONS.defaults(), name="busybox", data_root=str(tmp_path / "root"),
                                  config_path=str(tmp_path / "daemon.json"), **kw)
    FakeModule.next_diff = diff
    with pytest.raises(Exit):
        runner.run_task(FakeModule, IMAGE_OPTIONS, task)
    return FakeModule.last


def test_runner_builds_module_from_table(tmp_path: t.Any) -> None:
    mod = _run_task(tmp_path, image_task.image, state="absent")
    assert mod.kwargs["supports_check_mode"] is True
    assert set(mod.kwargs["argument_spec"]) == set(IMAGE_OPTIONS.names())
    assert "required_if" not in mod.kwargs  # load_path is checked by the task: an old archive_path gets its own message
    assert mod.exit == {"changed": False, "actions": [], "image": {}}  # no diff unless asked
    assert not (tmp_path / "root").exists(), "a no-op on a fresh host must not create the data root"


def test_runner_returns_diff_in_diff_mode(tmp_path: t.Any) -> None:
    mod = _run_task(tmp_path, image_task.image, diff=True, state="absent")
    assert mod.exit and mod.exit["diff"] == {"before": {"id": None, "repo_tags": []}, "after": {"id": None, "repo_tags": []}}


def test_runner_turns_engine_errors_into_plain_failures(tmp_path: t.Any) -> None:
    def task(ctx: TaskContext) -> dict[str, t.Any]:
        raise InvalidOption("tag", "x y", "no spaces")

    mod = _run_task(tmp_path, task)
    assert mod.fail == {"msg": "invalid value 'x y' for tag: no spaces"}


def test_runner_reports_bugs_with_traceback(tmp_path: t.Any) -> None:
    def task(ctx: TaskContext) -> dict[str, t.Any]:
        ctx.warn("careful")
        raise KeyError("boom")

    mod = _run_task(tmp_path, task)
    assert mod.fail is not None
    assert "KeyError" in mod.fail["msg"] and "boom" in mod.fail["msg"]
    assert "Traceback" in mod.fail["exception"]


def test_runner_passes_warnings(tmp_path: t.Any) -> None:
    def task(ctx: TaskContext) -> dict[str, t.Any]:
        ctx.warn("careful")
        return {"changed": False}

    mod = _run_task(tmp_path, task)
    assert mod.warnings == ["careful"]
    assert mod.exit == {"changed": False}


def test_runner_rejects_relative_data_root(tmp_path: t.Any) -> None:
    mod = _run_task(tmp_path, image_task.image, state="absent")
    FakeModule.next_params["data_root"] = "relative/root"
    with pytest.raises(Exit):
        runner.run_task(FakeModule, IMAGE_OPTIONS, image_task.image)
    mod = FakeModule.last
    assert mod.fail and "data_root" in mod.fail["msg"] and "exception" not in mod.fail
