# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``image`` and ``image_info`` tasks: desired state in, result dict out.

Idempotency is decided on image IDs, never on names or timestamps.  Check
mode walks the same decisions as a real run, but predicts instead of
downloading or writing: a pull is predicted with ``remote_digest`` (manifest
and config only), so ``changed`` and the ``diff`` of a check run equal those
of the real run that follows.

The diff tracks "the image that *name* points at": its ``id`` (None when
absent) and its ``repo_tags`` (sorted).
"""
from __future__ import annotations

import os
import typing as t

from ..engine.errors import DamagedContent, EngineError, InvalidOption
from ..engine.options.compare import Diff
from ..engine.options.image import (
    build_settings,
    check_lookup_name,
    familiar_name,
    image_reference,
    is_image_id,
    normalise_filters,
    platform_matches,
    pull_settings,
)

if t.TYPE_CHECKING:
    from .runner import TaskContext


class _Outcome:
    """Collects what a task did or would do."""

    def __init__(self, before_id: str | None, before_tags: t.Sequence[str]) -> None:
        self.before_id = before_id
        self.before_tags = sorted(before_tags)
        self.actions: list[str] = []
        self.changed = False

    def result(self, after_id: str | None, after_tags: t.Sequence[str], image: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        diff = Diff()
        diff.add("id", self.before_id, after_id)
        diff.add("repo_tags", self.before_tags, list(after_tags), kind="set")
        return {
            "changed": self.changed,
            "actions": self.actions,
            "image": dict(image),
            "diff": diff.as_dict(),
        }


def _inspect(ctx: TaskContext, image_id: str | None) -> dict[str, t.Any]:
    return ctx.engine.images.inspect(image_id) if image_id else {}


# ---------------------------------------------------------------------- image
def image(ctx: TaskContext) -> dict[str, t.Any]:
    p = ctx.params
    ref = image_reference(p["name"], p.get("tag"))
    if p["state"] == "absent":
        return _absent(ctx, ref)
    _check_present_options(p, ref)
    source = p["source"]
    if source == "pull":
        result = _pull(ctx, ref)
    elif source == "load":
        result = _load(ctx, ref)
    elif source == "import":
        result = _import(ctx, ref)
    elif source == "build":
        result = _build(ctx, ref)
    else:
        result = _local(ctx, ref)
    if p.get("repository") or p.get("push"):
        _tag_and_push(ctx, ref, result)
    if p.get("archive_path"):
        _archive(ctx, ref, p["archive_path"], result)
    return result


def _check_present_options(p: t.Mapping[str, t.Any], ref: str) -> None:
    source = p["source"]
    if source == "build":
        build_settings(p.get("build"))
        if "@" in ref:
            raise InvalidOption("name", p["name"], "a digest cannot name an image made by source=build")
    elif p.get("build"):
        raise InvalidOption("build", p["build"], "only used with source=build")
    if is_image_id(ref):
        raise InvalidOption("name", p["name"], "an image ID can only be used with state=absent")
    if source in ("load", "import") and "@" in ref:
        raise InvalidOption("name", p["name"], f"a digest cannot name an image made by source={source}")
    if source in ("load", "import") and not p.get("load_path"):
        if p.get("archive_path"):  # a task written for Berth before issue 13
            raise InvalidOption("archive_path", p["archive_path"],
                                "is the file the image is saved to, as in community.docker.docker_image; "
                                f"give the archive to {source} as load_path")
        raise InvalidOption("load_path", None, f"required with source={source}")
    if p.get("load_path") and source not in ("load", "import"):
        raise InvalidOption("load_path", p["load_path"], "only used with source=load or source=import")
    pull_settings(p.get("pull"), p.get("platform"))
    if p.get("changes") and source != "import":
        raise InvalidOption("changes", p["changes"], "only used with source=import")
    if p.get("platform") and source == "load":
        raise InvalidOption("platform", p["platform"], "not used with source=load (the archive decides)")
    if p.get("repository"):
        target = image_reference(p["repository"], p.get("tag"))
        if "@" in target or is_image_id(target):
            raise InvalidOption("repository", p["repository"], "must be a repository[:tag], not a digest or an ID")
    elif p.get("push") and "@" in ref:
        raise InvalidOption("push", True, f"{p['name']} names a digest, which cannot be pushed: give a repository "
                                          "(repository[:tag]) to push the image as")


def _pull(ctx: TaskContext, ref: str) -> dict[str, t.Any]:
    p = ctx.params
    images = ctx.engine.images
    policy, platform = pull_settings(p.get("pull"), p.get("platform"))
    if p.get("force_source"):
        policy = "always"
    local_id = images.resolve(ref)
    try:
        local = _inspect(ctx, local_id)
        damaged = False
    except DamagedContent:  # present but damaged: pulled again, which repairs it (a change)
        local, damaged = {}, True
    out = _Outcome(local_id, local.get("RepoTags", []))
    fits = bool(local) and platform_matches(platform, local)

    # A digest names immutable content: once present there is nothing to ask the registry.
    if fits and (policy != "always" or "@" in ref):
        return out.result(local_id, local.get("RepoTags", []), local)
    if not fits and policy == "never":
        why = "is not present" if not local else f"is present but not for platform {platform}"
        raise InvalidOption("pull", policy, f"image {familiar_name(ref)} {why}, and pull=never forbids pulling it")

    if ctx.check_mode:
        _repo_digest, after_id = images.remote_digest(ref, platform)
        out.actions.append(f"Pulled image {ref}")
        out.changed = after_id != local_id or damaged
        after_tags = _tags_after(ctx, after_id, [] if "@" in ref else [familiar_name(ref)])
        return out.result(after_id, after_tags, local)

    pulled = images.pull(ref, platform)
    for warning in pulled.warnings:
        ctx.warn(warning)
    out.actions.append(f"Pulled image {pulled.reference}")
    out.changed = pulled.image_id != local_id or damaged
    after = images.inspect(pulled.image_id)
    return out.result(pulled.image_id, after["RepoTags"], after)


def _load(ctx: TaskContext, ref: str) -> dict[str, t.Any]:
    """Load the archive unless every image in it is already present with its tags."""
    p = ctx.params
    images = ctx.engine.images
    path = p["load_path"]
    local_id = images.resolve(ref)
    local = _inspect(ctx, local_id)
    out = _Outcome(local_id, local.get("RepoTags", []))
    name = familiar_name(ref)
    contents = images.archive_images(path)  # reads only manifests and configs
    wanted = [image_id for image_id, tags in contents if name in tags]
    if not wanted:
        holds = ", ".join(sorted(tg for _i, tags in contents for tg in tags)) or "only untagged images"
        raise InvalidOption("name", p["name"], f"archive {path} does not contain {name} (it holds {holds})")
    missing = [
        (image_id, tags)
        for image_id, tags in contents
        if images.resolve(image_id) != image_id or any(images.resolve(tg) != image_id for tg in tags)
    ]
    if not missing and not (p["force"] or p.get("force_source")):
        return out.result(local_id, local.get("RepoTags", []), local)
    if ctx.check_mode:
        out.actions.extend(f"Loaded image {tg}" for image_id, tags in missing for tg in (tags or [image_id]))
        out.changed = bool(missing)
        return out.result(wanted[0], _tags_after(ctx, wanted[0], [name]), local)

    loaded = images.load(path, on_event=lambda ev: ctx.warn(ev.message) if ev.kind == "warning" else None)
    found = [x for x in loaded if name in x.tags]
    out.actions.extend(f"Loaded image {tg}" for x in loaded if x.changed for tg in (x.tags or (x.image_id,)))
    out.changed = any(x.changed for x in loaded) or found[0].image_id != local_id
    after = images.inspect(found[0].image_id)
    return out.result(after["Id"], after["RepoTags"], after)


def _tags_after(ctx: TaskContext, image_id: str, new_tags: t.Sequence[str]) -> list[str]:
    """RepoTags of *image_id* once *new_tags* point at it (check-mode prediction)."""
    tags = set(new_tags)
    if ctx.engine.images.resolve(image_id):
        try:
            tags.update(ctx.engine.images.inspect(image_id)["RepoTags"])
        except DamagedContent:
            pass  # its tags stay where they are; the pull repairs the content
    return sorted(tags)


def _import(ctx: TaskContext, ref: str) -> dict[str, t.Any]:
    """Import the tarball when the image it gives (content, changes, platform) is not what *name* is."""
    p = ctx.params
    images = ctx.engine.images
    path = p["load_path"]
    local_id = images.resolve(ref)
    local = _inspect(ctx, local_id)
    out = _Outcome(local_id, local.get("RepoTags", []))
    changes = p.get("changes") or ()
    predicted = images.import_(path, reference=ref, changes=changes, platform=p.get("platform"), dry_run=True)
    if predicted == local_id and not (p["force"] or p.get("force_source")):
        return out.result(local_id, local.get("RepoTags", []), local)
    out.changed = predicted != local_id
    if out.changed:
        out.actions.append(f"Imported {path} as {familiar_name(ref)}")
    if ctx.check_mode:
        return out.result(predicted, _tags_after(ctx, predicted, [familiar_name(ref)]), local)
    new_id = images.import_(path, reference=ref, changes=changes, platform=p.get("platform"))
    after = images.inspect(new_id)
    return out.result(new_id, after["RepoTags"], after)


def _build(ctx: TaskContext, ref: str) -> dict[str, t.Any]:
    """Build unless the step cache already holds the image for these inputs (the Dockerfile, the context
    files COPY/ADD read, the build settings) and *name* points at it; check mode walks the cache only."""
    p = ctx.params
    images = ctx.engine.images
    b = build_settings(p.get("build"))
    local_id = images.resolve(ref)
    local = _inspect(ctx, local_id)
    out = _Outcome(local_id, local.get("RepoTags", []))
    path = b["path"]
    if "://" not in path and not path.startswith("git@") and "#" not in path:
        path = os.path.abspath(path)
    kwargs = {"dockerfile": b.get("dockerfile"), "build_args": b.get("args"), "target": b.get("target"),
              "no_cache": bool(b.get("no_cache") or p.get("force_source")), "pull": bool(b.get("pull")),
              "labels": b.get("labels"), "network": b.get("network")}
    predicted = ctx.engine.build(path, dry_run=True, **kwargs)["image_id"]
    if predicted and predicted == local_id and not (p["force"] or p.get("force_source")):
        return out.result(local_id, local.get("RepoTags", []), local)
    if ctx.check_mode:
        out.changed = predicted != local_id or not predicted
        out.actions.append(f"Built image {familiar_name(ref)} from {b['path']}")
        after_id = predicted or None
        return out.result(after_id, _tags_after(ctx, after_id, [familiar_name(ref)]) if after_id else
                          [familiar_name(ref)], local)
    built = ctx.engine.build(path, tags=[ref], **kwargs)
    for warning in built["warnings"]:
        ctx.warn(warning)
    out.changed = built["image_id"] != local_id
    out.actions.append(f"Built image {familiar_name(ref)} from {b['path']}")
    after = images.inspect(built["image_id"])
    return out.result(built["image_id"], after["RepoTags"], after)


def _local(ctx: TaskContext, ref: str) -> dict[str, t.Any]:
    """source=local (community.docker): the image must be present already; nothing is pulled or loaded."""
    local_id = ctx.engine.images.resolve(ref)
    if local_id is None:
        raise InvalidOption("name", ctx.params["name"],
                            f"image {familiar_name(ref)} is not present, and source=local neither pulls nor loads it")
    local = _inspect(ctx, local_id)
    return _Outcome(local_id, local.get("RepoTags", [])).result(local_id, local.get("RepoTags", []), local)


def _tag_and_push(ctx: TaskContext, ref: str, result: dict[str, t.Any]) -> None:
    """repository: tag the image as it (unless it already is); push: push the image as that name (or as
    *ref*) unless the registry's tag already points at the manifest Berth would push. Check mode asks the
    registry which manifest the tag has, and predicts both."""
    p = ctx.params
    images = ctx.engine.images
    after = result["diff"]["after"]
    image_id = after.get("id")
    target = image_reference(p["repository"], p.get("tag")) if p.get("repository") else ref
    if target != ref and images.resolve(target) != image_id:
        result["actions"].append(f"Tagged image {familiar_name(ref)} as {familiar_name(target)}")
        result["changed"] = True
        after["repo_tags"] = sorted(set(after.get("repo_tags") or []) | {familiar_name(target)})
        if not ctx.check_mode:
            images.tag(ref, target)
    if not p.get("push"):
        return
    if ctx.check_mode:
        # the image is not in the store yet (check mode predicted a pull): a push would follow
        known = bool(image_id) and images.resolve(image_id) == image_id
        changed = images.push(target, dry_run=True, image_id=image_id).changed if known else True
    else:
        res = images.push(target)
        changed = res.changed
        result["push"] = {"name": res.reference, "digest": res.digest, "blobs": [list(b) for b in res.blobs]}
    if changed:
        result["actions"].append(f"Pushed image {familiar_name(target)}")
        result["changed"] = True


def _archive(ctx: TaskContext, ref: str, path: str, result: dict[str, t.Any]) -> None:
    """archive_path (community.docker.docker_image): save the image to *path* unless the file already holds
    it under this name; adds to *result*'s actions and ``changed``."""
    images = ctx.engine.images
    image_id = (result["diff"]["after"] or {}).get("id") or result["image"].get("Id")
    name = familiar_name(ref)
    if os.path.exists(path):
        try:
            if (image_id, [name]) in images.archive_images(path):
                return
        except EngineError:
            pass  # not an archive, or another one: saved over
    result["actions"].append(f"Archived image {name} to {path}")
    result["changed"] = True
    if not ctx.check_mode:
        images.save([ref], path)


def _absent(ctx: TaskContext, ref: str) -> dict[str, t.Any]:
    images = ctx.engine.images
    local_id = images.resolve(ref)
    local = _inspect(ctx, local_id)
    out = _Outcome(local_id, local.get("RepoTags", []))
    if local_id is None:
        return out.result(None, [], {})
    out.changed = True
    if ctx.check_mode:
        out.actions.extend(_predict_removal(ref, local))
        return out.result(None, [], local)
    report = images.remove(ref, force=bool(ctx.params["force"] or ctx.params.get("force_absent")))
    out.actions.extend(f"{kind}: {value}" for entry in report for kind, value in entry.items())
    return out.result(None, [], {})


def _predict_removal(ref: str, local: t.Mapping[str, t.Any]) -> list[str]:
    """The Untagged/Deleted lines a real removal reports (layer deletions not predicted)."""
    tags = list(local.get("RepoTags") or [])
    if is_image_id(ref):
        lines = [f"Untagged: {x}" for x in tags + list(local.get("RepoDigests") or [])]
        return lines + [f"Deleted: {local['Id']}"]
    name = familiar_name(ref)
    others = [x for x in tags if x != name]
    if others:
        return [f"Untagged: {name}"]
    lines = [f"Untagged: {x}" for x in [name] + list(local.get("RepoDigests") or [])]
    return lines + [f"Deleted: {local['Id']}"]


# ----------------------------------------------------------- container_commit
def container_commit(ctx: TaskContext) -> dict[str, t.Any]:
    """``docker commit`` as a task: a change only when *name* is not already this commit (same layers,
    the container's changes having the same digest, same config, author and comment)."""
    p = ctx.params
    ref = image_reference(p["name"], p.get("tag"))
    if is_image_id(ref) or "@" in ref:
        raise InvalidOption("name", p["name"], "a commit is named repository[:tag], not by ID or digest")
    images = ctx.engine.images
    local_id = images.resolve(ref)
    local = _inspect(ctx, local_id)
    out = _Outcome(local_id, local.get("RepoTags", []))
    args = (p["container"], ref, p.get("author") or "", p.get("comment") or "", p.get("changes") or ())
    containers = ctx.engine.containers
    if p.get("force"):
        image_id = None if ctx.check_mode else containers.commit(*args)
        changed = True
    else:
        image_id, changed = containers.commit_if_changed(*args, dry_run=ctx.check_mode)
    out.changed = changed
    if not changed:
        return out.result(local_id, local.get("RepoTags", []), local)
    out.actions.append(f"Committed container {p['container']} as {familiar_name(ref)}")
    if image_id is None:  # check mode: a new image, whose ID is not known before it is made
        return out.result(None, [familiar_name(ref)], local)
    after = images.inspect(image_id)
    return out.result(image_id, after["RepoTags"], after)


# ----------------------------------------------------------- container_export
def container_export(ctx: TaskContext) -> dict[str, t.Any]:
    """``docker export -o PATH``: changed when the file did not hold this export already (or with force)."""
    p = ctx.params
    path = os.path.abspath(p["path"])
    containers = ctx.engine.containers
    if p.get("force"):
        if not ctx.check_mode:
            containers.export_file(p["container"], path)
        changed = True
    else:
        changed = containers.export_file_if_changed(p["container"], path, dry_run=ctx.check_mode)
    actions = [f"Exported container {p['container']} to {path}"] if changed else []
    return {"changed": changed, "path": path, "actions": actions}


# ----------------------------------------------------------------- image_info
def image_info(ctx: TaskContext) -> dict[str, t.Any]:
    p = ctx.params
    images = ctx.engine.images
    found: list[dict[str, t.Any]] = []
    seen: set[str] = set()
    if p.get("name"):
        ids = []
        for i, name in enumerate(p["name"]):
            check_lookup_name(name, field=f"name[{i}]")
            ids.append(images.resolve(name))
    else:
        rows = images.list(filters=normalise_filters(p.get("filters")), all=bool(p.get("all")))
        ids = [row["Id"] for row in rows]
    for image_id in ids:
        if image_id and image_id not in seen:
            seen.add(image_id)
            found.append(images.inspect(image_id))
    return {"changed": False, "images": found}
