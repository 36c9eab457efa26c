# SPDX-License-Identifier: GPL-3.0-or-later
"""OCI / Docker image-format vocabulary: media types, descriptors, manifests, platform choice.

Pure parsing shared by the store (archives) and the registry client.
"""
from __future__ import annotations

import dataclasses
import json
import typing as t

from .digest import is_digest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_ND = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_ND_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_ND_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
SCHEMA1_TYPES = (DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED)
LAYER_TYPES = (
    OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD, OCI_LAYER_ND, OCI_LAYER_ND_GZIP, OCI_LAYER_ND_ZSTD,
    DOCKER_LAYER, DOCKER_FOREIGN_LAYER, DOCKER_LAYER_TAR,
)
#: What we send as Accept when fetching a manifest.
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))


class FormatError(ValueError):
    """A manifest, index or config is malformed (callers wrap it in a component error)."""


@dataclasses.dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: t.Mapping[str, t.Any] | None = None
    annotations: t.Mapping[str, str] | None = None
    urls: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: t.Any, what: str) -> "Descriptor":
        if not isinstance(d, dict):
            raise FormatError(f"{what}: descriptor is not an object")
        digest = d.get("digest")
        size = d.get("size")
        if not isinstance(digest, str) or not is_digest(digest):
            raise FormatError(f"{what}: invalid digest {digest!r}")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise FormatError(f"{what}: invalid size {size!r}")
        return cls(
            media_type=str(d.get("mediaType") or ""),
            digest=digest,
            size=size,
            platform=d.get("platform"),
            annotations=d.get("annotations"),
            urls=tuple(d.get("urls") or ()),
        )

    def to_dict(self) -> dict[str, t.Any]:
        out: dict[str, t.Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.platform:
            out["platform"] = dict(self.platform)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.urls:
            out["urls"] = list(self.urls)
        return out


@dataclasses.dataclass(frozen=True)
class ImageManifest:
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]


@dataclasses.dataclass(frozen=True)
class ImageIndex:
    media_type: str
    manifests: tuple[Descriptor, ...]


def load_json(raw: bytes, what: str) -> dict[str, t.Any]:
    try:
        obj = json.loads(raw)
    except ValueError as exc:
        raise FormatError(f"{what}: not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise FormatError(f"{what}: top level is not an object")
    return obj


def detect_media_type(raw: bytes, declared: str | None = None) -> str:
    """The media type from the document itself, falling back on what was declared."""
    declared = (declared or "").split(";", 1)[0].strip()
    try:
        obj = json.loads(raw)
    except ValueError:
        return declared
    if not isinstance(obj, dict):
        return declared
    mt = obj.get("mediaType")
    if isinstance(mt, str) and mt:
        return mt
    if obj.get("schemaVersion") == 1:
        return DOCKER_SCHEMA1
    if "manifests" in obj:
        return OCI_INDEX
    if "config" in obj and "layers" in obj:
        return OCI_MANIFEST
    return declared


def parse_manifest(raw: bytes, media_type: str | None = None, what: str = "manifest") -> ImageManifest | ImageIndex:
    """Parse an image manifest or index; schema 1 raises FormatError with a clear message."""
    mt = detect_media_type(raw, media_type)
    if mt in SCHEMA1_TYPES:
        raise FormatError(
            f"{what}: Docker image manifest schema 1 is deprecated and not supported; "
            "push the image again with a current client (schema 2 or OCI)"
        )
    obj = load_json(raw, what)
    if mt in INDEX_TYPES:
        entries = obj.get("manifests")
        if not isinstance(entries, list):
            raise FormatError(f"{what}: index has no manifests list")
        return ImageIndex(mt, tuple(Descriptor.from_dict(m, f"{what} entry") for m in entries))
    if mt in MANIFEST_TYPES:
        layers = obj.get("layers")
        if not isinstance(layers, list):
            raise FormatError(f"{what}: manifest has no layers list")
        config = Descriptor.from_dict(obj.get("config"), f"{what} config")
        return ImageManifest(mt, config, tuple(Descriptor.from_dict(x, f"{what} layer") for x in layers))
    raise FormatError(f"{what}: unsupported media type {mt!r}")


def platform_matches(want: t.Mapping[str, str], have: t.Mapping[str, t.Any] | None) -> bool:
    if not have:
        return False
    if want.get("os", "linux") != have.get("os"):
        return False
    if "architecture" in want and want["architecture"] != have.get("architecture"):
        return False
    want_variant = want.get("variant")
    have_variant = have.get("variant") or ""
    if want_variant and have_variant and want_variant != have_variant:
        # arm64 images are usually "v8" or unset; accept both for an arm64 host
        return False
    return True


def select_platform(index: ImageIndex, want: t.Mapping[str, str], what: str = "index") -> Descriptor:
    """Choose the manifest for *want* (os/architecture/variant) like containerd does.

    An exact variant match wins over an unset variant; attestation manifests
    (platform unknown/unknown) are never chosen.
    """
    candidates = [d for d in index.manifests if d.media_type not in INDEX_TYPES and platform_matches(want, d.platform)]
    if not candidates:
        available = sorted(
            "/".join(x for x in (
                (d.platform or {}).get("os", "?"),
                (d.platform or {}).get("architecture", "?"),
                (d.platform or {}).get("variant", ""),
            ) if x)
            for d in index.manifests
        )
        want_s = "/".join(x for x in (want.get("os", "linux"), want.get("architecture", ""), want.get("variant", "")) if x)
        raise FormatError(f"{what}: no manifest for platform {want_s} (available: {', '.join(available) or 'none'})")
    want_variant = want.get("variant")
    if want_variant:
        exact = [d for d in candidates if (d.platform or {}).get("variant") == want_variant]
        if exact:
            return exact[0]
    return candidates[0]


def parse_config(raw: bytes, what: str = "image config") -> dict[str, t.Any]:
    obj = load_json(raw, what)
    rootfs = obj.get("rootfs")
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids"), list):
        raise FormatError(f"{what}: missing rootfs.diff_ids")
    for d in rootfs["diff_ids"]:
        if not isinstance(d, str) or not is_digest(d):
            raise FormatError(f"{what}: invalid diff id {d!r}")
    return obj


def compression_of(media_type: str) -> str:
    """``gzip``, ``zstd``, ``none`` or ``unknown`` (then sniff the magic bytes)."""
    if media_type.endswith("+gzip") or media_type.endswith(".tar.gzip"):
        return "gzip"
    if media_type.endswith("+zstd"):
        return "zstd"
    if media_type.endswith(".tar") or media_type.endswith("diff.tar"):
        return "none"
    return "unknown"
