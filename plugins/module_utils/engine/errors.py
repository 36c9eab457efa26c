# SPDX-License-Identifier: GPL-3.0-or-later
"""Typed errors raised by the engine.

Every error is rooted at :class:`EngineError` and carries a message that names
the field, value, path, registry or digest involved, so the Ansible glue and
the CLI can show it as-is.  The engine never exits and never prints.
"""
from __future__ import annotations

# Imported by every process on the start path (the CLI, the container starter, monitor workers):
# ``typing`` only for type checkers (see runtime/__init__.py: ``import typing`` costs ~14 ms there).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""

    #: CLI exit code for this kind of error (docker uses 1 for most errors).
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def shorten(text: str, length: int | None = None) -> str:
    """*text* for a message: a 5000-character value is named by its start and *length*, not printed."""
    if len(text) <= 100:
        return text
    return f"{text[:60]}... ({len(text) if length is None else length} characters)"


class InvalidOption(EngineError):
    """A user-supplied option has a bad value."""

    exit_code = 125

    def __init__(self, field: str, value: t.Any, reason: str) -> None:
        shown = shorten(repr(value), len(value) if isinstance(value, (str, bytes)) else None)
        super().__init__(f"invalid value {shown} for {field}: {reason}")
        self.field = field
        self.value = value
        self.reason = reason


class InvalidReference(InvalidOption):
    """An image reference cannot be parsed."""

    def __init__(self, value: str, reason: str, field: str = "name") -> None:
        super().__init__(field, value, reason)


class ConfigError(EngineError):
    """The engine configuration file (daemon.json) is invalid."""

    def __init__(self, path: str, key: str | None, reason: str) -> None:
        where = f"{path}: key {key!r}" if key else path
        super().__init__(f"invalid engine configuration {where}: {reason}")
        self.path = path
        self.key = key
        self.reason = reason


class NotFound(EngineError):
    """Something the user named does not exist."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"No such {kind}: {name}")
        self.kind = kind
        self.name = name


class ImageNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__("image", name)


class Conflict(EngineError):
    """The operation conflicts with the current state (e.g. an image in use)."""

    exit_code = 1


class VolumeInUse(Conflict):
    """A volume cannot be removed: containers use it (``force`` removes it from stopped ones)."""

    def __init__(self, name: str, containers: list[str], reason: str = "") -> None:
        super().__init__(f"remove volume {name}: volume is in use by container(s) {', '.join(containers)}"
                         + (f" ({reason})" if reason else ""))
        self.name = name
        self.containers = containers


class VolumeError(EngineError):
    """A volume could not be mounted, copied into or removed; names the volume and the step."""

    def __init__(self, name: str, step: str, reason: str) -> None:
        super().__init__(f"volume {name}: {step}: {reason}")
        self.name = name
        self.step = step
        self.reason = reason


class UntrustedPath(EngineError):
    """A file or directory of the engine's could have been written by another user: it is not acted on."""

    def __init__(self, path: str, why: str, what: str = "file") -> None:
        super().__init__(f"refusing to use {what} {path}: {why}. The engine runs as root and only acts on what "
                         f"root owns and others cannot write; check it, then remove it or fix its owner and mode "
                         f"(chown root, chmod go-w)")
        self.path = path
        self.why = why


class StoreError(EngineError):
    """The image store is inconsistent or an I/O operation on it failed."""


class DigestMismatch(StoreError):
    def __init__(self, what: str, expected: str, actual: str) -> None:
        super().__init__(f"digest mismatch for {what}: expected {expected}, got {actual}")
        self.what = what
        self.expected = expected
        self.actual = actual


class DamagedContent(StoreError):
    """Stored content (a blob, an unpacked layer) no longer matches its digest or record."""

    def __init__(self, what: str, digest: str, reason: str) -> None:
        super().__init__(f"{what} {digest} is damaged: {reason}; pull the image again, or remove the damaged "
                         "content with 'berth system check --repair'")
        self.what = what
        self.digest = digest
        self.reason = reason


class UnsafeLayer(StoreError):
    """A layer tar member would write outside its layer directory."""

    def __init__(self, layer: str, member: str, reason: str) -> None:
        super().__init__(f"refusing layer {layer}: member {member!r} {reason}")
        self.layer = layer
        self.member = member
        self.reason = reason


class ArchiveError(StoreError):
    """An image archive (docker-archive, OCI layout, rootfs tarball) is invalid."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"invalid image archive {path}: {reason}")
        self.path = path
        self.reason = reason


class RegistryError(EngineError):
    """Talking to a registry failed."""

    def __init__(
        self,
        registry: str,
        reason: str,
        repository: str | None = None,
        digest: str | None = None,
        status: int | None = None,
    ) -> None:
        parts = [f"registry {registry}"]
        if repository:
            parts.append(f"repository {repository}")
        if digest:
            parts.append(f"digest {digest}")
        super().__init__(f"{', '.join(parts)}: {reason}")
        self.registry = registry
        self.repository = repository
        self.digest = digest
        self.status = status
        self.reason = reason


class AuthError(RegistryError):
    """The registry refused our credentials (or we had none)."""


class ManifestUnknown(RegistryError):
    """The registry has no such tag or digest."""


class UnsupportedManifest(RegistryError):
    """The manifest is of a kind we refuse (schema1) or cannot use."""


class LockTimeout(EngineError):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__(f"timed out after {timeout:g}s waiting for lock {path} (another berth operation is running)")
        self.path = path
        self.timeout = timeout


class MissingDependency(EngineError):
    """An optional library or host tool is needed but missing."""

    def __init__(self, what: str, needed_for: str, hint: str = "") -> None:
        msg = f"{what} is required for {needed_for}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)
        self.what = what


class InvalidState(Conflict):
    """A container verb is not allowed in the container's current status (``docker pause`` of an exited one).

    *current* is the status (``exited``), *wanted* the verb or status asked for (``pause``).
    """

    def __init__(self, current: str, wanted: str, name: str | None = None, message: str | None = None) -> None:
        who = f"container {name}" if name else "the container"
        super().__init__(message or f"cannot {wanted} {who}: it is {current}")
        self.current = current
        self.wanted = wanted
        self.name = name


class RuntimeFailure(EngineError):
    """The low-level OCI runtime failed: a lifecycle guard refused, the container init reported an
    error (``step`` names what it was doing, ``errno`` the system error), a hook or a runtime binary failed.

    ``status`` is the container's status when a lifecycle guard refused (created|running|paused|stopped).
    """

    def __init__(
        self,
        container: str,
        step: str,
        reason: str,
        status: str | None = None,
        errno: int | None = None,
    ) -> None:
        super().__init__(f"container {container}: {step}: {reason}")
        self.container = container
        self.step = step
        self.reason = reason
        self.status = status
        self.errno = errno


class BuildError(EngineError):
    """An image build failed: a step's command, a missing source file, a bad build option."""


class DockerfileError(BuildError):
    """The Dockerfile is invalid; names the file, the line and the instruction."""

    def __init__(self, path: str, line: int, instruction: str, reason: str) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {instruction}: {reason}" if instruction else f"{where}: {reason}")
        self.path = path
        self.line = line
        self.instruction = instruction
        self.reason = reason
