# SPDX-License-Identifier: GPL-3.0-or-later
"""The names and marks of deletions in image layers: OCI's whiteout names in layer tars, overlayfs's opaque
directory mark in the layer dirs (kernel ``Documentation/filesystems/overlayfs.rst``). store/unpack.py
writes them, store/changes.py reads them; a module of their own, so that reading an image's tree (a
cached build's COPY looks up its destination) does not load the layer extraction."""
from __future__ import annotations

#: ``.wh.NAME`` in a layer tar: NAME is deleted (a 0:0 character device in the layer dir)
WHITEOUT_PREFIX = ".wh."
#: ``DIR/.wh..wh..opq`` in a layer tar: nothing of DIR in lower layers shows through
WHITEOUT_OPAQUE = ".wh..wh..opq"
#: overlayfs marks an opaque directory with this xattr (value ``y``)
OPAQUE_XATTR = "trusted.overlay.opaque"
