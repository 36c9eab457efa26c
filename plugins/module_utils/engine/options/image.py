# SPDX-License-Identifier: GPL-3.0-or-later
"""Options of the ``image`` and ``image_info`` tasks.

The module DOCUMENTATION mirrors these tables exactly (a unit test compares
names, types, elements, choices, defaults and aliases).
"""
from __future__ import annotations

import typing as t

from ..errors import InvalidOption, InvalidReference
from ..core.reference import ImageReference, is_full_id, looks_like_id, normalize_arch, parse_platform
from .common import ENGINE_OPTIONS
from .model import Option, OptionTable

STATES = ("present", "absent")
SOURCES = ("pull", "load", "import", "local", "build")
PULL_POLICIES = ("always", "missing", "never")
#: community.docker's ``pull`` is a dict of pull settings; these are its keys Berth honours.
PULL_KEYS = ("platform",)
DEFAULT_TAG = "latest"

IMAGE_OPTIONS = OptionTable(
    options=(
        Option(
            "name",
            required=True,
            doc="Image reference, optionally with a tag or @digest; for state=absent also a full image ID.",
        ),
        Option(
            "tag",
            default=DEFAULT_TAG,
            doc="Tag used when name has neither a tag nor a digest.",
        ),
        Option("state", default="present", choices=STATES, doc="Whether the image should be present."),
        Option("source", default="pull", choices=SOURCES, doc="Where a missing image comes from."),
        Option(
            "pull",
            kind="raw",
            default="missing",
            doc="When to contact the registry for source=pull, or community.docker's dict {platform: ...}.",
        ),
        Option(
            "force",
            kind="bool",
            default=False,
            doc="absent: remove even if referenced; load/import: load again even if present.",
        ),
        Option("force_source", kind="bool", default=False,
               doc="present: pull, load or import again even when the image is present (community.docker)."),
        Option("force_absent", kind="bool", default=False,
               doc="absent: remove even if referenced, like force (community.docker)."),
        Option("force_tag", kind="bool", default=False,
               doc="Accepted for community.docker: Berth always moves a tag to the image it pulls or loads."),
        Option("load_path", kind="path", doc="Archive to load (source=load) or tarball to import (source=import)."),
        Option("archive_path", kind="path", doc="File the image is saved to (docker save), as in docker_image."),
        Option(
            "changes",
            kind="list",
            elements="str",
            doc="Dockerfile instructions applied on import (CMD, ENTRYPOINT, ENV, ...).",
            comparison_type="list",
        ),
        Option("platform", doc="Platform to pull, os[/arch[/variant]], e.g. linux/arm64."),
        Option("repository", doc="present: tag the image as this repository[:tag] (tag defaults to tag)."),
        Option("push", kind="bool", default=False,
               doc="present: push the image (as repository when given) to its registry."),
        Option("build", kind="dict", doc="source=build: path, dockerfile, args, target, no_cache, pull, labels, "
                                         "network."),
    )
    + ENGINE_OPTIONS,
)

#: The keys of the image task's ``build`` dict -> (type, what it is).
BUILD_KEYS: dict[str, tuple[type, str]] = {
    "path": (str, "the build context: a directory, a tarball or a git URL"),
    "dockerfile": (str, "the Dockerfile's path in the context"),
    "args": (dict, "build arguments"),
    "target": (str, "the stage to build"),
    "no_cache": (bool, "build without the step cache"),
    "pull": (bool, "pull the base images again"),
    "labels": (dict, "labels added to the image"),
    "network": (str, "network mode of RUN steps"),
}


def build_settings(value: t.Any) -> dict[str, t.Any]:
    """The image task's ``build`` dict, checked: known keys of the right types, ``path`` given; ``args``
    and ``labels`` values as strings. Raises InvalidOption naming ``build.<key>``."""
    if not isinstance(value, dict):
        raise InvalidOption("build", value, "required with source=build: a dict with at least path")
    out: dict[str, t.Any] = {}
    for key, item in value.items():
        if key not in BUILD_KEYS:
            raise InvalidOption(f"build.{key}", item, f"unknown build setting (known: {', '.join(BUILD_KEYS)})")
        if item is None:
            continue
        kind, what = BUILD_KEYS[key]
        if kind is bool and isinstance(item, str) and item.lower() in ("yes", "no", "true", "false"):
            item = item.lower() in ("yes", "true")
        if not isinstance(item, kind):
            raise InvalidOption(f"build.{key}", item, f"must be a {kind.__name__}: {what}")
        if kind is dict:
            item = {str(k): "" if v is None else str(v) for k, v in item.items()}
        out[key] = item
    if not out.get("path"):
        raise InvalidOption("build.path", out.get("path"), "required: the build context (a directory, a tarball "
                            "or a git URL)")
    return out


CONTAINER_COMMIT_OPTIONS = OptionTable(
    options=(
        Option("container", required=True, doc="Name or ID of the container to commit."),
        Option("name", required=True, doc="Repository (and tag) of the new image."),
        Option("tag", default=DEFAULT_TAG, doc="Tag used when name has none."),
        Option("author", default="", doc="Author of the image."),
        Option("comment", default="", doc="Commit message (docker commit --message)."),
        Option("changes", kind="list", elements="str", comparison_type="list",
               doc="Dockerfile instructions applied to the image config (CMD, ENV, ...)."),
        Option("force", kind="bool", default=False, doc="Commit even when name already is this commit."),
    )
    + ENGINE_OPTIONS,
)

CONTAINER_EXPORT_OPTIONS = OptionTable(
    options=(
        Option("container", required=True, doc="Name or ID of the container to export."),
        Option("path", kind="path", required=True, doc="File the container's file system is written to (a tar)."),
        Option("force", kind="bool", default=False, doc="Write the file even when it already holds this export."),
    )
    + ENGINE_OPTIONS,
)

IMAGE_INFO_OPTIONS = OptionTable(
    options=(
        Option("name", kind="list", elements="str", doc="Images to inspect: references or IDs."),
        Option(
            "filters",
            kind="dict",
            doc="Filters for listing: dangling, reference, before, since, label.",
        ),
        Option("all", kind="bool", default=False, doc="Include intermediate images when listing."),
    )
    + ENGINE_OPTIONS,
    mutually_exclusive=(("name", "filters"),),
)


def pull_settings(value: t.Any, platform: str | None) -> tuple[str, str | None]:
    """The pull policy and platform of the ``image`` task's ``pull``: a policy (always, missing, never), or
    community.docker's dict of pull settings (``{platform: linux/arm64}``; policy missing). A platform in
    the dict and a different one in ``platform`` is an error naming both."""
    if value is None:
        return "missing", platform
    if isinstance(value, str):
        if value not in PULL_POLICIES:
            raise InvalidOption("pull", value, f"must be one of {', '.join(PULL_POLICIES)}, or a dict of pull settings"
                                f" ({', '.join(PULL_KEYS)}) as in community.docker.docker_image")
        return value, platform
    if not isinstance(value, dict):
        raise InvalidOption("pull", value, f"must be one of {', '.join(PULL_POLICIES)} or a dict")
    unknown = sorted(set(value) - set(PULL_KEYS))
    if unknown:
        raise InvalidOption(f"pull.{unknown[0]}", value[unknown[0]],
                            f"unknown pull setting (known: {', '.join(PULL_KEYS)})")
    wanted = value.get("platform")
    if wanted and platform and wanted != platform:
        raise InvalidOption("pull.platform", wanted, f"differs from platform={platform}; set only one of them")
    return "missing", wanted or platform


def image_reference(name: str, tag: str | None = DEFAULT_TAG) -> str:
    """The validated, canonical reference the image task works on.

    ``busybox`` + tag ``1.36`` -> ``docker.io/library/busybox:1.36``; a name that
    already carries a tag or digest keeps it (*tag* is then ignored, as in
    community.docker); a full image ID (``sha256:<64 hex>``) is returned as is.
    Raises InvalidReference/InvalidOption naming ``name`` or ``tag``.
    """
    if is_image_id(name):
        return name
    ref = ImageReference.parse(name, field="name", default_tag=False)
    if ref.tag is None and ref.digest is None:
        tag = tag or DEFAULT_TAG
        try:
            ref = ImageReference.parse(f"{ref.repository}:{tag}", field="tag")
        except InvalidReference as exc:
            raise InvalidOption("tag", tag, exc.reason) from None
    return str(ref)


def familiar_name(reference: str) -> str:
    """``docker.io/library/busybox:latest`` -> ``busybox:latest`` (IDs unchanged)."""
    if is_image_id(reference):
        return reference
    return ImageReference.parse(reference, default_tag=False).familiar


def is_image_id(name: str) -> bool:
    """``sha256:<64 hex>``: the only ID form the image task accepts as a name."""
    return is_full_id(name)


def platform_matches(platform: str | None, image: t.Mapping[str, t.Any]) -> bool:
    """Does an inspected image fit the requested ``os[/arch[/variant]]``? (None = any)."""
    if not platform:
        return True
    want = parse_platform(platform)
    have = {
        "os": (image.get("Os") or "").lower(),
        "architecture": normalize_arch((image.get("Architecture") or "").lower())[0],
        "variant": (image.get("Variant") or "").lower(),
    }
    return all(have.get(k) == v for k, v in want.items())


def normalise_filters(filters: t.Mapping[str, t.Any] | None) -> dict[str, list[str]] | None:
    """Ansible-friendly filters (scalars, bools) -> the engine's ``{key: [str, ...]}``."""
    if not filters:
        return None
    out: dict[str, list[str]] = {}
    for key, value in filters.items():
        if isinstance(value, dict):
            # label: {com.example.tier: web} -> ["com.example.tier=web"]
            values = [f"{k}={v}" for k, v in value.items()]
        elif isinstance(value, (list, tuple)):
            values = [_filter_value(v) for v in value]
        else:
            values = [_filter_value(value)]
        out[str(key)] = values
    return out


def _filter_value(value: t.Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_lookup_name(name: str, field: str = "name") -> str:
    """Accept an image ID (full or hex prefix) or a valid reference; raise naming *field* otherwise."""
    if not looks_like_id(name):
        ImageReference.parse(name, field=field)
    return name
