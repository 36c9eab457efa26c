# SPDX-License-Identifier: GPL-3.0-or-later
"""Image references, parsed and normalised the way Docker does it.

``busybox`` -> ``docker.io/library/busybox:latest``;
``localhost:5000/team/app@sha256:...``; ``ghcr.io/o/r:1.0``.
"""
from __future__ import annotations

from ..errors import InvalidReference
from .lazy import Pattern
from .value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing, dataclasses or re at run time: ``berth run`` parses a reference
    import re
    import typing as t

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAINS = ("index.docker.io", "registry-1.docker.io")
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
#: Where Docker Hub's API really lives.
DOCKER_HUB_API = "registry-1.docker.io"

# The grammar. IDs and sha256 digests are checked with string methods; each other check first tries a
# plain-string test that accepts only what its pattern accepts (the everyday names: ``busybox``,
# ``my-registry.io:5000``, ``1.36``), anything else goes to the pattern: ``re`` is imported only for
# unusual names and for errors.
_COMPONENT = Pattern(r"^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = Pattern(
    r"^(?:" + _DOMAIN_COMPONENT + r"(?:\." + _DOMAIN_COMPONENT + r")*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$"
)
_TAG = Pattern(r"^[\w][\w.-]{0,127}$")
_DIGEST = Pattern(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")
MAX_NAME = 255

_LOWER_HEX = frozenset("0123456789abcdef")
_LOWER_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_ALNUM = _LOWER_ALNUM | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TAG_CHARS = _ALNUM | frozenset("_.-")


def _is_hex(value: str, low: int, high: int) -> bool:
    """``re.match(r"^[0-9a-f]{low,high}$", value)``, without ``re`` (``$`` also matches before a final
    newline)."""
    if value.endswith("\n"):
        value = value[:-1]
    return low <= len(value) <= high and _LOWER_HEX.issuperset(value)


def _is_hex64(value: str) -> bool:
    return _is_hex(value, 64, 64)


def _is_sha256(value: str) -> bool:
    """``^sha256:[0-9a-f]{64}$``."""
    return value.startswith("sha256:") and _is_hex(value[7:], 64, 64)


def _is_digest(value: str) -> bool:
    return _is_sha256(value) or bool(_DIGEST.match(value))


def _is_tag(value: str) -> bool:
    return (0 < len(value) <= 128 and _TAG_CHARS.issuperset(value) and value[0] not in ".-") \
        or bool(_TAG.match(value))


def _is_component(value: str) -> bool:
    """A path component: lowercase letters and digits with dashes between them here, the pattern for the
    rest (``.``, ``_`` and ``__`` separators, errors)."""
    plain = value.replace("-", "")
    return (bool(plain) and _LOWER_ALNUM.issuperset(plain) and value[0] != "-" and value[-1] != "-") \
        or bool(_COMPONENT.match(value))


def _is_label(label: str) -> bool:
    """A host name label: letters, digits and inner dashes."""
    return bool(label) and _ALNUM.issuperset(label.replace("-", "")) and label[0] != "-" and label[-1] != "-"


def _is_domain(value: str) -> bool:
    """``host[.host...][:port]``: the usual host names here, the pattern for the rest (IPv6, odd names)."""
    host, colon, port = value.partition(":")
    if not colon or (port.isdigit() and port.isascii()):
        if all(_is_label(label) for label in host.split(".")):
            return True
    return bool(_DOMAIN.match(value))


class ImageReference(Value):
    """A normalised reference: ``domain/path[:tag][@digest]`` (a frozen value: core/value.py)."""

    __slots__ = _fields = ("domain", "path", "tag", "digest")
    _defaults = {"tag": None, "digest": None}
    domain: str
    path: str
    tag: str | None
    digest: str | None

    @classmethod
    def parse(cls, value: str, field: str = "name", default_tag: bool = True) -> "ImageReference":
        """Parse and normalise *value*; add ``latest`` when it has neither tag nor digest."""
        if not isinstance(value, str) or not value:
            raise InvalidReference(str(value), "an image reference must be a non-empty string", field)
        if value != value.strip() or any(c.isspace() for c in value):
            raise InvalidReference(value, "an image reference must not contain white space", field)
        if _is_hex64(value):
            raise InvalidReference(value, "a 64-character hex string is an image ID, not a repository name", field)
        rest = value
        digest = None
        if "@" in rest:
            rest, digest = rest.split("@", 1)
            if not _is_digest(digest):
                raise InvalidReference(value, f"invalid digest {digest!r}", field)
            if digest.startswith("sha256:") and not _is_sha256(digest):
                raise InvalidReference(value, f"invalid sha256 digest {digest!r}", field)
        tag = None
        last_slash = rest.rfind("/")
        colon = rest.rfind(":")
        if colon > last_slash:
            rest, tag = rest[:colon], rest[colon + 1 :]
            if not _is_tag(tag):
                raise InvalidReference(value, f"invalid tag {tag!r}", field)
        if not rest:
            raise InvalidReference(value, "missing repository name", field)
        domain, path = _split_domain(rest)
        if not _is_domain(domain):
            raise InvalidReference(value, f"invalid registry host {domain!r}", field)
        for comp in path.split("/"):
            if not _is_component(comp):
                if comp.lower() != comp and _is_component(comp.lower()):
                    raise InvalidReference(value, "repository name must be lowercase", field)
                raise InvalidReference(value, f"invalid repository path component {comp!r}", field)
        if len(domain) + 1 + len(path) > MAX_NAME:
            raise InvalidReference(value, f"repository name longer than {MAX_NAME} characters", field)
        if tag is None and digest is None and default_tag:
            tag = DEFAULT_TAG
        return cls(domain=domain, path=path, tag=tag, digest=digest)

    # ---------------------------------------------------------------
    @property
    def repository(self) -> str:
        """``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_repository(self) -> str:
        """``busybox``, ``user/app``, ``localhost:5000/app`` (as docker prints them)."""
        if self.domain == DEFAULT_DOMAIN:
            if self.path.startswith(OFFICIAL_PREFIX) and self.path.count("/") == 1:
                return self.path[len(OFFICIAL_PREFIX) :]
            return self.path
        return self.repository

    @property
    def api_host(self) -> str:
        """The host whose /v2/ API serves this repository."""
        return DOCKER_HUB_API if self.domain == DEFAULT_DOMAIN else self.domain

    def with_tag(self, tag: str | None) -> "ImageReference":
        return self.replace(tag=tag, digest=None)

    def with_digest(self, digest: str) -> "ImageReference":
        return self.replace(tag=None, digest=digest)

    @property
    def tagged(self) -> str | None:
        """``docker.io/library/busybox:latest`` or None."""
        return f"{self.repository}:{self.tag}" if self.tag else None

    @property
    def digested(self) -> str | None:
        return f"{self.repository}@{self.digest}" if self.digest else None

    def __str__(self) -> str:
        s = self.repository
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s

    @property
    def familiar(self) -> str:
        s = self.familiar_repository
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s

    @property
    def remote_ref(self) -> str:
        """What to ask the registry for: the digest when pinned, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG


def _split_domain(name: str) -> tuple[str, str]:
    i = name.find("/")
    if i == -1:
        domain, path = DEFAULT_DOMAIN, name
    else:
        first = name[:i]
        if "." in first or ":" in first or first == "localhost" or first != first.lower():
            domain, path = first, name[i + 1 :]
        else:
            domain, path = DEFAULT_DOMAIN, name
    if domain in LEGACY_DOMAINS:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    return domain, path


def familiar(name: str) -> str:
    """Shorten a fully qualified ``repo:tag`` or ``repo@digest`` string for display."""
    try:
        return ImageReference.parse(name, default_tag=False).familiar
    except InvalidReference:
        return name


def looks_like_id(value: str) -> bool:
    """``sha256:<hex>`` or a hex prefix: might be an image ID (the store decides)."""
    return _is_sha256(value) or _is_hex(value, 1, 64)


def is_full_id(value: str) -> bool:
    return _is_sha256(value)


def reference_matches(pattern: str, ref: "ImageReference") -> bool:
    """Docker's ``reference=`` filter: path.Match on familiar and full names (``*`` stops at ``/``)."""
    rx = _path_pattern(pattern)
    candidates = []
    for name in (ref.familiar_repository, ref.repository):
        candidates.append(name)
        if ref.tag:
            candidates.append(f"{name}:{ref.tag}")
    return any(rx.match(c) for c in candidates)


def _path_pattern(pattern: str) -> re.Pattern[str]:
    import re

    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : j].replace("\\", "\\\\")
                if body.startswith("^"):
                    body = "^" + body[1:]
                out.append("[" + body + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("^" + "".join(out) + "$")


def parse_platform(value: str, field: str = "platform") -> dict[str, str]:
    """``linux/arm64/v8`` -> {"os": "linux", "architecture": "arm64", "variant": "v8"}."""
    parts = value.split("/") if isinstance(value, str) else []
    if not (1 <= len(parts) <= 3) or not all(parts):
        raise InvalidReference(value, "expected os[/arch[/variant]], e.g. linux/amd64", field)
    plat = {"os": parts[0].lower()}
    if len(parts) > 1:
        plat["architecture"] = normalize_arch(parts[1].lower())[0]
        variant = normalize_arch(parts[1].lower())[1]
        if variant:
            plat["variant"] = variant
    if len(parts) > 2:
        plat["variant"] = parts[2].lower()
    return plat


def normalize_arch(arch: str) -> tuple[str, str]:
    """Map kernel/alias names to OCI (architecture, variant)."""
    table: dict[str, tuple[str, str]] = {
        "x86_64": ("amd64", ""),
        "x86-64": ("amd64", ""),
        "amd64": ("amd64", ""),
        "aarch64": ("arm64", ""),
        "arm64": ("arm64", ""),
        "armhf": ("arm", "v7"),
        "armel": ("arm", "v6"),
        "armv7l": ("arm", "v7"),
        "armv6l": ("arm", "v6"),
        "arm": ("arm", ""),
        "i386": ("386", ""),
        "i686": ("386", ""),
        "386": ("386", ""),
        "ppc64le": ("ppc64le", ""),
        "s390x": ("s390x", ""),
        "riscv64": ("riscv64", ""),
    }
    return table.get(arch, (arch, ""))


def host_platform() -> dict[str, str]:
    import os

    arch, variant = normalize_arch(os.uname().machine)
    plat = {"os": "linux", "architecture": arch}
    if variant:
        plat["variant"] = variant
    return plat


def format_platform(plat: t.Mapping[str, str]) -> str:
    s = f"{plat.get('os', 'linux')}/{plat.get('architecture', '')}"
    if plat.get("variant"):
        s += "/" + plat["variant"]
    return s


def image_platform(config: t.Mapping[str, t.Any]) -> str | None:
    """``os/arch[/variant]`` of an image config, or None when it names no architecture."""
    arch = config.get("architecture")
    if not arch:
        return None
    return format_platform({"os": config.get("os") or "linux", "architecture": arch,
                            "variant": config.get("variant") or ""})


def platform_mismatch(config: t.Mapping[str, t.Any], plat: t.Mapping[str, str]) -> str | None:
    """Docker's warning for an image (its *config*) built for another OS or architecture than the platform
    *plat* the host assumed (no platform was asked for), or None when they match."""
    actual = image_platform(config)
    if actual is None or not plat.get("architecture"):
        return None
    if config.get("architecture") == plat["architecture"] and (config.get("os") or "linux") == plat.get("os", "linux"):
        return None
    return (f"The requested image's platform ({actual}) does not match the detected host platform "
            f"({format_platform(plat)}) and no specific platform was requested")
