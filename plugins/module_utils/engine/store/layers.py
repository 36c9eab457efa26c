# SPDX-License-Identifier: GPL-3.0-or-later
"""Unpacked layers, keyed by diff ID and stored once however many images share them.

A layer is ingested from a (possibly compressed) blob stream in one pass: the
raw bytes are hashed and kept as a blob, the uncompressed stream is hashed
(diff ID) and extracted into a staging directory.  Only when both digests
verify is the staging directory renamed into ``layers/sha256/<diffid>``; a
crash before that leaves garbage in ``tmp/`` and nothing visible.
"""
from __future__ import annotations

import dataclasses
import errno
import json
import os
import time
import typing as t

from ..core import fs
from ..core.digest import Digest, HashingReader, verify
from ..core.layout import Layout
from ..core.locks import flock
from ..errors import RegistryError, StoreError
from .blobs import BlobStore, BlobWriter

Progress = t.Callable[[int], None]


@dataclasses.dataclass(frozen=True)
class LayerInfo:
    diff_id: str
    size: int  # bytes of file content, uncompressed
    blob: str | None  # digest of the stored (as distributed) blob, if kept
    media_type: str
    blob_size: int


class _Tee:
    """Read from *raw*, copy every byte into *sink*, report progress."""

    def __init__(self, raw: t.BinaryIO | t.Any, sink: t.Any, progress: Progress | None, limit: int | None,
                 start: int = 0) -> None:
        """*start*: bytes of the blob before *raw* (a resumed download); counted, not copied."""
        self._raw = raw
        self._sink = sink
        self._progress = progress
        self._limit = limit
        self.count = start
        self._last = 0.0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if data:
            self.count += len(data)
            if self._limit is not None and self.count > self._limit:
                raise StoreError(f"blob is larger than its declared size {self._limit}")
            self._sink.write(data)
            if self._progress is not None:
                now = time.monotonic()
                if now - self._last >= 0.05:
                    self._last = now
                    self._progress(self.count)
        return data

    def drain(self, bufsize: int = 1 << 20) -> None:
        while self.read(bufsize):
            pass


class _Head:
    """The first *size* bytes of a partial download, read again to hash and unpack them."""

    def __init__(self, fh: t.BinaryIO, size: int) -> None:
        self._fh = fh
        self.size = size
        self._left = size

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        data = self._fh.read(self._left if n < 0 else min(n, self._left))
        if not data:
            raise StoreError(f"the partial download {self._fh.name} shrank while it was read")
        self._left -= len(data)
        return data


class _Chain:
    """*head*, then *tail*: the bytes a resumed download has, then the rest."""

    def __init__(self, head: _Head, tail: _Tee) -> None:
        self._parts = [head, tail]

    def read(self, n: int = -1) -> bytes:
        while self._parts:
            data = self._parts[0].read(n)
            if data:
                return data
            self._parts.pop(0)
        return b""


def _resumable(exc: BaseException) -> bool:
    """A download that failed so is worth going on with later (a network failure, an interrupt), unlike
    one whose content was wrong."""
    return isinstance(exc, (RegistryError, ConnectionError, TimeoutError, KeyboardInterrupt, SystemExit))


class LayerStore:
    def __init__(self, layout: Layout, blobs: BlobStore, lock_timeout: float | None = 600.0) -> None:
        self.layout = layout
        self.blobs = blobs
        self.lock_timeout = lock_timeout

    def has(self, diff_id: str) -> bool:
        return os.path.exists(self.layout.layer_meta(diff_id))

    def info(self, diff_id: str) -> dict[str, t.Any]:
        data = fs.read_json(self.layout.layer_meta(diff_id))
        if data is None:
            raise StoreError(f"layer {diff_id} is missing from the store {self.layout.root}")
        return t.cast("dict[str, t.Any]", data)

    def size(self, diff_id: str) -> int:
        try:
            return int(self.info(diff_id).get("size", 0))
        except StoreError:
            return 0

    def diff_dir(self, diff_id: str) -> str:
        return self.layout.layer_diff(diff_id)

    def all(self) -> list[Digest]:
        try:
            return [Digest("sha256:" + n) for n in os.listdir(self.layout.layers_dir) if len(n) == 64]
        except FileNotFoundError:
            return []

    def ingest(
        self,
        raw: t.BinaryIO | t.Any,
        media_type: str = "",
        blob_digest: str | None = None,
        diff_id: str | None = None,
        blob_size: int | None = None,
        keep_blob: bool = True,
        progress: Progress | None = None,
    ) -> LayerInfo:
        """Verify and unpack one layer blob; return what was stored.

        *blob_digest* / *diff_id*, when given, must match or nothing becomes
        visible.  Concurrent ingests of the same layer are serialised by a
        per-layer lock and the second one finds it done.
        """
        label = blob_digest or diff_id or "layer"
        lock_key = diff_id or blob_digest
        if lock_key:
            with flock(self.layout.object_lock("layer", lock_key), timeout=self.lock_timeout):
                if diff_id and self.has(diff_id) and (not keep_blob or not blob_digest or self.blobs.has(blob_digest)):
                    return self._existing(diff_id, media_type, blob_digest)
                return self._ingest(raw, media_type, blob_digest, diff_id, blob_size, keep_blob, progress, label)
        return self._ingest(raw, media_type, blob_digest, diff_id, blob_size, keep_blob, progress, label)

    def fetch(
        self,
        opener: t.Callable[[int], t.Any],
        media_type: str,
        blob_digest: str,
        diff_id: str,
        blob_size: int,
        progress: Progress | None = None,
    ) -> LayerInfo:
        """:meth:`ingest` a download: ``opener(offset)`` returns a stream of the blob from *offset* on.

        The blob is written to ``Layout.partial_blob`` (under the layer's lock), which a download cut short
        by a SIGKILL, a crash or a network failure leaves behind: the next fetch hashes and unpacks that
        part again and asks *opener* only for the rest (HTTP ``Range``). The whole digest is verified at
        the end, as always; a mismatch deletes the partial blob.
        """
        with flock(self.layout.object_lock("layer", diff_id), timeout=self.lock_timeout):
            if self.has(diff_id) and self.blobs.has(blob_digest):
                return self._existing(diff_id, media_type, blob_digest)
            partial = self.layout.partial_blob(blob_digest)
            writer = self.blobs.writer(blob_digest, partial=partial)
            if writer.size > blob_size:  # not a prefix of this blob: start again
                writer.abort()
                writer = self.blobs.writer(blob_digest, partial=partial)
            resumed = writer.size > 0
            try:
                return self._fetch(opener, writer, partial, media_type, blob_digest, diff_id, blob_size, progress)
            except StoreError:  # a digest or the data was wrong: the partial download is deleted
                if not resumed:
                    raise
                # What the partial download held may have been the wrong part: once more, from the start.
                writer = self.blobs.writer(blob_digest, partial=partial)
                return self._fetch(opener, writer, partial, media_type, blob_digest, diff_id, blob_size, progress)

    def _fetch(self, opener: t.Callable[[int], t.Any], writer: BlobWriter, partial: str, media_type: str,
               blob_digest: str, diff_id: str, blob_size: int, progress: Progress | None) -> LayerInfo:
        done = writer.size
        try:
            stream = opener(done)
        except BaseException:
            writer.keep()
            raise
        try:
            with open(partial, "rb") as head:
                return self._ingest(stream, media_type, blob_digest, diff_id, blob_size, True, progress,
                                    blob_digest, writer=writer, head=_Head(head, done))
        finally:
            stream.close()

    def _existing(self, diff_id: str, media_type: str, blob_digest: str | None) -> LayerInfo:
        info = self.info(diff_id)
        blob = blob_digest if blob_digest and self.blobs.has(blob_digest) else None
        return LayerInfo(diff_id, int(info.get("size", 0)), blob, media_type, self.blobs.size(blob) if blob else 0)

    def _ingest(
        self,
        raw: t.Any,
        media_type: str,
        blob_digest: str | None,
        diff_id: str | None,
        blob_size: int | None,
        keep_blob: bool,
        progress: Progress | None,
        label: str,
        writer: BlobWriter | None = None,
        head: _Head | None = None,
    ) -> LayerInfo:
        """*writer* and *head*: a resumed download (:meth:`fetch`): *head* reads the bytes *writer* has
        already, *raw* the rest."""
        from .decompress import open_decompressed
        from .unpack import extract_layer  # tarfile & co.: only when a layer comes in

        stage = fs.staging_path(self.layout.tmp_dir, "layer")
        diff = os.path.join(stage, "diff")
        os.makedirs(diff, mode=0o755)
        if writer is None and keep_blob:
            writer = self.blobs.writer(blob_digest)
        done = head.size if head is not None else 0
        try:
            tee = _Tee(raw, writer if writer is not None else _Null(), progress, blob_size, done)
            plain = HashingReader(open_decompressed(_Chain(head, tee) if head is not None else tee, media_type))
            size = extract_layer(plain, diff, label)
            plain.drain()
            tee.drain()
            if blob_size is not None and tee.count != blob_size:
                raise StoreError(f"layer {label}: got {tee.count} bytes, expected {blob_size}")
            got_diff = plain.digest
            if diff_id:
                verify(f"layer {label} (uncompressed)", diff_id, got_diff.hex)
            stored_blob = None
            if writer is not None:
                stored_blob = writer.commit(f"layer {label}")
            elif blob_digest:
                pass
            if progress is not None:
                progress(tee.count)
            meta = {
                "diff_id": str(got_diff),
                "size": size,
                "disk_size": fs.dir_size(diff),  # what :meth:`damage` finds again while nothing changed
                "created": time.time(),
            }
            with open(os.path.join(stage, "layer.json"), "w") as fh:
                json.dump(meta, fh)
            dest = self.layout.layer_dir(got_diff)
            if os.path.exists(os.path.join(dest, "layer.json")):
                fs.rmtree(stage)  # someone else (or an earlier run) finished it
                size = int(self.info(got_diff).get("size", size))
            else:
                fs.rmtree(dest)  # a half-removed leftover without layer.json
                try:
                    os.rename(stage, dest)
                except OSError as exc:
                    # A concurrent ingest of the same content (no diff ID known, so no
                    # per-layer lock) won the race: its copy is as good as ours.
                    if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not self.has(str(got_diff)):
                        raise
                    fs.rmtree(stage)
            return LayerInfo(str(got_diff), size, stored_blob, media_type, tee.count)
        except BaseException as exc:
            if writer is not None:
                if head is not None and _resumable(exc):
                    writer.keep()  # the next pull goes on from here
                else:
                    writer.abort()
            fs.rmtree(stage)
            raise

    def damage(self, diff_id: str) -> str | None:
        """What is wrong with the unpacked layer *diff_id* (its record, its directory, the size of its
        files against what was unpacked), or None."""
        try:
            info = self.info(diff_id)
        except (StoreError, ValueError):
            return "its record layer.json is missing or unreadable"
        if not isinstance(info, dict) or info.get("diff_id") != str(diff_id):
            return "its record layer.json names another layer"
        diff = self.layout.layer_diff(diff_id)
        if not os.path.isdir(diff):
            return "its directory diff/ is missing"
        expected = info.get("disk_size")
        if isinstance(expected, int):
            actual = fs.dir_size(diff)
            if actual != expected:
                return f"its files hold {actual} bytes, {expected} when it was unpacked"
        return None

    def remove(self, diff_id: str) -> int:
        """Delete a layer (caller holds the gc lock and knows it is unused); return its size."""
        size = self.size(diff_id)
        d = self.layout.layer_dir(diff_id)
        if os.path.isdir(self.layout.remap_root):
            from .remap import remove_layer

            remove_layer(self.layout, diff_id)  # its copies shifted into user namespace mappings
        if not os.path.exists(d):
            return 0
        fs.discard(d, self.layout.tmp_dir)  # invisible first, then deleted
        return size


class _Null:
    def write(self, data: bytes) -> int:
        return len(data)
