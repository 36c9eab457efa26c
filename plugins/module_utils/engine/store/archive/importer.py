# SPDX-License-Identifier: GPL-3.0-or-later
"""``docker import``: a root file system tarball as a one-layer image."""
from __future__ import annotations

import json
import os
import sys
import tarfile
import typing as t

from ...core import oci
from ...core.digest import HashingReader, sha256_bytes
from ...core.timefmt import format_rfc3339
from ...errors import ArchiveError, StoreError
from ..images import ImageStore, LayerRef
from ...core.reference import host_platform
from ..decompress import open_decompressed
from ...core.instructions import apply_changes
from .load import DOCKER_LAYER_TAR, docker_manifest
from .streams import Prefixed, Tee, decompressed, is_corrupt, read_upto, sniff


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
            head = read_upto(fh, 8)
            if not head:
                raise ArchiveError(label, "the tarball is empty")
            kind = sniff(head)
            raw_digest, diff_id, scanner = _probe(Prefixed(head, fh), kind, label)
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
    image_id, _created = store.commit(config, refs, docker_manifest(config, refs), oci.DOCKER_MANIFEST)
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
    inner = HashingReader(Tee(decompressed(outer, kind), scanner))
    try:
        inner.drain()
        outer.drain()
    except StoreError as exc:
        raise ArchiveError(label, f"cannot decompress ({kind}): {exc}") from None
    except Exception as exc:
        if is_corrupt(exc):
            raise ArchiveError(label, f"cannot decompress ({kind}): {exc}") from None
        raise
    error = _not_a_tar(label, scanner)
    if error is not None:
        raise error
    return str(outer.digest), str(inner.digest), scanner


def _import_layer(store: ImageStore, raw: t.Any, label: str) -> tuple[str, str, str, int, float | None]:
    """(diff ID, blob digest, media type, blob size, newest mtime) of the stored tarball."""
    start = raw.tell() if _seekable(raw) else None
    head = read_upto(raw, 8)
    if not head:
        raise ArchiveError(label, "the tarball is empty")
    kind = sniff(head)
    media_type = oci.DOCKER_LAYER if kind == "gzip" else DOCKER_LAYER_TAR
    want_blob = want_diff = None
    scanner = _TarScanner()
    if start is not None:
        raw_digest, want_diff, scanner = _probe(Prefixed(head, raw), kind, label)
        want_blob = raw_digest if kind == "gzip" else want_diff
        if store.layers.has(want_diff) and store.blobs.has(want_blob):
            return want_diff, want_blob, media_type, store.blobs.size(want_blob), scanner.max_mtime
        raw.seek(start)
        head = read_upto(raw, 8)
    source = Prefixed(head, raw)
    watch = _TarScanner() if start is None else None  # a pipe: watch the headers while extracting
    sink: t.Any = watch if watch is not None else _NullSink()
    writer = store.blobs.writer(want_blob) if kind == "gzip" else None
    try:
        try:
            if writer is not None:  # keep the gzip bytes as the blob; extract what they hold
                gz = Tee(source, writer)
                plain = Tee(open_decompressed(gz, oci.DOCKER_LAYER), sink)
                info = store.layers.ingest(plain, DOCKER_LAYER_TAR, diff_id=want_diff, keep_blob=False)
                gz.drain()
            else:
                plain = Tee(decompressed(source, kind), sink)
                info = store.layers.ingest(plain, DOCKER_LAYER_TAR, blob_digest=want_diff, diff_id=want_diff)
        except StoreError as exc:
            error = _not_a_tar(label, watch) if watch is not None else None
            if error is not None:
                raise error from exc
            raise
        except Exception as exc:
            if is_corrupt(exc):
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
