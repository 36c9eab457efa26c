# SPDX-License-Identifier: GPL-3.0-or-later
"""Image use cases: pull, inspect, list, tag, remove, prune, load, save, import.

The only place that combines the store with the registry client (logins and pulls: ``image_registry.py``,
a mixin of :class:`ImageService`).
"""
from __future__ import annotations

import dataclasses
import os
import typing as t

from ..config.daemon import DaemonConfig
from ..core import events
from ..core.digest import Digest
from ..core.timefmt import format_rfc3339, parse_rfc3339
from ..errors import Conflict, ImageNotFound, InvalidOption, InvalidReference
from . import filters as filters_
from ..store.images import ImageRecord, ImageStore, Repositories
from ..core.reference import (
    ImageReference,
    familiar,
    host_platform,
    looks_like_id,
    parse_platform,
    reference_matches,
)
from .image_registry import PullResult, PushResult, RegistryOps

if t.TYPE_CHECKING:
    from ..registry.client import RegistryClient

__all__ = ["IMAGE_FILTERS", "ImageService", "LoadedImage", "PullResult", "PushResult"]  # api.py serves these

ImageUsers = t.Callable[[str], t.List[str]]


@dataclasses.dataclass(frozen=True)
class LoadedImage:
    image_id: str
    tags: tuple[str, ...]
    changed: bool


def _no_users(_image_id: str) -> list[str]:
    return []


IMAGE_FILTERS = ("dangling", "reference", "before", "since", "label", "until")


class ImageService(RegistryOps):
    def __init__(
        self,
        store: ImageStore,
        config: DaemonConfig,
        image_users: ImageUsers = _no_users,
        registry_factory: t.Callable[[], "RegistryClient"] | None = None,
        remapped_in_use: t.Callable[[], t.Set[t.Tuple[str, str]]] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self._image_users = image_users
        #: (mapping key, diff ID) of the remapped layer copies some container uses (None: keep them all)
        self._remapped_in_use = remapped_in_use
        self._registry_factory = registry_factory
        self._registry: RegistryClient | None = None

    # ------------------------------------------------------------------ queries
    def resolve(self, name: str) -> str | None:
        """Image ID for *name*, or None; a malformed name raises InvalidReference even on an empty host."""
        if not self.store.exists:
            if not looks_like_id(name):
                ImageReference.parse(name)
            return None
        return self.store.lookup(name)

    def inspect(self, name: str) -> dict[str, t.Any]:
        if not self.store.exists:
            raise ImageNotFound(name)
        image_id = self.store.require(name)
        return self._inspect(image_id, self.store.repositories())

    def _inspect(self, image_id: str, repos: Repositories) -> dict[str, t.Any]:
        rec, cfg = self._record_and_config(image_id)
        container_config = dict(cfg.get("config") or {})
        last_tag = self.store.last_tag_time(image_id)
        return {
            "Id": image_id,
            "RepoTags": [familiar(x) for x in repos.tags_of(image_id)],
            "RepoDigests": [familiar(x) for x in repos.digests_of(image_id)],
            "Parent": rec.parent,
            "Comment": cfg.get("comment", "") or _last_comment(cfg),
            "Created": cfg.get("created", ""),
            "DockerVersion": cfg.get("docker_version", ""),
            "Author": cfg.get("author", ""),
            "Config": container_config,
            "Architecture": cfg.get("architecture", ""),
            "Variant": cfg.get("variant", ""),
            "Os": cfg.get("os", ""),
            "Size": self.store.image_size(rec),
            "GraphDriver": {
                "Name": "overlay",
                "Data": {"LowerDir": ":".join(self.store.layers.diff_dir(x.diff_id) for x in reversed(rec.layers))},
            },
            "RootFS": {"Type": "layers", "Layers": [x.diff_id for x in rec.layers]},
            "History": list(cfg.get("history") or []),
            "Descriptor": {"mediaType": rec.manifest_media_type, "digest": rec.manifest_digest}
            if rec.manifest_digest
            else None,
            "Metadata": {"LastTagTime": format_rfc3339(last_tag) if last_tag else "0001-01-01T00:00:00Z"},
        }

    def list(self, filters: t.Mapping[str, t.Any] | None = None, all: bool = False) -> list[dict[str, t.Any]]:
        if not self.store.exists:
            return []
        flt = filters_.normalise(filters, IMAGE_FILTERS)
        repos = self.store.repositories()
        before = self._filter_time(flt.get("before"), "before")
        since = self._filter_time(flt.get("since"), "since")
        until = filters_.until(flt.get("until"))
        out = []
        records = self.store.records()
        parents = {rec.parent for rec in records if rec.parent}
        for rec in records:
            cfg, damage = self._config_or_damage(rec.id)
            tags = repos.tags_of(rec.id)
            if not all and not tags and rec.id in parents and not repos.digests_of(rec.id):
                continue  # an intermediate image (a build step's): shown with all, as docker images -a does
            created = parse_rfc3339(cfg.get("created")) or 0.0
            if "dangling" in flt:
                want = filters_.boolean(flt["dangling"], "dangling")
                if want != (not tags):
                    continue
            digests = repos.digests_of(rec.id)
            if "reference" in flt:
                # Like docker: only the matching references are shown for the image.
                tags = [x for x in tags if _ref_matches(flt["reference"], x)]
                digests = [x for x in digests if _ref_matches(flt["reference"], x)]
                if not tags and not digests:
                    continue
            if before is not None and not created < before:
                continue
            if since is not None and not created > since:
                continue
            if until is not None and not created < until:
                continue
            if "label" in flt and not filters_.labels_match(flt["label"], (cfg.get("config") or {}).get("Labels") or {}):
                continue
            item = {
                "Id": rec.id,
                "ParentId": rec.parent,
                "RepoTags": [familiar(x) for x in tags],
                "RepoDigests": [familiar(x) for x in digests],
                "Created": int(created),
                "Size": self.store.image_size(rec),
                "SharedSize": -1,
                "Labels": (cfg.get("config") or {}).get("Labels") or {},
                "Containers": len(self._image_users(rec.id)),
            }
            if damage is not None:
                item["Damaged"] = damage  # what is wrong, with the digest (not in Docker's shape)
            out.append(item)
        out.sort(key=lambda x: (-x["Created"], x["Id"]))
        return out

    def _filter_time(self, values: list[str] | None, field: str) -> float | None:
        if not values:
            return None
        image_id = self.store.lookup(values[0])
        if image_id is None:
            raise InvalidOption(f"filters.{field}", values[0], "no such image")
        return parse_rfc3339(self.store.verified_config(image_id).get("created")) or 0.0

    def history(self, name: str) -> list[dict[str, t.Any]]:
        image_id = self.store.require(name)
        rec, cfg = self._record_and_config(image_id)
        repos = self.store.repositories()
        entries = list(cfg.get("history") or [])
        sizes = [self.store.layers.size(x.diff_id) for x in rec.layers]
        rows = []
        layer_i = 0
        for h in entries:
            size = 0
            if not h.get("empty_layer"):
                size = sizes[layer_i] if layer_i < len(sizes) else 0
                layer_i += 1
            rows.append(
                {
                    "Id": "<missing>",
                    "Created": int(parse_rfc3339(h.get("created")) or 0),
                    "CreatedBy": h.get("created_by", ""),
                    "Tags": None,
                    "Size": size,
                    "Comment": h.get("comment", ""),
                }
            )
        if not rows:
            rows = [{"Id": "<missing>", "Created": 0, "CreatedBy": "", "Tags": None, "Size": s, "Comment": ""} for s in sizes]
        rows.reverse()
        rows[0]["Id"] = image_id
        rows[0]["Tags"] = [familiar(x) for x in repos.tags_of(image_id)] or None
        return rows

    # ------------------------------------------------------------------ tag / remove
    def tag(self, source: str, target: str) -> bool:
        self.store.ensure()
        image_id = self.store.require(source)
        ref = ImageReference.parse(target, field="target")
        if ref.digest:
            raise InvalidReference(target, "refusing to create a tag with a digest reference", "target")
        if ref.tagged is None:
            raise AssertionError('ref.tagged is not None')
        return bool(self.store.set_refs(image_id, [ref.tagged]))

    def remove(self, name: str, force: bool = False) -> list[dict[str, str]]:
        """Docker's ``rmi``: untag, and delete the image when its last reference goes."""
        if not self.store.exists:
            raise ImageNotFound(name)
        with self.store.gc_lock(shared=False):
            repos = self.store.repositories()
            image_id = self.store.lookup(name, repos)
            if image_id is None:
                raise ImageNotFound(name)
            tags = repos.tags_of(image_id)
            digests = repos.digests_of(image_id)
            by_ref = self._names_reference(name, image_id, repos)
            report: list[dict[str, str]] = []
            if by_ref is not None:
                remaining_tags = [x for x in tags if x != by_ref]
                if remaining_tags:
                    # Other tags still point at the image: only untag.
                    for r in self.store.remove_refs([by_ref]):
                        report.append({"Untagged": familiar(r)})
                    return report
                self._check_users(image_id, name, force)
                untag = [by_ref] + digests if by_ref in tags else digests
            else:
                repos_of = {ImageReference.parse(x, default_tag=False).repository for x in tags}
                if len(repos_of) > 1 and not force:
                    raise Conflict(
                        f"conflict: unable to delete {Digest(image_id).short} (must be forced) - "
                        "image is referenced in multiple repositories"
                    )
                self._check_users(image_id, name, force)
                untag = tags + digests
            for r in self.store.remove_refs(untag):
                report.append({"Untagged": familiar(r)})
            report.extend(self._delete_image(image_id))
            return report

    @staticmethod
    def _names_reference(name: str, image_id: str, repos: Repositories) -> str | None:
        """The tag/digest reference *name* stands for, or None when it is an ID."""
        try:
            ref = ImageReference.parse(name)
        except InvalidReference:
            return None
        key = ref.digested if ref.digest else ref.tagged
        if key and (repos.tags.get(key) == image_id or repos.digests.get(key) == image_id):
            return key
        return None

    def _check_users(self, image_id: str, name: str, force: bool) -> None:
        users = self._image_users(image_id)
        if users and not force:
            raise Conflict(
                f"conflict: unable to remove repository reference {name!r} (must force) - "
                f"container {users[0][:12]} is using its referenced image {Digest(image_id).short}"
            )

    def _delete_image(self, image_id: str) -> list[dict[str, str]]:
        """Drop the record and whatever content no other image uses (gc lock held)."""
        report = [{"Deleted": image_id}]
        self.store.delete_record(image_id)
        deleted_layers, _freed = self.store.collect_garbage(self._remapped_keep())
        report.extend({"Deleted": d} for d in deleted_layers)
        return report

    def prune(self, all: bool = False, filters: t.Mapping[str, t.Any] | None = None) -> dict[str, t.Any]:
        flt = filters_.normalise(filters, allowed=("until", "label", "label!", "dangling"))
        if "dangling" in flt:
            all = not filters_.boolean(flt["dangling"], "dangling")
        if not self.store.exists:
            return {"ImagesDeleted": [], "SpaceReclaimed": 0}
        until = filters_.until(flt.get("until"))
        deleted: list[dict[str, str]] = []
        with self.store.gc_lock(shared=False):
            before = self._store_bytes()
            repos = self.store.repositories()
            records = self.store.records()
            children: dict[str, int] = {}
            for rec in records:
                if rec.parent:
                    children[rec.parent] = children.get(rec.parent, 0) + 1
            for rec in _leaves_first(records):
                tags = repos.tags_of(rec.id)
                if tags and not all:
                    continue
                if not all and children.get(rec.id):
                    continue  # not dangling: an intermediate image below a remaining one (docker's rule)
                if self._image_users(rec.id):
                    continue
                cfg, _damage = self._config_or_damage(rec.id)
                created = parse_rfc3339(cfg.get("created")) or 0.0
                if until is not None and not created < until:
                    continue
                labels = (cfg.get("config") or {}).get("Labels") or {}
                if "label" in flt and not filters_.labels_match(flt["label"], labels):
                    continue
                if "label!" in flt and filters_.labels_match(flt["label!"], labels, any_=True):
                    continue
                for r in self.store.remove_refs(tags + repos.digests_of(rec.id)):
                    deleted.append({"Untagged": familiar(r)})
                self.store.delete_record(rec.id)
                deleted.append({"Deleted": rec.id})
                if rec.parent:
                    children[rec.parent] -= 1  # its untagged parent, if that was its only child, goes next
            layers, dummy = self.store.collect_garbage(self._remapped_keep())
            deleted.extend({"Deleted": d} for d in layers)
            reclaimed = max(0, before - self._store_bytes())
        return {"ImagesDeleted": deleted, "SpaceReclaimed": reclaimed}

    def _remapped_keep(self) -> t.Set[t.Tuple[str, str]] | None:
        """The remapped layer copies garbage collection keeps (those of existing containers)."""
        if self._remapped_in_use is None or not os.path.isdir(self.store.layout.remap_root):
            return None
        return self._remapped_in_use()

    def _store_bytes(self) -> int:
        total = sum(self.store.layers.size(d) for d in self.store.layers.all())
        total += self.store.leftover_bytes()  # what interrupted work left behind in tmp/
        return total + sum(self.store.blobs.size(b) for b in self.store.blobs.all())

    # ------------------------------------------------------------------ archives
    def load(self, path: str, on_event: events.Callback = events.ignore) -> list[LoadedImage]:
        from ..store import archive

        self.store.ensure()
        with self.store.gc_lock(shared=True):
            loaded = archive.load(self.store, path, on_event=on_event)
        return [LoadedImage(x.image_id, tuple(familiar(tg) for tg in x.tags), x.changed) for x in loaded]

    def archive_images(self, path: str) -> list[tuple[str, list[str]]]:
        """(image ID, familiar tags) of each image in an archive, without loading it (check mode)."""
        import tempfile

        from ..store import archive

        tmp = self.store.layout.tmp_dir if os.path.isdir(self.store.layout.tmp_dir) else tempfile.gettempdir()
        return [(image_id, [familiar(x) for x in tags]) for image_id, tags in archive.inspect(path, tmp)]

    def save(self, names: t.Sequence[str], path: str, format: str = "docker-archive") -> None:
        from ..store import archive

        if format not in archive.SAVE_FORMATS:
            raise InvalidOption("format", format, f"expected one of {', '.join(archive.SAVE_FORMATS)}")
        if not names:
            raise InvalidOption("names", list(names), "name at least one image to save")
        items = []
        repos = self.store.repositories() if self.store.exists else Repositories()
        for name in names:
            image_id = self.store.lookup(name, repos) if self.store.exists else None
            if image_id is None:
                raise ImageNotFound(name)
            ref_key = self._names_reference(name, image_id, repos)
            tags = [ref_key] if ref_key and ref_key in repos.tags else []
            items.append((image_id, tags))
        with self.store.gc_lock(shared=True):
            archive.save(self.store, items, path, format=format)

    def import_(
        self,
        path: str,
        reference: str | None = None,
        changes: t.Sequence[str] = (),
        message: str = "",
        platform: str | None = None,
        dry_run: bool = False,
    ) -> str:
        """Import a root filesystem tarball; with *dry_run*, only say which image ID it would give."""
        from ..store import archive

        ref = ImageReference.parse(reference, field="reference") if reference else None
        if ref is not None and ref.digest:
            raise InvalidReference(reference or "", "an imported image cannot be named by digest", "reference")
        plat = parse_platform(platform) if platform else host_platform()
        if dry_run:
            return archive.import_rootfs(
                self.store, path, changes=list(changes), message=message, platform=plat, dry_run=True
            )
        self.store.ensure()
        with self.store.gc_lock(shared=True):
            image_id = archive.import_rootfs(self.store, path, changes=list(changes), message=message, platform=plat)
            if ref is not None and ref.tagged:
                self.store.set_refs(image_id, [ref.tagged])
        return image_id

    # ------------------------------------------------------------------ df
    def disk_usage(self) -> dict[str, t.Any]:
        if not self.store.exists:
            return {"LayersSize": 0, "Images": []}
        repos = self.store.repositories()
        records = self.store.records()
        use_count: dict[str, int] = {}
        for rec in records:
            for d in {x.diff_id for x in rec.layers}:
                use_count[d] = use_count.get(d, 0) + 1
        layer_size = {d: self.store.layers.size(d) for d in use_count}
        images = []
        for rec in records:
            cfg, _damage = self._config_or_damage(rec.id)
            uniq = {x.diff_id for x in rec.layers}
            size = sum(layer_size[d] for d in uniq)
            shared = sum(layer_size[d] for d in uniq if use_count[d] > 1)
            images.append(
                {
                    "Id": rec.id,
                    "RepoTags": [familiar(x) for x in repos.tags_of(rec.id)],
                    "RepoDigests": [familiar(x) for x in repos.digests_of(rec.id)],
                    "Created": int(parse_rfc3339(cfg.get("created")) or 0),
                    "Size": size,
                    "SharedSize": shared,
                    "Containers": len(self._image_users(rec.id)),
                    "Labels": (cfg.get("config") or {}).get("Labels") or {},
                }
            )
        # user namespaces: the ownership-shifted copies of layers take the same room again
        remapped = 0
        if os.path.isdir(self.store.layout.remap_root):
            from ..store import remap

            remapped = sum(self.store.layers.size(d) for _key, d in remap.copies(self.store.layout))
        # what no image uses (an interrupted pull or load, tmp/): on disk, and reclaimed by a prune
        garbage = self.store.garbage_bytes()
        return {"LayersSize": sum(layer_size.values()) + remapped + garbage, "Images": images}


def _leaves_first(records: t.Sequence[ImageRecord]) -> list[ImageRecord]:
    """*records* ordered children before their parents (a build's steps from the last one down), so that
    pruning a dangling image lets its intermediate parents be pruned in the same pass."""
    by_id = {rec.id: rec for rec in records}
    depth: dict[str, int] = {}

    def level(image_id: str) -> int:
        seen = []
        cur = image_id
        while cur in by_id and cur not in depth and cur not in seen:
            seen.append(cur)
            cur = by_id[cur].parent
        base = depth.get(cur, 0)
        for i, item in enumerate(reversed(seen)):
            depth[item] = base + i + 1
        return depth.get(image_id, 0)

    return sorted(records, key=lambda rec: -level(rec.id))


def _last_comment(cfg: t.Mapping[str, t.Any]) -> str:
    hist = cfg.get("history") or []
    if hist and isinstance(hist[-1], dict):
        return str(hist[-1].get("comment", ""))
    return ""


def _ref_matches(patterns: list[str], name: str) -> bool:
    ref = ImageReference.parse(name, default_tag=False)
    return any(reference_matches(p, ref) for p in patterns)
