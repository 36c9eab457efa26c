# SPDX-License-Identifier: GPL-3.0-or-later
"""``docker load``: plans from docker-archive ``manifest.json`` or an OCI index, then verified content into the store."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import typing as t

from ...core import events, oci
from ...core.digest import Digest, HashingReader, sha256_bytes, verify, verify_bytes
from ...errors import ArchiveError, InvalidReference
from ..images import ImageStore, LayerRef
from ...core.reference import ImageReference, familiar, host_platform
from ..decompress import open_decompressed
from .sources import MAX_JSON, Source, member_name, open_source
from .streams import Tee, decompressed, is_corrupt, sniff

#: An uncompressed layer in a Docker schema 2 manifest.
DOCKER_LAYER_TAR = oci.DOCKER_LAYER_TAR

ANN_REF_NAME = "org.opencontainers.image.ref.name"
ANN_IMAGE_NAME = "io.containerd.image.name"

_MAX_NESTING = 4  # index -> index -> ... -> manifest

_CONFIG_NAME = re.compile(r"^(?:blobs/sha256/)?([0-9a-f]{64})(?:\.json)?$")
_BLOB_NAME = re.compile(r"^blobs/sha256/([0-9a-f]{64})$")
_BARE_TAG = re.compile(r"^[\w][\w.-]{0,127}$")


@dataclasses.dataclass(frozen=True)
class LoadResult:
    image_id: str
    tags: tuple[str, ...]  # full references, e.g. "docker.io/library/busybox:latest"
    changed: bool  # the store gained an image or a tag moved


@dataclasses.dataclass
class _LayerSrc:
    name: str  # archive member holding the blob
    blob: str | None  # blob digest when the archive tells it (OCI descriptor, blobs/sha256/<hex>)
    media_type: str | None  # None: docker-archive, sniff the content
    size: int | None  # declared blob size (OCI)


@dataclasses.dataclass
class _Plan:
    image_id: str
    config: bytes
    diff_ids: list[str]
    layers: list[_LayerSrc]
    manifest: bytes | None  # OCI: the manifest as found; docker-archive: synthesised later
    manifest_media_type: str | None
    tags: list[str]


def _json(src: Source, name: str, what: str) -> t.Any:
    raw = src.read(name, what)
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ArchiveError(src.label, f"{what} {name!r} is not valid JSON ({exc})") from None


def _parse_config(src: Source, raw: bytes, what: str) -> list[str]:
    try:
        cfg = oci.parse_config(raw, what=what)
    except oci.FormatError as exc:
        raise ArchiveError(src.label, str(exc)) from None
    return list(cfg["rootfs"]["diff_ids"])


def _tag_of(src: Source, value: t.Any, what: str) -> str | None:
    """``docker.io/library/busybox:latest`` for a tag reference; None for digest-only references."""
    if not isinstance(value, str):
        raise ArchiveError(src.label, f"{what} {value!r} is not a string")
    try:
        ref = ImageReference.parse(value, field=what)
    except InvalidReference as exc:
        raise ArchiveError(src.label, f"{what}: {exc}") from None
    if ref.digest:
        return None
    return ref.tagged


def _docker_plans(src: Source) -> list[_Plan]:
    doc = _json(src, "manifest.json", "manifest")
    if not isinstance(doc, list):
        raise ArchiveError(src.label, "manifest.json is not a list")
    plans: dict[str, _Plan] = {}
    for n, entry in enumerate(doc):
        what = f"manifest.json entry {n}"
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise ArchiveError(src.label, f"{what} has no Config")
        layers = entry.get("Layers")
        if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
            raise ArchiveError(src.label, f"{what} has no Layers list")
        config_name = member_name(src.label, entry["Config"], "Config")
        config = src.read(config_name, "image config")
        image_id = sha256_bytes(config)
        m = _CONFIG_NAME.match(config_name)
        if m:
            verify(f"image config {config_name}", "sha256:" + m.group(1), image_id.hex)
        diff_ids = _parse_config(src, config, f"image config {config_name}")
        if len(diff_ids) != len(layers):
            raise ArchiveError(
                src.label, f"{what} lists {len(layers)} layers but its config has {len(diff_ids)} diff IDs"
            )
        layer_srcs = []
        for name in layers:
            name = member_name(src.label, name, "layer")
            if not src.has(name):
                raise ArchiveError(src.label, f"layer {name!r} is missing")
            bm = _BLOB_NAME.match(name)
            layer_srcs.append(_LayerSrc(name, "sha256:" + bm.group(1) if bm else None, None, None))
        tags = [x for x in (_tag_of(src, v, "RepoTags") for v in entry.get("RepoTags") or []) if x]
        plan = plans.get(image_id)
        if plan is None:
            plans[image_id] = _Plan(image_id, config, diff_ids, layer_srcs, None, None, tags)
        else:
            plan.tags.extend(x for x in tags if x not in plan.tags)
    return list(plans.values())


def blob_name(desc: oci.Descriptor) -> str:
    algo, hexpart = desc.digest.split(":", 1)
    return f"blobs/{algo}/{hexpart}"


def _read_blob(src: Source, desc: oci.Descriptor, what: str) -> bytes:
    name = blob_name(desc)
    if not src.has(name):
        raise ArchiveError(src.label, f"{what} {desc.digest} is missing")
    if desc.size > MAX_JSON:
        raise ArchiveError(src.label, f"{what} {desc.digest} is larger than {MAX_JSON} bytes")
    data = src.read(name, what)
    verify_bytes(what, desc.digest, data)
    if len(data) != desc.size:
        raise ArchiveError(src.label, f"{what} {desc.digest} has {len(data)} bytes, its descriptor says {desc.size}")
    return data


def _oci_tags(src: Source, annotations: t.Mapping[str, str] | None) -> list[str]:
    """Tags from an index entry: ``io.containerd.image.name``, else a ref.name that is a full reference.

    A bare ref.name (``latest``) names no repository, so such an image is loaded untagged.
    """
    ann = annotations or {}
    name = ann.get(ANN_IMAGE_NAME)
    if name:
        tag = _tag_of(src, name, ANN_IMAGE_NAME)
        return [tag] if tag else []
    ref_name = ann.get(ANN_REF_NAME)
    if ref_name and not _BARE_TAG.match(ref_name):
        tag = _tag_of(src, ref_name, ANN_REF_NAME)
        return [tag] if tag else []
    return []


def _oci_plans(src: Source, skipped: list[str] | None = None) -> list[_Plan]:
    """One plan per image of the layout's index.

    An entry that is itself an index without a manifest for the host's platform is left out and said in
    *skipped*, so one such image does not fail the whole layout; it is an error only when nothing is left.
    """
    if src.has("oci-layout"):
        layout = _json(src, "oci-layout", "oci-layout")
        version = str((layout or {}).get("imageLayoutVersion", "")) if isinstance(layout, dict) else ""
        if not version.startswith("1."):
            raise ArchiveError(src.label, f"unsupported OCI image layout version {version!r}")
    try:
        index = oci.parse_manifest(src.read("index.json", "index"), oci.OCI_INDEX, what="index.json")
    except oci.FormatError as exc:
        raise ArchiveError(src.label, str(exc)) from None
    if not isinstance(index, oci.ImageIndex):
        raise ArchiveError(src.label, "index.json is not an image index")
    host = host_platform()
    entries = [d for d in index.manifests if not _is_attestation(d)]
    # Entries that carry a platform: keep the host's when there is one (like a nested index).
    if any(d.platform and oci.platform_matches(host, d.platform) for d in entries):
        entries = [d for d in entries if not d.platform or oci.platform_matches(host, d.platform)]
    plans: dict[str, _Plan] = {}
    not_for_host: list[str] = []
    for top in entries:
        tags = _oci_tags(src, top.annotations)
        desc = top
        for _depth in range(_MAX_NESTING + 1):
            raw = _read_blob(src, desc, "manifest")
            try:
                parsed = oci.parse_manifest(raw, desc.media_type, what=f"manifest {desc.digest}")
            except oci.FormatError as exc:
                raise ArchiveError(src.label, str(exc)) from None
            if isinstance(parsed, oci.ImageIndex):
                try:
                    desc = oci.select_platform(parsed, host, what=f"index {desc.digest}")
                except oci.FormatError as exc:
                    shown = ", ".join(familiar(x) for x in tags) or top.digest
                    not_for_host.append(f"{shown}: {exc}")
                    break
                continue
            break
        else:
            raise ArchiveError(src.label, f"image indexes nested more than {_MAX_NESTING} deep")
        if isinstance(parsed, oci.ImageIndex):
            continue  # not for this host (said above)
        config = _read_blob(src, parsed.config, "image config")
        diff_ids = _parse_config(src, config, f"image config {parsed.config.digest}")
        if len(diff_ids) != len(parsed.layers):
            raise ArchiveError(
                src.label,
                f"manifest {desc.digest} lists {len(parsed.layers)} layers but its config has {len(diff_ids)} diff IDs",
            )
        layers = []
        for ld in parsed.layers:
            if ld.media_type not in oci.LAYER_TYPES:
                raise ArchiveError(src.label, f"layer {ld.digest} has an unsupported media type {ld.media_type!r}")
            if not src.has(blob_name(ld)):
                raise ArchiveError(src.label, f"layer {ld.digest} is missing")
            layers.append(_LayerSrc(blob_name(ld), ld.digest, ld.media_type, ld.size))
        image_id = parsed.config.digest
        plan = plans.get(image_id)
        if plan is None:
            mt = oci.detect_media_type(raw, desc.media_type)
            plans[image_id] = _Plan(image_id, config, diff_ids, layers, raw, mt, tags)
        else:
            plan.tags.extend(x for x in tags if x not in plan.tags)
    if not_for_host and not plans:
        raise ArchiveError(src.label, "no image for this host's platform: " + "; ".join(not_for_host))
    if skipped is not None:
        skipped.extend(f"skipped {x}" for x in not_for_host)
    return list(plans.values())


def _is_attestation(desc: oci.Descriptor) -> bool:
    plat = desc.platform or {}
    kind = (desc.annotations or {}).get("vnd.docker.reference.type")
    return plat.get("os") == "unknown" or kind == "attestation-manifest"


def _plans(src: Source, skipped: list[str] | None = None) -> list[_Plan]:
    if src.has("manifest.json"):
        return _docker_plans(src)
    if src.has("index.json"):
        return _oci_plans(src, skipped)
    if src.has("repositories"):
        raise ArchiveError(src.label, "legacy docker-archive without manifest.json (Docker < 1.10) is not supported")
    raise ArchiveError(
        src.label, "neither a docker-archive (manifest.json) nor an OCI image layout (oci-layout, index.json)"
    )


TO_DOCKER = {
    oci.OCI_LAYER: DOCKER_LAYER_TAR,
    oci.OCI_LAYER_GZIP: oci.DOCKER_LAYER,
    oci.OCI_LAYER_ND_GZIP: oci.DOCKER_FOREIGN_LAYER,
}
TO_OCI = {
    DOCKER_LAYER_TAR: oci.OCI_LAYER,
    oci.DOCKER_LAYER: oci.OCI_LAYER_GZIP,
    oci.DOCKER_FOREIGN_LAYER: oci.OCI_LAYER_ND_GZIP,
}


def docker_manifest(config: bytes, layers: t.Sequence[LayerRef]) -> bytes:
    """A Docker schema 2 manifest over the stored blobs (for images that came without one)."""
    doc = {
        "schemaVersion": 2,
        "mediaType": oci.DOCKER_MANIFEST,
        "config": {"mediaType": oci.DOCKER_CONFIG, "size": len(config), "digest": str(sha256_bytes(config))},
        "layers": [{"mediaType": x.media_type, "size": x.size, "digest": x.blob} for x in layers],
    }
    return json.dumps(doc, indent=3).encode()


class _Loader:
    def __init__(self, store: ImageStore, src: Source, on_event: events.Callback) -> None:
        self.store = store
        self.src = src
        self.on_event = on_event
        self._known: dict[str, LayerRef] | None = None

    def known_blob(self, diff_id: str) -> LayerRef | None:
        """A stored blob of this layer from an image already in the store."""
        if self._known is None:
            self._known = {}
            for rec in self.store.records():
                for x in rec.layers:
                    if x.blob and x.diff_id not in self._known and self.store.blobs.has(x.blob):
                        self._known[x.diff_id] = x
        return self._known.get(diff_id)

    def image(self, plan: _Plan) -> LoadResult:
        store = self.store
        created = False
        if store.complete(plan.image_id):
            for x, diff_id in zip(plan.layers, plan.diff_ids):
                size = x.size if x.size is not None else self.src.size(x.name)
                self.on_event(events.Event("layer.exists", Digest(x.blob or diff_id).short, size, size))
        else:
            refs = [self.layer(x, d, plan.manifest is None) for x, d in zip(plan.layers, plan.diff_ids)]
            manifest, mt = plan.manifest, plan.manifest_media_type
            if manifest is None:
                manifest, mt = docker_manifest(plan.config, refs), oci.DOCKER_MANIFEST
            _id, created = store.commit(plan.config, refs, manifest, mt)
        moved = store.set_refs(plan.image_id, plan.tags) if plan.tags else []
        shown = ", ".join(familiar(x) for x in plan.tags)
        message = f"Loaded image: {shown}" if shown else f"Loaded image ID: {plan.image_id}"
        self.on_event(events.Event("image.done", shown or Digest(plan.image_id).short, message=message))
        return LoadResult(plan.image_id, tuple(plan.tags), created or bool(moved))

    def layer(self, x: _LayerSrc, diff_id: str, free_blob: bool) -> LayerRef:
        """Store one layer (or find it stored); *free_blob*: any blob of this diff ID will do."""
        store = self.store
        size = self.src.size(x.name)
        if x.size is not None and size != x.size:
            raise ArchiveError(self.src.label, f"layer {x.blob} has {size} bytes, its descriptor says {x.size}")
        kind, media_type, blob = "none", x.media_type, x.blob
        if media_type is None:  # docker-archive: whatever the member holds
            kind = sniff(self.src.head(x.name))
            media_type = {"none": DOCKER_LAYER_TAR, "gzip": oci.DOCKER_LAYER}.get(kind, DOCKER_LAYER_TAR)
            if kind in ("none", "xz", "bzip2", "zstd"):
                blob = diff_id  # stored uncompressed
        short = Digest(blob or diff_id).short
        if store.layers.has(diff_id):
            if blob and store.blobs.has(blob):
                self.on_event(events.Event("layer.exists", short, size, size))
                return LayerRef(diff_id, blob, media_type, store.blobs.size(blob))
            known = self.known_blob(diff_id) if free_blob else None
            if known is not None and known.blob:
                self.on_event(events.Event("layer.exists", short, size, size))
                return LayerRef(diff_id, known.blob, TO_DOCKER.get(known.media_type, known.media_type), known.size)
            return self._blob_only(x, diff_id, kind, media_type, blob, short, size)
        with contextlib.closing(self.src.open(x.name)) as fh:
            stream = fh if kind not in ("xz", "bzip2", "zstd") else decompressed(fh, kind)

            def progress(n: int) -> None:
                self.on_event(events.Event("layer.extract", short, n, size))

            try:
                info = store.layers.ingest(
                    stream,
                    media_type=media_type,
                    blob_digest=blob,
                    diff_id=diff_id,
                    blob_size=size if stream is fh else None,
                    progress=progress,
                )
            except Exception as exc:
                if is_corrupt(exc):
                    raise ArchiveError(self.src.label, f"layer {x.name!r}: cannot decompress ({exc})") from None
                raise
        if info.blob is None:  # someone else stored the layer meanwhile, without this blob
            return self._blob_only(x, diff_id, kind, media_type, blob, short, size)
        self.on_event(events.Event("layer.done", short, size, size))
        return LayerRef(info.diff_id, info.blob, media_type, info.blob_size)

    def _blob_only(
        self, x: _LayerSrc, diff_id: str, kind: str, media_type: str, blob: str | None, short: str, size: int
    ) -> LayerRef:
        """Keep the layer's blob without extracting it again; both digests are still verified."""
        writer = self.store.blobs.writer(blob)
        try:
            with contextlib.closing(self.src.open(x.name)) as fh:
                stream = fh if kind not in ("xz", "bzip2", "zstd") else decompressed(fh, kind)
                tee = Tee(stream, writer)
                plain = HashingReader(open_decompressed(tee, media_type))
                plain.drain()
                tee.drain()
            verify(f"layer {short} (uncompressed)", diff_id, plain.digest.hex)
            digest = writer.commit(f"layer {short}")
        except BaseException:
            writer.abort()
            raise
        self.on_event(events.Event("layer.done", short, size, size))
        return LayerRef(diff_id, str(digest), media_type, writer.size)


def load(store: ImageStore, path: str, on_event: events.Callback = events.ignore) -> list[LoadResult]:
    """Load every image of a docker-archive or OCI layout (tar, compressed tar or directory).

    The archive is checked as a whole (names, JSON, configs, which layers exist)
    before any layer is stored.  Layers already in the store are not extracted
    again.  An OCI entry whose ``org.opencontainers.image.ref.name`` is a bare
    tag and that has no ``io.containerd.image.name`` is loaded untagged, as
    ``docker load`` reports it: ``Loaded image ID: sha256:...``.  An OCI entry that is an index without
    the host's platform is skipped with a ``warning`` event, unless no image is left.
    """
    with open_source(path, store.layout.tmp_dir) as src:
        skipped: list[str] = []
        plans = _plans(src, skipped)
        if not plans:
            raise ArchiveError(src.label, "the archive contains no image")
        for message in skipped:
            on_event(events.Event("warning", src.label, message=message))
        loader = _Loader(store, src, on_event)
        return [loader.image(p) for p in plans]


def inspect(path: str, tmp_dir: str) -> list[tuple[str, list[str]]]:
    """(image ID, full tags) of every image in an archive, without touching any store.

    A compressed archive or a pipe is spooled into *tmp_dir* (and removed).
    """
    with open_source(path, tmp_dir) as src:
        return [(p.image_id, list(p.tags)) for p in _plans(src)]
