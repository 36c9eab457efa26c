# SPDX-License-Identifier: GPL-3.0-or-later
"""``docker save``: docker-archive and OCI archives, byte-identical for the same images and tags."""
from __future__ import annotations

import json
import os
import tarfile
import typing as t

from ...core import fs, oci
from ...core.digest import Digest, HashingReader, chain_ids, sha256_bytes, verify, verify_bytes
from ...errors import InvalidOption, InvalidReference, StoreError
from ..images import ImageStore, LayerRef
from ...core.reference import ImageReference, familiar
from ..decompress import open_decompressed
from .load import ANN_IMAGE_NAME, ANN_REF_NAME, TO_OCI, blob_name
from .streams import COPY

SAVE_FORMATS = ("docker-archive", "oci-archive")


_OCI_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'


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
            chunk = reader.read(COPY)
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


def oci_manifest(store: ImageStore, rec: t.Any, config: bytes) -> tuple[bytes, list[oci.Descriptor]]:
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
        layers.append(oci.Descriptor(TO_OCI.get(x.media_type, x.media_type), blob, store.blobs.size(blob)))
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
        manifest, layers = oci_manifest(store, rec, config)
        mdigest = sha256_bytes(manifest)
        for digest, data in ((image_id, config), (mdigest, manifest)):
            name = "blobs/sha256/" + Digest(digest).hex
            entries[name] = (name, "bytes", data)
        for d in layers:
            if not store.blobs.has(d.digest):
                raise StoreError(
                    f"image {image_id}: blob {d.digest} is not in the store; pull the image again to save it"
                )
            name = blob_name(d)
            entries[name] = (name, "blob", d)
        desc = {"mediaType": oci.OCI_MANIFEST, "digest": str(mdigest), "size": len(manifest)}
        for tag in tags:
            ref = ImageReference.parse(tag)
            index.append(dict(desc, annotations={ANN_IMAGE_NAME: tag, ANN_REF_NAME: ref.tag or "latest"}))
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
