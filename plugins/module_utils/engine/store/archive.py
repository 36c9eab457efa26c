# SPDX-License-Identifier: GPL-3.0-or-later
"""Image archives: ``docker load`` / ``docker save`` / ``docker import``.

Formats read by :func:`load` (detected from the content, never the file name):

* docker-archive: what ``docker save`` and ``skopeo copy ... docker-archive:`` write, a tar with
  ``manifest.json`` (``[{Config, RepoTags, Layers}]``); layers as ``<id>/layer.tar``, ``<hex>.tar`` or
  ``blobs/sha256/<hex>`` (Docker 25), plain or gzip/xz/bzip2/zstd-compressed.
* OCI image layout (``oci-layout`` + ``index.json`` + ``blobs/``), as a tar or as a directory.
  Nested indexes resolve to the host platform.

The archive itself may be gzip-, xz-, bzip2- or zstd-compressed (``docker save | gzip``).
A plain tar file is read in place: its members are found by seeking, and each layer
streams straight from the archive into :meth:`LayerStore.ingest`.  A compressed or
non-seekable archive is first decompressed into the store's ``tmp/``.

Every digest is checked: image IDs against config names, diff IDs against layer
content, OCI blobs against their descriptors.  Member names and paths named by
``manifest.json`` that are absolute or contain ``..`` make the whole archive
invalid (:class:`ArchiveError`); symlinks inside the archive (Docker writes them
for repeated layers) are followed only while they stay inside it.

:func:`save` writes byte-identical output for the same images and tags: entries
sorted by name, mtime 0, owner 0:0.

:func:`import_rootfs` turns a root-filesystem tarball into a one-layer image;
:func:`apply_changes` is the pure ``docker import --change`` interpreter.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import os
import posixpath
import re
import sys
import tarfile
import typing as t
import uuid

from ..core import events, fs, oci
from ..core.digest import Digest, HashingReader, chain_ids, sha256_bytes, verify, verify_bytes
from ..core.timefmt import format_rfc3339
from ..errors import ArchiveError, InvalidOption, InvalidReference, StoreError
from .images import ImageStore, LayerRef
from ..core.reference import ImageReference, familiar, host_platform
from .unpack import normalize_name, open_decompressed

SAVE_FORMATS = ("docker-archive", "oci-archive")

#: An uncompressed layer in a Docker schema 2 manifest.
DOCKER_LAYER_TAR = oci.DOCKER_LAYER_TAR

_ANN_REF_NAME = "org.opencontainers.image.ref.name"
_ANN_IMAGE_NAME = "io.containerd.image.name"
_OCI_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'

_MAX_JSON = 32 << 20  # manifest.json, index.json, manifests and configs are read into memory
_MAX_NESTING = 4  # index -> index -> ... -> manifest
_MAX_LINKS = 16  # symlink hops inside an archive
_COPY = 1 << 20

_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"BZh", "bzip2"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
_CONFIG_NAME = re.compile(r"^(?:blobs/sha256/)?([0-9a-f]{64})(?:\.json)?$")
_BLOB_NAME = re.compile(r"^blobs/sha256/([0-9a-f]{64})$")
_BARE_TAG = re.compile(r"^[\w][\w.-]{0,127}$")


@dataclasses.dataclass(frozen=True)
class LoadResult:
    image_id: str
    tags: tuple[str, ...]  # full references, e.g. "docker.io/library/busybox:latest"
    changed: bool  # the store gained an image or a tag moved


# =============================================================================== streams


def _read_upto(raw: t.Any, n: int) -> bytes:
    chunks = []
    got = 0
    while got < n:
        chunk = raw.read(n - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _sniff(head: bytes) -> str:
    """``gzip``, ``xz``, ``bzip2``, ``zstd`` or ``none`` from the first bytes."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return "none"


class _Prefixed:
    """The bytes already peeked at, then the rest of *raw*."""

    def __init__(self, head: bytes, raw: t.Any) -> None:
        self._head = head
        self._raw = raw

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n is None or n < 0:
                data, self._head = self._head + self._raw.read(), b""
                return data
            data, self._head = self._head[:n], self._head[n:]
            return data
        return t.cast(bytes, self._raw.read(n))

    def readable(self) -> bool:
        return True


class _Tee:
    """Read from *raw*; copy every byte into *sink* (``write(bytes)``) and count."""

    def __init__(self, raw: t.Any, sink: t.Any) -> None:
        self._raw = raw
        self._sink = sink
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if data:
            self.count += len(data)
            self._sink.write(data)
        return t.cast(bytes, data)

    def readable(self) -> bool:
        return True

    def drain(self) -> None:
        while self.read(_COPY):
            pass


def _decompressed(raw: t.Any, kind: str) -> t.Any:
    """A reader of the plain bytes inside *raw* compressed with *kind* (see :func:`_sniff`)."""
    if kind == "gzip":
        return open_decompressed(raw, oci.OCI_LAYER_GZIP)
    if kind == "zstd":
        return open_decompressed(raw, oci.OCI_LAYER_ZSTD)
    if kind == "xz":
        import lzma

        return lzma.LZMAFile(raw, "rb")
    if kind == "bzip2":
        import bz2

        return bz2.BZ2File(raw, "rb")
    return raw


def _is_corrupt(exc: BaseException) -> bool:
    """Errors that mean unreadable compressed data (not an I/O failure of ours)."""
    import lzma
    import zlib

    if isinstance(exc, (lzma.LZMAError, zlib.error, EOFError)):
        return True
    # bz2 and gzip report bad data as an OSError without errno.
    return isinstance(exc, OSError) and exc.errno is None


# =============================================================================== archive sources


def _member_name(label: str, name: str, what: str = "member") -> str:
    """A relative archive path without ``.`` parts; absolute names and ``..`` are refused."""
    if not isinstance(name, str) or "\0" in name:
        raise ArchiveError(label, f"{what} name {name!r} is invalid")
    if name.startswith("/"):
        raise ArchiveError(label, f"{what} {name!r} is an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(label, f"{what} {name!r} contains '..'")
    return "/".join(parts)


class _Source:
    """Read-only access to the files of an archive by their relative names."""

    label: str

    def has(self, name: str) -> bool:
        raise NotImplementedError

    def size(self, name: str) -> int:
        raise NotImplementedError

    def open(self, name: str) -> t.Any:
        raise NotImplementedError

    def read(self, name: str, what: str, limit: int = _MAX_JSON) -> bytes:
        if self.size(name) > limit:
            raise ArchiveError(self.label, f"{what} {name!r} is larger than {limit} bytes")
        with contextlib.closing(self.open(name)) as fh:
            data = fh.read(limit + 1)
        if len(data) > limit:
            raise ArchiveError(self.label, f"{what} {name!r} is larger than {limit} bytes")
        return t.cast(bytes, data)

    def head(self, name: str, n: int = 8) -> bytes:
        with contextlib.closing(self.open(name)) as fh:
            return _read_upto(fh, n)


class _TarSource(_Source):
    """Members of an uncompressed tar file, reached by seeking (tarfile random access)."""

    def __init__(self, label: str, fileobj: t.BinaryIO) -> None:
        self.label = label
        try:
            self._tf = tarfile.open(fileobj=fileobj, mode="r:")
            members = self._tf.getmembers()
        except tarfile.TarError as exc:
            raise ArchiveError(label, f"not a tar archive ({exc})") from None
        self._members: dict[str, tarfile.TarInfo] = {}
        for m in members:
            name = _member_name(label, m.name)
            if name:
                self._members[name] = m

    def _resolve(self, name: str) -> tarfile.TarInfo | None:
        m = self._members.get(name)
        hops = 0
        while m is not None and (m.issym() or m.islnk()):
            hops += 1
            if hops > _MAX_LINKS:
                raise ArchiveError(self.label, f"too many levels of links at {name!r}")
            if m.issym():
                if m.linkname.startswith("/"):
                    raise ArchiveError(self.label, f"symlink {m.name!r} points to an absolute path")
                target = normalize_name(posixpath.join(posixpath.dirname(name), m.linkname))
            else:
                target = normalize_name(m.linkname)
            if target is None:
                raise ArchiveError(self.label, f"link {m.name!r} -> {m.linkname!r} leaves the archive")
            name = target
            m = self._members.get(name)
        return m

    def has(self, name: str) -> bool:
        m = self._resolve(name)
        return m is not None and m.isreg()

    def _regular(self, name: str) -> tarfile.TarInfo:
        m = self._resolve(name)
        if m is None:
            raise ArchiveError(self.label, f"{name!r} is missing")
        if not m.isreg():
            raise ArchiveError(self.label, f"{name!r} is not a regular file")
        return m

    def size(self, name: str) -> int:
        return self._regular(name).size

    def open(self, name: str) -> t.Any:
        fh = self._tf.extractfile(self._regular(name))
        if fh is None:
            raise AssertionError('fh is not None')
        return fh


class _DirSource(_Source):
    """Files of an extracted archive (an OCI layout directory); nothing outside it is read."""

    def __init__(self, root: str) -> None:
        self.label = root
        self._root = os.path.realpath(root)

    def _path(self, name: str) -> str:
        rel = _member_name(self.label, name, "path")
        real = os.path.realpath(os.path.join(self._root, rel))
        if not real.startswith(self._root + os.sep):
            raise ArchiveError(self.label, f"{name!r} resolves outside the directory")
        return real

    def has(self, name: str) -> bool:
        return os.path.isfile(self._path(name))

    def size(self, name: str) -> int:
        path = self._path(name)
        if not os.path.isfile(path):
            raise ArchiveError(self.label, f"{name!r} is missing or not a regular file")
        return os.stat(path).st_size

    def open(self, name: str) -> t.Any:
        path = self._path(name)
        try:
            return open(path, "rb")
        except OSError as exc:
            raise ArchiveError(self.label, f"cannot read {name!r}: {exc.strerror}") from None


@contextlib.contextmanager
def _open_source(path: str, tmp_dir: str) -> t.Iterator[_Source]:
    if os.path.isdir(path):
        yield _DirSource(path)
        return
    try:
        fh = os.fdopen(os.dup(0), "rb") if path == "-" else open(path, "rb")
    except OSError as exc:
        raise ArchiveError(path, exc.strerror or str(exc)) from None
    with fh:
        head = _read_upto(fh, 8)
        if not head:
            raise ArchiveError(path, "the file is empty")
        kind = _sniff(head)
        if kind == "none" and fh.seekable():
            fh.seek(0)
            yield _TarSource(path, fh)
            return
        # Compressed or a pipe: spool the plain tar into the store's tmp/ for random access.
        tmp = os.path.join(tmp_dir, f"archive-{uuid.uuid4().hex}.tar")
        try:
            with open(tmp, "xb") as out:
                plain = _decompressed(_Prefixed(head, fh), kind)
                try:
                    while True:
                        chunk = plain.read(_COPY)
                        if not chunk:
                            break
                        out.write(chunk)
                except StoreError as exc:
                    raise ArchiveError(path, f"cannot decompress ({kind}): {exc}") from None
                except Exception as exc:
                    if _is_corrupt(exc):
                        raise ArchiveError(path, f"cannot decompress ({kind}): {exc}") from None
                    raise
            with open(tmp, "rb") as spooled:
                yield _TarSource(path, spooled)
        finally:
            fs.remove_quietly(tmp)


# =============================================================================== load: plans


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


def _json(src: _Source, name: str, what: str) -> t.Any:
    raw = src.read(name, what)
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ArchiveError(src.label, f"{what} {name!r} is not valid JSON ({exc})") from None


def _parse_config(src: _Source, raw: bytes, what: str) -> list[str]:
    try:
        cfg = oci.parse_config(raw, what=what)
    except oci.FormatError as exc:
        raise ArchiveError(src.label, str(exc)) from None
    return list(cfg["rootfs"]["diff_ids"])


def _tag_of(src: _Source, value: t.Any, what: str) -> str | None:
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


def _docker_plans(src: _Source) -> list[_Plan]:
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
        config_name = _member_name(src.label, entry["Config"], "Config")
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
            name = _member_name(src.label, name, "layer")
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


def _blob_name(desc: oci.Descriptor) -> str:
    algo, hexpart = desc.digest.split(":", 1)
    return f"blobs/{algo}/{hexpart}"


def _read_blob(src: _Source, desc: oci.Descriptor, what: str) -> bytes:
    name = _blob_name(desc)
    if not src.has(name):
        raise ArchiveError(src.label, f"{what} {desc.digest} is missing")
    if desc.size > _MAX_JSON:
        raise ArchiveError(src.label, f"{what} {desc.digest} is larger than {_MAX_JSON} bytes")
    data = src.read(name, what)
    verify_bytes(what, desc.digest, data)
    if len(data) != desc.size:
        raise ArchiveError(src.label, f"{what} {desc.digest} has {len(data)} bytes, its descriptor says {desc.size}")
    return data


def _oci_tags(src: _Source, annotations: t.Mapping[str, str] | None) -> list[str]:
    """Tags from an index entry: ``io.containerd.image.name``, else a ref.name that is a full reference.

    A bare ref.name (``latest``) names no repository, so such an image is loaded untagged.
    """
    ann = annotations or {}
    name = ann.get(_ANN_IMAGE_NAME)
    if name:
        tag = _tag_of(src, name, _ANN_IMAGE_NAME)
        return [tag] if tag else []
    ref_name = ann.get(_ANN_REF_NAME)
    if ref_name and not _BARE_TAG.match(ref_name):
        tag = _tag_of(src, ref_name, _ANN_REF_NAME)
        return [tag] if tag else []
    return []


def _oci_plans(src: _Source) -> list[_Plan]:
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
    for top in entries:
        tags = _oci_tags(src, top.annotations)
        desc = top
        for _depth in range(_MAX_NESTING + 1):
            raw = _read_blob(src, desc, "manifest")
            try:
                parsed = oci.parse_manifest(raw, desc.media_type, what=f"manifest {desc.digest}")
                if isinstance(parsed, oci.ImageIndex):
                    desc = oci.select_platform(parsed, host, what=f"index {desc.digest}")
                    continue
            except oci.FormatError as exc:
                raise ArchiveError(src.label, str(exc)) from None
            break
        else:
            raise ArchiveError(src.label, f"image indexes nested more than {_MAX_NESTING} deep")
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
            if not src.has(_blob_name(ld)):
                raise ArchiveError(src.label, f"layer {ld.digest} is missing")
            layers.append(_LayerSrc(_blob_name(ld), ld.digest, ld.media_type, ld.size))
        image_id = parsed.config.digest
        plan = plans.get(image_id)
        if plan is None:
            mt = oci.detect_media_type(raw, desc.media_type)
            plans[image_id] = _Plan(image_id, config, diff_ids, layers, raw, mt, tags)
        else:
            plan.tags.extend(x for x in tags if x not in plan.tags)
    return list(plans.values())


def _is_attestation(desc: oci.Descriptor) -> bool:
    plat = desc.platform or {}
    kind = (desc.annotations or {}).get("vnd.docker.reference.type")
    return plat.get("os") == "unknown" or kind == "attestation-manifest"


def _plans(src: _Source) -> list[_Plan]:
    if src.has("manifest.json"):
        return _docker_plans(src)
    if src.has("index.json"):
        return _oci_plans(src)
    if src.has("repositories"):
        raise ArchiveError(src.label, "legacy docker-archive without manifest.json (Docker < 1.10) is not supported")
    raise ArchiveError(
        src.label, "neither a docker-archive (manifest.json) nor an OCI image layout (oci-layout, index.json)"
    )


# =============================================================================== load: content


_TO_DOCKER = {
    oci.OCI_LAYER: DOCKER_LAYER_TAR,
    oci.OCI_LAYER_GZIP: oci.DOCKER_LAYER,
    oci.OCI_LAYER_ND_GZIP: oci.DOCKER_FOREIGN_LAYER,
}
_TO_OCI = {
    DOCKER_LAYER_TAR: oci.OCI_LAYER,
    oci.DOCKER_LAYER: oci.OCI_LAYER_GZIP,
    oci.DOCKER_FOREIGN_LAYER: oci.OCI_LAYER_ND_GZIP,
}


def _docker_manifest(config: bytes, layers: t.Sequence[LayerRef]) -> bytes:
    """A Docker schema 2 manifest over the stored blobs (for images that came without one)."""
    doc = {
        "schemaVersion": 2,
        "mediaType": oci.DOCKER_MANIFEST,
        "config": {"mediaType": oci.DOCKER_CONFIG, "size": len(config), "digest": str(sha256_bytes(config))},
        "layers": [{"mediaType": x.media_type, "size": x.size, "digest": x.blob} for x in layers],
    }
    return json.dumps(doc, indent=3).encode()


class _Loader:
    def __init__(self, store: ImageStore, src: _Source, on_event: events.Callback) -> None:
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
                manifest, mt = _docker_manifest(plan.config, refs), oci.DOCKER_MANIFEST
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
            kind = _sniff(self.src.head(x.name))
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
                return LayerRef(diff_id, known.blob, _TO_DOCKER.get(known.media_type, known.media_type), known.size)
            return self._blob_only(x, diff_id, kind, media_type, blob, short, size)
        with contextlib.closing(self.src.open(x.name)) as fh:
            stream = fh if kind not in ("xz", "bzip2", "zstd") else _decompressed(fh, kind)

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
                if _is_corrupt(exc):
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
                stream = fh if kind not in ("xz", "bzip2", "zstd") else _decompressed(fh, kind)
                tee = _Tee(stream, writer)
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
    ``docker load`` reports it: ``Loaded image ID: sha256:...``.
    """
    with _open_source(path, store.layout.tmp_dir) as src:
        plans = _plans(src)
        if not plans:
            raise ArchiveError(src.label, "the archive contains no image")
        loader = _Loader(store, src, on_event)
        return [loader.image(p) for p in plans]


def inspect(path: str, tmp_dir: str) -> list[tuple[str, list[str]]]:
    """(image ID, full tags) of every image in an archive, without touching any store.

    A compressed archive or a pipe is spooled into *tmp_dir* (and removed).
    """
    with _open_source(path, tmp_dir) as src:
        return [(p.image_id, list(p.tags)) for p in _plans(src)]


# =============================================================================== save


_MTIME = 0
_RECORD = tarfile.RECORDSIZE


class _TarWriter:
    """Deterministic tar output (GNU format, mtime 0, root-owned) onto a seekable file.

    A stream of unknown length gets a placeholder header that is rewritten once
    its size is known (names stay under 100 characters, so a header is one block).
    """

    def __init__(self, fh: t.BinaryIO) -> None:
        self._fh = fh

    @staticmethod
    def _header(name: str, kind: bytes, size: int = 0, mode: int = 0o644) -> bytes:
        ti = tarfile.TarInfo(name)
        ti.type = kind
        ti.size = size
        ti.mode = mode
        ti.mtime = _MTIME
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        buf = ti.tobuf(tarfile.GNU_FORMAT, "utf-8", "strict")
        if len(buf) != tarfile.BLOCKSIZE:
            raise AssertionError(name)
        return buf

    def _pad(self, size: int) -> None:
        rest = size % tarfile.BLOCKSIZE
        if rest:
            self._fh.write(b"\0" * (tarfile.BLOCKSIZE - rest))

    def add_dir(self, name: str) -> None:
        self._fh.write(self._header(name.rstrip("/") + "/", tarfile.DIRTYPE, mode=0o755))

    def add_bytes(self, name: str, data: bytes) -> None:
        self._fh.write(self._header(name, tarfile.REGTYPE, len(data)))
        self._fh.write(data)
        self._pad(len(data))

    def add_stream(self, name: str, reader: t.Any, size: int | None) -> int:
        """Copy *reader* to the end as member *name*; *size* None: whatever it yields."""
        fh = self._fh
        start = fh.tell()
        fh.write(self._header(name, tarfile.REGTYPE, size or 0))
        count = 0
        while True:
            chunk = reader.read(_COPY)
            if not chunk:
                break
            count += len(chunk)
            fh.write(chunk)
        if size is not None and count != size:
            raise StoreError(f"{name}: got {count} bytes from the store, expected {size}")
        self._pad(count)
        if size is None:
            end = fh.tell()
            fh.seek(start)
            fh.write(self._header(name, tarfile.REGTYPE, count))
            fh.seek(end)
        return count

    def close(self) -> None:
        """Two zero blocks, then zero padding to a full record (as tar does)."""
        fh = self._fh
        fh.write(b"\0" * (2 * tarfile.BLOCKSIZE))
        rest = fh.tell() % _RECORD
        if rest:
            fh.write(b"\0" * (_RECORD - rest))


# An entry to write: (name, kind "dir"/"bytes"/"layer"/"blob", payload)
_Entry = t.Tuple[str, str, t.Any]


def _merge_items(items: t.Sequence[tuple[str, t.Sequence[str]]]) -> list[tuple[str, list[str]]]:
    """One entry per image, in the order given; tags normalised (``busybox`` -> ``docker.io/library/busybox:latest``).
    """
    merged: dict[str, list[str]] = {}
    for image_id, tags in items:
        have = merged.setdefault(image_id, [])
        for tag in tags:
            ref = ImageReference.parse(tag, field="tags")
            if ref.digest or not ref.tagged:
                raise InvalidReference(tag, "an archive records tags, not digests", "tags")
            if ref.tagged not in have:
                have.append(ref.tagged)
    return list(merged.items())


def _image_parts(store: ImageStore, image_id: str) -> tuple[t.Any, bytes]:
    rec = store.get(image_id)
    config = store.config_bytes(image_id)
    verify_bytes(f"image config {image_id}", image_id, config)
    for x in rec.layers:
        if not x.blob or not store.blobs.has(x.blob):
            raise StoreError(
                f"image {image_id}: the blob of layer {x.diff_id} is not in the store; pull the image again to save it"
            )
    return rec, config


def _v1_id(chain_id: str, parent: str) -> str:
    """A legacy layer ID from the chain (Docker's v1.CreateID with a fixed creation time)."""
    doc: dict[str, t.Any] = {"container_config": {}, "created": "1970-01-01T00:00:00Z", "layer_id": chain_id}
    if parent:
        doc["parent"] = "sha256:" + parent
    return sha256_bytes(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hex


def _docker_entries(store: ImageStore, items: list[tuple[str, list[str]]]) -> list[_Entry]:
    entries: dict[str, _Entry] = {}
    manifest = []
    repositories: dict[str, dict[str, str]] = {}
    for image_id, tags in items:
        rec, config = _image_parts(store, image_id)
        chains = chain_ids([x.diff_id for x in rec.layers])
        parent = ""
        paths = []
        for x, chain in zip(rec.layers, chains):
            v1 = _v1_id(chain, parent)
            if v1 + "/" not in entries:
                meta: dict[str, t.Any] = {"container_config": {}, "created": "1970-01-01T00:00:00Z", "id": v1}
                if parent:
                    meta["parent"] = parent
                entries[v1 + "/"] = (v1 + "/", "dir", None)
                entries[v1 + "/VERSION"] = (v1 + "/VERSION", "bytes", b"1.0")
                entries[v1 + "/json"] = (v1 + "/json", "bytes", json.dumps(meta, sort_keys=True).encode())
                entries[v1 + "/layer.tar"] = (v1 + "/layer.tar", "layer", x)
            paths.append(v1 + "/layer.tar")
            parent = v1
        config_name = Digest(image_id).hex + ".json"
        entries[config_name] = (config_name, "bytes", config)
        manifest.append({"Config": config_name, "RepoTags": [familiar(x) for x in tags] or None, "Layers": paths})
        for tag in tags:
            ref = ImageReference.parse(tag)
            if ref.tag and parent:
                repositories.setdefault(ref.familiar_repository, {})[ref.tag] = parent
    entries["manifest.json"] = ("manifest.json", "bytes", json.dumps(manifest, separators=(",", ":")).encode())
    if repositories:
        repos = json.dumps(repositories, sort_keys=True, separators=(",", ":")).encode()
        entries["repositories"] = ("repositories", "bytes", repos)
    return [entries[k] for k in sorted(entries)]


def _oci_manifest(store: ImageStore, rec: t.Any, config: bytes) -> tuple[bytes, list[oci.Descriptor]]:
    """The image's OCI manifest (as stored, or made over the stored blobs) and its layer descriptors."""
    if rec.manifest_digest and rec.manifest_media_type == oci.OCI_MANIFEST and store.blobs.has(rec.manifest_digest):
        raw = store.blobs.read(rec.manifest_digest)
        verify_bytes(f"manifest {rec.manifest_digest}", rec.manifest_digest, raw)
        parsed = oci.parse_manifest(raw, oci.OCI_MANIFEST)
        if isinstance(parsed, oci.ImageManifest) and parsed.config.digest == rec.id:
            return raw, list(parsed.layers)
    layers = []
    for x in rec.layers:
        blob = t.cast(str, x.blob)
        layers.append(oci.Descriptor(_TO_OCI.get(x.media_type, x.media_type), blob, store.blobs.size(blob)))
    doc = {
        "schemaVersion": 2,
        "mediaType": oci.OCI_MANIFEST,
        "config": {"mediaType": oci.OCI_CONFIG, "digest": rec.id, "size": len(config)},
        "layers": [d.to_dict() for d in layers],
    }
    return json.dumps(doc, separators=(",", ":")).encode(), layers


def _oci_entries(store: ImageStore, items: list[tuple[str, list[str]]]) -> list[_Entry]:
    entries: dict[str, _Entry] = {"blobs/": ("blobs/", "dir", None), "blobs/sha256/": ("blobs/sha256/", "dir", None)}
    index = []
    for image_id, tags in items:
        rec, config = _image_parts(store, image_id)
        manifest, layers = _oci_manifest(store, rec, config)
        mdigest = sha256_bytes(manifest)
        for digest, data in ((image_id, config), (mdigest, manifest)):
            name = "blobs/sha256/" + Digest(digest).hex
            entries[name] = (name, "bytes", data)
        for d in layers:
            if not store.blobs.has(d.digest):
                raise StoreError(
                    f"image {image_id}: blob {d.digest} is not in the store; pull the image again to save it"
                )
            name = _blob_name(d)
            entries[name] = (name, "blob", d)
        desc = {"mediaType": oci.OCI_MANIFEST, "digest": str(mdigest), "size": len(manifest)}
        for tag in tags:
            ref = ImageReference.parse(tag)
            index.append(dict(desc, annotations={_ANN_IMAGE_NAME: tag, _ANN_REF_NAME: ref.tag or "latest"}))
        if not tags:
            index.append(desc)
    doc = {"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": index}
    entries["index.json"] = ("index.json", "bytes", json.dumps(doc, separators=(",", ":")).encode())
    entries["oci-layout"] = ("oci-layout", "bytes", _OCI_LAYOUT)
    return [entries[k] for k in sorted(entries)]


def _write_layer_tar(store: ImageStore, w: _TarWriter, name: str, x: LayerRef) -> None:
    """The uncompressed layer tar, decompressed from the stored blob and checked against the diff ID."""
    if x.blob is None:
        raise AssertionError('x.blob is not None')
    with store.blobs.open(x.blob) as fh:
        if x.blob == x.diff_id:
            plain = HashingReader(fh)
            w.add_stream(name, plain, store.blobs.size(x.blob))
        else:
            plain = HashingReader(open_decompressed(fh, x.media_type))
            w.add_stream(name, plain, None)
    verify(f"layer {x.diff_id} (uncompressed, from blob {x.blob})", x.diff_id, plain.digest.hex)


def _write_blob(store: ImageStore, w: _TarWriter, name: str, d: oci.Descriptor) -> None:
    with store.blobs.open(d.digest) as fh:
        reader = HashingReader(fh)
        w.add_stream(name, reader, store.blobs.size(d.digest))
    verify(f"blob {d.digest}", d.digest, reader.digest.hex)


def save(store: ImageStore, items: list[tuple[str, list[str]]], path: str, format: str = "docker-archive") -> None:
    """Write *items* (image ID, full tag references) as a docker-archive or an oci-archive at *path*.

    docker-archive is what ``docker save`` writes (layers uncompressed, verified
    against their diff IDs while written); oci-archive is an OCI image layout in
    a tar with the stored blobs, annotated like containerd (full reference in
    ``io.containerd.image.name``, the tag in ``org.opencontainers.image.ref.name``).
    An image stored with a Docker manifest gets an equivalent OCI manifest over
    the same blobs.  The file appears atomically (temporary file beside *path*,
    then rename); the same images and tags always give the same bytes.
    """
    if format not in SAVE_FORMATS:
        raise InvalidOption("format", format, f"expected one of {', '.join(SAVE_FORMATS)}")
    if not items:
        raise InvalidOption("names", [], "name at least one image to save")
    if os.path.isdir(path):
        raise InvalidOption("path", path, "is a directory; name the archive file to write")
    merged = _merge_items(items)
    entries = _docker_entries(store, merged) if format == "docker-archive" else _oci_entries(store, merged)
    try:
        target = fs.AtomicFile(path)
    except OSError as exc:
        raise InvalidOption("path", path, f"cannot write there: {exc.strerror or exc}") from None
    with target as fh:
        w = _TarWriter(fh)
        for name, kind, payload in entries:
            if kind == "dir":
                w.add_dir(name)
            elif kind == "bytes":
                w.add_bytes(name, payload)
            elif kind == "layer":
                _write_layer_tar(store, w, name, payload)
            else:
                _write_blob(store, w, name, payload)
        w.close()


# =============================================================================== import


class _TarScanner:
    """Follows the headers of a tar stream written to it; keeps the newest member mtime.

    Understands ustar/GNU headers (octal and base-256 numbers), pax ``x``/``g``
    records (``mtime``, ``size``), GNU long names and old GNU sparse headers.
    It only watches: a damaged header sets :attr:`error` and the rest is ignored.
    """

    _DATA_LESS = frozenset(b"123456")  # link, symlink, char, block, dir, fifo: no data blocks

    def __init__(self) -> None:
        self.max_mtime: float | None = None
        self.members = 0
        self.error: str | None = None
        self.ended = False
        self._buf = bytearray()
        self._need = tarfile.BLOCKSIZE
        self._state = "header"
        self._skip = 0
        self._payload_type = b""
        self._payload_len = 0
        self._after_sparse = 0
        self._pax: dict[str, str] = {}
        self._pax_global: dict[str, str] = {}

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view and not (self.ended or self.error):
            if self._skip:
                k = min(self._skip, len(view))
                self._skip -= k
                view = view[k:]
                continue
            take = min(self._need - len(self._buf), len(view))
            self._buf += view[:take]
            view = view[take:]
            if len(self._buf) == self._need:
                block = bytes(self._buf)
                self._buf.clear()
                self._process(block)
        return len(data)

    @staticmethod
    def _padded(size: int) -> int:
        return -(-size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE

    @staticmethod
    def _number(field: bytes) -> int:
        if field and field[0] in (0x80, 0xFF):  # GNU base-256, as tarfile.nti reads it
            value = int.from_bytes(field[1:], "big")
            return value - 256 ** (len(field) - 1) if field[0] == 0xFF else value
        text = field.split(b"\0", 1)[0].strip(b" \0")
        return int(text, 8) if text else 0

    def _process(self, block: bytes) -> None:
        state = self._state
        if state == "header":
            self._header(block)
        elif state == "pax":
            records = self._pax_records(block[: self._payload_len])
            if self._payload_type == b"g":
                self._pax_global.update(records)
            else:
                self._pax.update(records)
            self._expect_header()
        elif state == "sparse":
            if block[504]:
                return  # another extension block follows
            self._expect_header()
            self._skip = self._after_sparse

    def _expect_header(self) -> None:
        self._state = "header"
        self._need = tarfile.BLOCKSIZE

    def _header(self, block: bytes) -> None:
        if block == bytes(tarfile.BLOCKSIZE):
            self.ended = True
            return
        try:
            chksum = self._number(block[148:156])
            size = self._number(block[124:136])
            mtime: float = self._number(block[136:148])
        except ValueError:
            self.error = "invalid number in a tar header"
            return
        if size < 0:
            self.error = "negative size in a tar header"
            return
        unsigned = sum(block[:148]) + 256 + sum(block[156:])
        if chksum != unsigned:
            self.error = "tar header checksum mismatch"
            return
        kind = block[156:157]
        if kind in (b"x", b"g"):
            self._payload_type = kind
            self._payload_len = size
            self._state = "pax"
            self._need = max(self._padded(size), tarfile.BLOCKSIZE) if size else tarfile.BLOCKSIZE
            if not size:
                self._expect_header()
            return
        if kind in (b"L", b"K"):  # GNU long name / link name
            self._skip = self._padded(size)
            return
        pax = {**self._pax_global, **self._pax}
        self._pax = {}
        try:
            if "mtime" in pax:
                mtime = float(pax["mtime"])
            if "size" in pax:
                size = int(pax["size"])
        except ValueError:
            self.error = "invalid pax record"
            return
        self.members += 1
        if self.max_mtime is None or mtime > self.max_mtime:
            self.max_mtime = mtime
        data = 0 if kind and kind[0] in self._DATA_LESS else self._padded(size)
        if kind == b"S" and block[482]:  # old GNU sparse: extension headers before the data
            self._state = "sparse"
            self._after_sparse = data
            return
        self._skip = data

    def _pax_records(self, payload: bytes) -> dict[str, str]:
        out = {}
        pos = 0
        while pos < len(payload):
            space = payload.find(b" ", pos)
            if space < 0:
                break
            try:
                length = int(payload[pos:space])
            except ValueError:
                break
            if length <= 0:
                break
            record = payload[space + 1: pos + length - 1]  # without the trailing newline
            key, dummy, value = record.partition(b"=")
            out[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
            pos += length
        return out


def import_rootfs(
    store: ImageStore,
    path: str,
    changes: list[str],
    message: str,
    platform: dict[str, str],
    dry_run: bool = False,
) -> str:
    """``docker import``: one layer from a root-filesystem tarball (plain, gzip, xz, bzip2, zstd).

    *path* ``-`` reads standard input.  A gzip tarball is kept as its layer blob;
    any other is stored uncompressed (blob digest == diff ID).  *changes* are
    applied by :func:`apply_changes` (validated before anything is read).

    Unlike Docker, ``created`` is not the time of the import but the newest
    member mtime in the tarball (the epoch when it has none), so importing the
    same tarball with the same changes, message and *path* gives the same image
    ID: repeating the import changes nothing.  A seekable input is read once to
    learn its digests and check that it is a tar, so a repeated import extracts
    nothing and a bad file is refused before the store is touched; a pipe is
    read once, extracting as it goes.

    With *dry_run* nothing is written: the tarball (a file, not a pipe) is
    read once and the image ID the import would produce is returned.
    """
    container_config = apply_changes({}, changes)
    plat = dict(platform or host_platform())
    if path != "-" and os.path.isdir(path):
        raise ArchiveError(path, "is a directory; import expects a root filesystem tarball")
    try:
        fh = sys.stdin.buffer if path == "-" else open(path, "rb")
    except OSError as exc:
        raise ArchiveError(path, exc.strerror or str(exc)) from None
    label = "standard input" if path == "-" else path
    try:
        if dry_run:
            if not _seekable(fh):
                raise ArchiveError(label, "cannot predict an import from a pipe")
            head = _read_upto(fh, 8)
            if not head:
                raise ArchiveError(label, "the tarball is empty")
            kind = _sniff(head)
            raw_digest, diff_id, scanner = _probe(_Prefixed(head, fh), kind, label)
            config, _refs = _import_config(
                container_config, plat, path, message, diff_id, raw_digest if kind == "gzip" else diff_id,
                oci.DOCKER_LAYER if kind == "gzip" else DOCKER_LAYER_TAR, 0, scanner.max_mtime,
            )
            return str(sha256_bytes(config))
        diff_id, blob, media_type, size, created_ts = _import_layer(store, fh, label)
    finally:
        if path != "-":
            fh.close()
    config, refs = _import_config(container_config, plat, path, message, diff_id, blob, media_type, size, created_ts)
    image_id, _created = store.commit(config, refs, _docker_manifest(config, refs), oci.DOCKER_MANIFEST)
    return image_id


def _import_config(
    container_config: dict[str, t.Any],
    plat: t.Mapping[str, str],
    path: str,
    message: str,
    diff_id: str,
    blob: str,
    media_type: str,
    size: int,
    created_ts: float | None,
) -> tuple[bytes, list[LayerRef]]:
    """The image config of an import (deterministic: its digest is the image ID)."""
    created = format_rfc3339(created_ts) if created_ts is not None else "1970-01-01T00:00:00Z"
    history: dict[str, t.Any] = {"created": created, "created_by": f"berth import {path}"}
    if message:
        history["comment"] = message
    cfg: dict[str, t.Any] = {
        "architecture": plat.get("architecture", ""),
        "os": plat.get("os", "linux"),
        "created": created,
        "config": container_config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [history],
    }
    if plat.get("variant"):
        cfg["variant"] = plat["variant"]
    config = json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()
    return config, [LayerRef(diff_id, blob, media_type, size)]


def _seekable(fh: t.Any) -> bool:
    try:
        return bool(fh.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _not_a_tar(label: str, scanner: _TarScanner) -> ArchiveError | None:
    if scanner.error:
        return ArchiveError(label, f"not a tar archive ({scanner.error})")
    if not scanner.members and not scanner.ended:
        return ArchiveError(label, "not a tar archive (no tar header found)")
    return None


def _probe(raw: t.Any, kind: str, label: str) -> tuple[str, str, _TarScanner]:
    """(raw digest, diff ID, scanner) from one read of the tarball; nothing is written."""
    scanner = _TarScanner()
    outer = HashingReader(raw)
    inner = HashingReader(_Tee(_decompressed(outer, kind), scanner))
    try:
        inner.drain()
        outer.drain()
    except StoreError as exc:
        raise ArchiveError(label, f"cannot decompress ({kind}): {exc}") from None
    except Exception as exc:
        if _is_corrupt(exc):
            raise ArchiveError(label, f"cannot decompress ({kind}): {exc}") from None
        raise
    error = _not_a_tar(label, scanner)
    if error is not None:
        raise error
    return str(outer.digest), str(inner.digest), scanner


def _import_layer(store: ImageStore, raw: t.Any, label: str) -> tuple[str, str, str, int, float | None]:
    """(diff ID, blob digest, media type, blob size, newest mtime) of the stored tarball."""
    start = raw.tell() if _seekable(raw) else None
    head = _read_upto(raw, 8)
    if not head:
        raise ArchiveError(label, "the tarball is empty")
    kind = _sniff(head)
    media_type = oci.DOCKER_LAYER if kind == "gzip" else DOCKER_LAYER_TAR
    want_blob = want_diff = None
    scanner = _TarScanner()
    if start is not None:
        raw_digest, want_diff, scanner = _probe(_Prefixed(head, raw), kind, label)
        want_blob = raw_digest if kind == "gzip" else want_diff
        if store.layers.has(want_diff) and store.blobs.has(want_blob):
            return want_diff, want_blob, media_type, store.blobs.size(want_blob), scanner.max_mtime
        raw.seek(start)
        head = _read_upto(raw, 8)
    source = _Prefixed(head, raw)
    watch = _TarScanner() if start is None else None  # a pipe: watch the headers while extracting
    sink: t.Any = watch if watch is not None else _NullSink()
    writer = store.blobs.writer(want_blob) if kind == "gzip" else None
    try:
        try:
            if writer is not None:  # keep the gzip bytes as the blob; extract what they hold
                gz = _Tee(source, writer)
                plain = _Tee(open_decompressed(gz, oci.DOCKER_LAYER), sink)
                info = store.layers.ingest(plain, DOCKER_LAYER_TAR, diff_id=want_diff, keep_blob=False)
                gz.drain()
            else:
                plain = _Tee(_decompressed(source, kind), sink)
                info = store.layers.ingest(plain, DOCKER_LAYER_TAR, blob_digest=want_diff, diff_id=want_diff)
        except StoreError as exc:
            error = _not_a_tar(label, watch) if watch is not None else None
            if error is not None:
                raise error from exc
            raise
        except Exception as exc:
            if _is_corrupt(exc):
                raise ArchiveError(label, f"cannot decompress ({kind}): {exc}") from None
            raise
        if watch is not None:
            error = _not_a_tar(label, watch)
            if error is not None:
                raise error
            scanner = watch
        if writer is not None:
            blob = writer.commit("rootfs tarball")
            return info.diff_id, str(blob), media_type, writer.size, scanner.max_mtime
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if info.blob is None:
        raise AssertionError('info.blob is not None')
    return info.diff_id, str(info.blob), media_type, info.blob_size, scanner.max_mtime


class _NullSink:
    def write(self, data: bytes) -> int:
        return len(data)


# =============================================================================== --change


CHANGE_INSTRUCTIONS = (
    "CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
)
_ENV_NAME = re.compile(r"[A-Za-z0-9_]")
_SIGNALS = frozenset(
    "ABRT ALRM BUS CHLD CLD CONT FPE HUP ILL INT IO IOT KILL PIPE POLL PROF PWR QUIT SEGV STKFLT STOP SYS "
    "TERM TRAP TSTP TTIN TTOU UNUSED URG USR1 USR2 VTALRM WINCH XCPU XFSZ".split()
)
_PROTOCOLS = ("tcp", "udp", "sctp")


class _ChangeError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _env_map(config: t.Mapping[str, t.Any]) -> dict[str, str]:
    out = {}
    for item in config.get("Env") or []:
        key, dummy, value = str(item).partition("=")
        out[key] = value
    return out


def _words(text: str, env: t.Mapping[str, str], split: bool = True) -> list[str]:
    """Dockerfile word processing: quotes, backslash escapes and ``$VAR`` / ``${VAR:-x}`` / ``${VAR:+x}``.

    *split* False processes *text* as one word (white space kept).
    """
    words: list[str] = []
    cur: list[str] = []
    started = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if split and c.isspace():
            if started:
                words.append("".join(cur))
                cur, started = [], False
            i += 1
            continue
        started = True
        if c == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise _ChangeError("unterminated single quote")
            cur.append(text[i + 1:end])
            i = end + 1
        elif c == '"':
            i += 1
            while True:
                if i >= n:
                    raise _ChangeError("unterminated double quote")
                c = text[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\" and i + 1 < n and text[i + 1] in '"\\$':
                    cur.append(text[i + 1])
                    i += 2
                elif c == "$":
                    value, i = _expand(text, i, env)
                    cur.append(value)
                else:
                    cur.append(c)
                    i += 1
        elif c == "\\":
            if i + 1 < n:
                cur.append(text[i + 1])
            i += 2
        elif c == "$":
            value, i = _expand(text, i, env)
            cur.append(value)
        else:
            cur.append(c)
            i += 1
    if started:
        words.append("".join(cur))
    return words


def _expand(text: str, i: int, env: t.Mapping[str, str]) -> tuple[str, int]:
    """Expand the variable reference at ``text[i] == '$'``; return (value, next index)."""
    n = len(text)
    if i + 1 < n and text[i + 1] == "{":
        end = text.find("}", i + 2)
        if end < 0:
            raise _ChangeError("missing '}' in variable reference")
        body = text[i + 2:end]
        for op in (":-", ":+"):
            if op in body:
                name, word = body.split(op, 1)
                value = env.get(name, "")
                if op == ":-":
                    result = value if value else "".join(_words(word, env, split=False))
                else:
                    result = "".join(_words(word, env, split=False)) if value else ""
                return result, end + 1
        if not body or not all(_ENV_NAME.match(c) for c in body):
            raise _ChangeError(f"bad variable reference ${{{body}}}")
        return env.get(body, ""), end + 1
    j = i + 1
    while j < n and _ENV_NAME.match(text[j]):
        j += 1
    if j == i + 1:
        return "$", i + 1
    return env.get(text[i + 1:j], ""), j


def _exec_or_shell(rest: str) -> list[str]:
    """JSON array form as is; anything else (or invalid JSON) becomes ``/bin/sh -c``."""
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(x, str) for x in value):
            return value
    return ["/bin/sh", "-c", rest]


def _pairs(rest: str, env: t.Mapping[str, str], instr: str) -> list[tuple[str, str]]:
    """``k=v k2="v 2"`` or the legacy one-pair form ``k v with spaces``."""
    first = rest.split(None, 1)
    if "=" not in first[0]:
        if len(first) < 2:
            raise _ChangeError(f"{instr} needs a value: {instr} key=value or {instr} key value")
        key = "".join(_words(first[0], env, split=False))
        return [(key, "".join(_words(first[1].strip(), env, split=False)))]
    out = []
    for word in _words(rest, env):
        key, eq, value = word.partition("=")
        if not eq or not key:
            raise _ChangeError(f"{instr} expects key=value pairs, got {word!r}")
        out.append((key, value))
    return out


def _ports(words: list[str]) -> list[str]:
    out = []
    for word in words:
        spec, dummy, proto = word.partition("/")
        proto = (proto or "tcp").lower()
        if proto not in _PROTOCOLS:
            raise _ChangeError(f"invalid protocol {proto!r} in {word!r} (tcp, udp or sctp)")
        lo, dash, hi = spec.partition("-")
        try:
            start, end = int(lo), int(hi) if dash else int(lo)
        except ValueError:
            raise _ChangeError(f"invalid port {word!r}") from None
        if not (0 < start <= end <= 65535):
            raise _ChangeError(f"invalid port {word!r}")
        out.extend(f"{p}/{proto}" for p in range(start, end + 1))
    return out


def _check_signal(value: str) -> None:
    if value.isdigit():
        if 0 < int(value) <= 64:
            return
        raise _ChangeError(f"invalid signal number {value}")
    name = value.upper()
    name = name[3:] if name.startswith("SIG") else name
    if name in _SIGNALS or re.match(r"^RT(MIN|MAX)([+-]\d+)?$", name):
        return
    raise _ChangeError(f"invalid signal {value!r}")


def apply_changes(config: t.Mapping[str, t.Any], changes: t.Sequence[str]) -> dict[str, t.Any]:
    """Apply ``docker import --change`` Dockerfile instructions to a container config (pure).

    Supported like Docker: CMD, ENTRYPOINT (JSON array, or shell form run by
    ``/bin/sh -c``; ENTRYPOINT clears a CMD not set by these changes), ENV
    (``k=v ...`` or legacy ``k v``), EXPOSE (``80``, ``53/udp``, ranges),
    LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR (relative paths join the
    current one).  ``$VAR`` and ``${VAR:-default}`` expand from the ENV so far
    (not in CMD, ENTRYPOINT, ONBUILD).  Blank lines and ``#`` comments are skipped.
    Returns a new dict; raises :class:`InvalidOption` (field ``changes``) naming the line.
    """
    out: dict[str, t.Any] = copy.deepcopy(dict(config))
    cmd_set = False
    for line in changes:
        if not isinstance(line, str):
            raise InvalidOption("changes", line, "each change must be a string")
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split(None, 1)
        instr = parts[0].upper()
        rest = parts[1].strip() if len(parts) > 1 else ""
        if instr not in CHANGE_INSTRUCTIONS:
            raise InvalidOption(
                "changes", line, f"{parts[0]} is not a valid change instruction (use {', '.join(CHANGE_INSTRUCTIONS)})"
            )
        if not rest:
            raise InvalidOption("changes", line, f"{instr} needs an argument")
        try:
            cmd_set = _apply_one(out, instr, rest, cmd_set)
        except _ChangeError as exc:
            raise InvalidOption("changes", line, exc.reason) from None
    return out


def _apply_one(out: dict[str, t.Any], instr: str, rest: str, cmd_set: bool) -> bool:
    """Apply one instruction to *out* in place; return whether CMD has been set."""
    env = _env_map(out)
    if instr == "CMD":
        out["Cmd"] = _exec_or_shell(rest)
        return True
    if instr == "ENTRYPOINT":
        out["Entrypoint"] = _exec_or_shell(rest)
        if not cmd_set:
            out.pop("Cmd", None)
    elif instr == "ENV":
        items = list(out.get("Env") or [])
        for key, value in _pairs(rest, env, instr):
            entry = f"{key}={value}"
            for i, old in enumerate(items):
                if old.partition("=")[0] == key:
                    items[i] = entry
                    break
            else:
                items.append(entry)
        out["Env"] = items
    elif instr == "LABEL":
        labels = dict(out.get("Labels") or {})
        labels.update(_pairs(rest, env, instr))
        out["Labels"] = labels
    elif instr == "EXPOSE":
        ports = dict(out.get("ExposedPorts") or {})
        for p in _ports(_words(rest, env)):
            ports[p] = {}
        out["ExposedPorts"] = ports
    elif instr == "VOLUME":
        if rest.startswith("["):
            try:
                raw = json.loads(rest)
            except ValueError:
                raw = None
            paths = (
                ["".join(_words(x, env, split=False)) for x in raw]
                if isinstance(raw, list) and all(isinstance(x, str) for x in raw)
                else _words(rest, env)
            )
        else:
            paths = _words(rest, env)
        if not paths or any(not p.strip() for p in paths):
            raise _ChangeError("VOLUME paths must not be empty")
        volumes = dict(out.get("Volumes") or {})
        for p in paths:
            volumes[p] = {}
        out["Volumes"] = volumes
    elif instr == "USER":
        out["User"] = "".join(_words(rest, env, split=False))
    elif instr == "WORKDIR":
        wd = "".join(_words(rest, env, split=False))
        if not wd:
            raise _ChangeError("WORKDIR needs a path")
        if not wd.startswith("/"):
            wd = posixpath.normpath(posixpath.join("/", out.get("WorkingDir") or "", wd))
        out["WorkingDir"] = wd
    elif instr == "STOPSIGNAL":
        sig = "".join(_words(rest, env, split=False))
        _check_signal(sig)
        out["StopSignal"] = sig
    elif instr == "ONBUILD":
        trigger = rest.split(None, 1)[0].upper()
        if trigger in ("ONBUILD", "FROM", "MAINTAINER"):
            raise _ChangeError(f"{trigger} is not allowed as an ONBUILD trigger")
        out["OnBuild"] = list(out.get("OnBuild") or []) + [rest]
    return cmd_set
