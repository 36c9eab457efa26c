# SPDX-License-Identifier: GPL-3.0-or-later
"""Image records and references (tags, digests) over the blob and layer stores.

An image ID is the digest of its config blob.  ``images/sha256/<hex>.json``
records which manifest and layer blobs make the image; ``repositories.json``
maps ``repo:tag`` and ``repo@digest`` to image IDs.  Every write is atomic and
made under the store lock.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
import typing as t

from ..core import fs, oci, trust
from ..core.layout import Layout
from ..core.locks import flock
from ..errors import Conflict, DamagedContent, ImageNotFound, InvalidReference, StoreError
from .blobs import BlobStore
from .layers import LayerStore
from ..core.reference import ImageReference, is_full_id, looks_like_id


@dataclasses.dataclass(frozen=True)
class LayerRef:
    diff_id: str
    blob: str | None  # stored blob digest (as distributed), if any
    media_type: str
    size: int  # blob size


@dataclasses.dataclass(frozen=True)
class ImageRecord:
    id: str
    manifest_digest: str | None
    manifest_media_type: str | None
    layers: tuple[LayerRef, ...]
    loaded_at: float
    parent: str = ""

    def to_json(self) -> dict[str, t.Any]:
        return {
            "id": self.id,
            "manifest": {"digest": self.manifest_digest, "mediaType": self.manifest_media_type}
            if self.manifest_digest
            else None,
            "layers": [dataclasses.asdict(x) for x in self.layers],
            "loaded_at": self.loaded_at,
            "parent": self.parent,
        }

    @classmethod
    def from_json(cls, d: t.Mapping[str, t.Any]) -> "ImageRecord":
        man = d.get("manifest") or {}
        return cls(
            id=d["id"],
            manifest_digest=man.get("digest"),
            manifest_media_type=man.get("mediaType"),
            layers=tuple(LayerRef(**x) for x in d.get("layers", ())),
            loaded_at=float(d.get("loaded_at", 0)),
            parent=d.get("parent", ""),
        )


@dataclasses.dataclass(frozen=True)
class Problem:
    """Something :meth:`ImageStore.check` found wrong: *kind* ``blob``, ``layer`` or ``image``, its digest."""

    kind: str
    id: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"Kind": self.kind, "Id": self.id, "Problem": self.reason}


class Repositories:
    """The tag and digest maps, read fresh each time (they are small)."""

    def __init__(self, tags: dict[str, str] | None = None, digests: dict[str, str] | None = None) -> None:
        self.tags: dict[str, str] = dict(tags or {})
        self.digests: dict[str, str] = dict(digests or {})

    def tags_of(self, image_id: str) -> list[str]:
        return sorted(k for k, v in self.tags.items() if v == image_id)

    def digests_of(self, image_id: str) -> list[str]:
        return sorted(k for k, v in self.digests.items() if v == image_id)

    def to_json(self) -> dict[str, t.Any]:
        return {"tags": dict(sorted(self.tags.items())), "digests": dict(sorted(self.digests.items()))}


class ImageStore:
    def __init__(self, layout: Layout, lock_timeout: float | None = 600.0) -> None:
        self.layout = layout
        self.lock_timeout = lock_timeout
        self.blobs = BlobStore(layout)
        self.layers = LayerStore(layout, self.blobs, lock_timeout)

    # ---------------------------------------------------------------- setup
    def ensure(self) -> None:
        """Create the data-root tree: the root 0711 and root's (``core/trust.py``), the rest 0700."""
        trust.secure_root(self.layout, create=True)
        for d in self.layout.all_dirs():
            fs.ensure_dir(d, 0o700)
        self.reclaim_staging()

    def reclaim_staging(self) -> int:
        """Delete what dead processes left in ``tmp/`` (a killed pull or load); safe while others stage.
        Returns the bytes freed."""
        return fs.reclaim_staging(self.layout.tmp_dir)

    @property
    def exists(self) -> bool:
        return os.path.isdir(self.layout.images_dir)

    def lock(self) -> t.ContextManager[None]:
        """Exclusive lock for metadata changes."""
        return flock(self.layout.store_lock, timeout=self.lock_timeout)

    def gc_lock(self, shared: bool) -> t.ContextManager[None]:
        return flock(self.layout.gc_lock, shared=shared, timeout=self.lock_timeout)

    # ---------------------------------------------------------------- reads
    def repositories(self) -> Repositories:
        data = fs.read_json(self.layout.repositories, {}) or {}
        return Repositories(data.get("tags"), data.get("digests"))

    def _save_repositories(self, repos: Repositories) -> None:
        fs.atomic_write_json(self.layout.repositories, repos.to_json(), mode=0o600)

    def ids(self) -> list[str]:
        try:
            names = os.listdir(self.layout.images_dir)
        except FileNotFoundError:
            return []
        return ["sha256:" + n[:-5] for n in names if n.endswith(".json") and len(n) == 69]

    def has(self, image_id: str) -> bool:
        return os.path.exists(self.layout.image_record(image_id))

    def get(self, image_id: str) -> ImageRecord:
        data = fs.read_json(self.layout.image_record(image_id))
        if data is None:
            raise ImageNotFound(image_id)
        return ImageRecord.from_json(data)

    def records(self) -> list[ImageRecord]:
        out = []
        for image_id in self.ids():
            try:
                out.append(self.get(image_id))
            except ImageNotFound:
                continue
        return out

    def config_bytes(self, image_id: str) -> bytes:
        return self.blobs.read(image_id)

    def config(self, image_id: str) -> dict[str, t.Any]:
        return t.cast("dict[str, t.Any]", json.loads(self.config_bytes(image_id)))

    def verified_config(self, image_id: str) -> dict[str, t.Any]:
        """The image's config, checked against its digest (the image ID) first: a truncated or edited
        config raises :class:`DamagedContent` naming the digest. Cheap: a config is a few kB."""
        data = self.blobs.read_verified(image_id, what="image config")
        try:
            cfg = json.loads(data)
        except ValueError as exc:  # the right digest but no JSON: stored so by an older version
            raise DamagedContent("image config", image_id, f"not JSON ({exc})") from None
        if not isinstance(cfg, dict):
            raise DamagedContent("image config", image_id, "not a JSON object")
        return cfg

    def complete(self, image_id: str) -> bool:
        """Record, an undamaged config and every layer present."""
        if not self.has(image_id) or self.blobs.damage(image_id) is not None:
            return False
        rec = self.get(image_id)
        return all(self.layers.has(x.diff_id) for x in rec.layers)

    def lookup(self, name: str, repos: Repositories | None = None) -> str | None:
        """Image ID for a reference, a full ID or a unique ID prefix; None when absent.

        Like Docker, a name that parses as a reference is looked up as one
        first; a hex string is then tried as an ID prefix.
        """
        repos = repos or self.repositories()
        if is_full_id(name):
            return name if self.has(name) else None
        ref = None
        try:
            ref = ImageReference.parse(name)
        except InvalidReference:
            if not looks_like_id(name):
                raise
        if ref is not None:
            if ref.digest:
                found = repos.digests.get(ref.digested or "")
                if found:
                    return found
            elif ref.tagged and ref.tagged in repos.tags:
                return repos.tags[ref.tagged]
        if looks_like_id(name):
            prefix = name.split(":", 1)[-1]
            matches = [i for i in self.ids() if i[7:].startswith(prefix)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise Conflict(f"image ID prefix {name!r} is ambiguous: it matches {len(matches)} images")
        return None

    def require(self, name: str) -> str:
        image_id = self.lookup(name)
        if image_id is None:
            raise ImageNotFound(name)
        return image_id

    # ---------------------------------------------------------------- writes
    def commit(
        self,
        config: bytes,
        layers: t.Sequence[LayerRef],
        manifest: bytes | None = None,
        manifest_media_type: str | None = None,
        parent: str = "",
    ) -> tuple[str, bool]:
        """Record an image whose layers are already stored. Returns (image ID, created).

        The config (and manifest, when given) become blobs; the record is
        written last, so a crash leaves no half image.
        """
        image_id = self.blobs.put_bytes(config, what="image config")
        try:
            cfg = oci.parse_config(config)
        except oci.FormatError as exc:
            raise StoreError(str(exc)) from None
        diff_ids = cfg["rootfs"]["diff_ids"]
        if [x.diff_id for x in layers] != list(diff_ids):
            raise StoreError(f"image {image_id}: layers do not match the config's rootfs.diff_ids")
        for x in layers:
            if not self.layers.has(x.diff_id):
                raise StoreError(f"image {image_id}: layer {x.diff_id} is not stored")
        manifest_digest = None
        if manifest is not None:
            manifest_digest = self.blobs.put_bytes(manifest, what="manifest")
        with self.lock():
            existing = fs.read_json(self.layout.image_record(image_id))
            if existing is not None:
                rec = ImageRecord.from_json(existing)
                if manifest_digest and rec.manifest_digest != manifest_digest and not rec.manifest_digest:
                    rec = dataclasses.replace(rec, manifest_digest=manifest_digest, manifest_media_type=manifest_media_type)
                    fs.atomic_write_json(self.layout.image_record(image_id), rec.to_json(), mode=0o600)
                return image_id, False
            rec = ImageRecord(
                id=image_id,
                manifest_digest=manifest_digest,
                manifest_media_type=manifest_media_type,
                layers=tuple(layers),
                loaded_at=time.time(),
                parent=parent,
            )
            fs.atomic_write_json(self.layout.image_record(image_id), rec.to_json(), mode=0o600)
            return image_id, True

    def set_refs(self, image_id: str, tags: t.Iterable[str] = (), digests: t.Iterable[str] = ()) -> list[str]:
        """Point tags (``repo:tag``) and digests (``repo@digest``) at *image_id*.

        Returns the references that changed (new or moved).
        """
        changed = []
        with self.lock():
            if not self.has(image_id):
                raise ImageNotFound(image_id)
            repos = self.repositories()
            for tag in tags:
                if repos.tags.get(tag) != image_id:
                    repos.tags[tag] = image_id
                    changed.append(tag)
            for dg in digests:
                if repos.digests.get(dg) != image_id:
                    repos.digests[dg] = image_id
                    changed.append(dg)
            if changed:
                self._save_repositories(repos)
                self._touch_tag_time(image_id)
        return changed

    def _touch_tag_time(self, image_id: str) -> None:
        path = os.path.join(self.layout.images_dir, image_id.split(":", 1)[1] + ".tagtime")
        fs.atomic_write(path, str(time.time()), mode=0o600, fsync=False)

    def last_tag_time(self, image_id: str) -> float | None:
        path = os.path.join(self.layout.images_dir, image_id.split(":", 1)[1] + ".tagtime")
        try:
            return float(trust.read_trusted(path).strip())
        except (OSError, ValueError):
            return None

    def remove_refs(self, refs: t.Iterable[str]) -> list[str]:
        """Drop tag/digest references; return those that existed."""
        removed = []
        with self.lock():
            repos = self.repositories()
            for r in refs:
                if repos.tags.pop(r, None) is not None or repos.digests.pop(r, None) is not None:
                    removed.append(r)
            if removed:
                self._save_repositories(repos)
        return removed

    def delete_record(self, image_id: str) -> None:
        with self.lock():
            repos = self.repositories()
            if repos.tags_of(image_id) or repos.digests_of(image_id):
                raise Conflict(f"image {image_id} is still referenced")
            fs.remove_quietly(self.layout.image_record(image_id))
            fs.remove_quietly(os.path.join(self.layout.images_dir, image_id.split(":", 1)[1] + ".tagtime"))

    # ---------------------------------------------------------------- gc
    def referenced(self) -> tuple[set[str], set[str]]:
        """(diff IDs, blob digests) that some image record still uses."""
        diff_ids: set[str] = set()
        blobs: set[str] = set()
        for rec in self.records():
            blobs.add(rec.id)
            if rec.manifest_digest:
                blobs.add(rec.manifest_digest)
            for x in rec.layers:
                diff_ids.add(x.diff_id)
                if x.blob:
                    blobs.add(x.blob)
        return diff_ids, blobs

    def collect_garbage(self, remapped_in_use: t.Collection[tuple[str, str]] | None = None) -> tuple[list[str], int]:
        """Delete unreferenced layers, blobs and staging leftovers, and the remapped layer copies
        (store/remap.py) of deleted layers and, when *remapped_in_use* lists the ``(mapping key, diff ID)``
        pairs containers use, of every other pair.

        Caller holds the gc lock exclusively. Returns (deleted layer diff IDs, bytes freed).
        """
        used_layers, used_blobs = self.referenced()
        freed = 0
        deleted = []
        for diff_id in self.layers.all():
            if diff_id not in used_layers:
                freed += self.layers.remove(diff_id)
                deleted.append(str(diff_id))
        for dg in self.blobs.all():
            if dg not in used_blobs:
                freed += self.blobs.remove(dg)
        if os.path.isdir(self.layout.remap_root):
            from .remap import sweep

            sweep(self.layout, lambda key, diff_id: self.layers.has(diff_id) and (
                remapped_in_use is None or (key, diff_id) in remapped_in_use))
        freed += self.clean_tmp()
        return deleted, freed

    def clean_tmp(self) -> int:
        """Empty ``tmp/`` (the caller holds the gc lock exclusively: nothing stages); return the bytes freed."""
        try:
            names = os.listdir(self.layout.tmp_dir)
        except FileNotFoundError:
            return 0
        freed = 0
        for n in names:
            path = os.path.join(self.layout.tmp_dir, n)
            freed += fs.tree_size(path)
            fs.rmtree(path)
        return freed

    def unreferenced(self) -> tuple[list[str], list[str]]:
        """(diff IDs, blob digests) stored that no image record uses: left by an interrupted pull or load,
        or by a removal that was interrupted. Reused by the next pull; deleted by :meth:`collect_garbage`."""
        used_layers, used_blobs = self.referenced()
        return ([str(d) for d in self.layers.all() if d not in used_layers],
                [str(b) for b in self.blobs.all() if b not in used_blobs])

    def garbage_bytes(self) -> int:
        """Bytes that :meth:`collect_garbage` would free (unreferenced layers and blobs, ``tmp/``)."""
        layers, blobs = self.unreferenced()
        return (sum(self.layers.size(d) for d in layers) + sum(self.blobs.size(b) for b in blobs)
                + self.leftover_bytes())

    def leftover_bytes(self) -> int:
        """Bytes in ``tmp/`` that interrupted work left: staging entries of processes that are gone, partial
        downloads. Not the work in progress of live processes, nor the runtime's own entries."""
        try:
            names = os.listdir(self.layout.tmp_dir)
        except FileNotFoundError:
            return 0
        return sum(fs.tree_size(os.path.join(self.layout.tmp_dir, n)) for n in names
                   if n.startswith("partial-") or fs.staging_owner_alive(n) is False)

    # ---------------------------------------------------------------- check
    def check(self) -> list[Problem]:
        """Verify every blob (its digest), every unpacked layer (:meth:`LayerStore.damage`) and every image
        record (its config, manifest and layers are stored). Reads everything: ``berth system check``."""
        problems = []
        damaged: set[str] = set()
        for dg in self.blobs.all():
            reason = self.blobs.damage(dg)
            if reason is not None and reason != "missing":  # missing: removed meanwhile
                problems.append(Problem("blob", str(dg), reason))
                damaged.add(str(dg))
        for diff_id in self.layers.all():
            reason = self.layers.damage(diff_id)
            if reason is not None:
                problems.append(Problem("layer", str(diff_id), reason))
                damaged.add(str(diff_id))
        for rec in self.records():
            wrong = []
            for what, dg in [("config", rec.id), ("manifest", rec.manifest_digest)] + [
                    ("layer blob", x.blob) for x in rec.layers]:
                if dg and dg in damaged:
                    wrong.append(f"its {what} {dg} is damaged")
                elif dg and not self.blobs.has(dg):
                    wrong.append(f"its {what} {dg} is missing")
            for x in rec.layers:
                if x.diff_id in damaged:
                    wrong.append(f"its layer {x.diff_id} is damaged")
                elif not os.path.isdir(self.layout.layer_dir(x.diff_id)):
                    wrong.append(f"its layer {x.diff_id} is missing")
            if wrong:
                problems.append(Problem("image", rec.id, "; ".join(wrong)))
        return problems

    def repair(self, problems: t.Iterable[Problem]) -> int:
        """Remove the damaged blobs and layers of *problems* (a pull of their images stores them again);
        image records stay, with their tags. Caller holds the gc lock exclusively. Returns the bytes freed."""
        freed = 0
        for p in problems:
            if p.kind == "blob":
                freed += self.blobs.remove(p.id)
            elif p.kind == "layer":
                size = fs.tree_size(self.layout.layer_dir(p.id))
                self.layers.remove(p.id)
                freed += size
        return freed

    def image_size(self, rec: ImageRecord) -> int:
        return sum(self.layers.size(x.diff_id) for x in rec.layers)
