# SPDX-License-Identifier: GPL-3.0-or-later
"""Image archives: ``docker load`` / ``docker save`` / ``docker import``, one module each.

* :mod:`.streams`: compression sniffing and decompressed, teed and prefixed readers.
* :mod:`.sources`: an archive as a tar read in place (or spooled to ``tmp/``) or an OCI layout directory.
* :mod:`.load`: :func:`load` and :func:`inspect`.
* :mod:`.save`: :func:`save`.
* :mod:`.importer`: :func:`import_rootfs`.
* :func:`apply_changes` (``core.instructions``), the ``--change`` interpreter, shared with the builder.

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

from ...core.instructions import CHANGE_INSTRUCTIONS, apply_changes
from .importer import import_rootfs
from .load import DOCKER_LAYER_TAR, LoadResult, inspect, load
from .save import SAVE_FORMATS, save

__all__ = ["CHANGE_INSTRUCTIONS", "DOCKER_LAYER_TAR", "SAVE_FORMATS", "LoadResult", "apply_changes", "import_rootfs",
           "inspect", "load", "save"]
