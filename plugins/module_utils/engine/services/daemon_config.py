# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``daemon_config`` use case: change a daemon.json, say what the change means for existing objects.

The engine has no daemon to restart: every operation reads the file again, so a change applies to what
is created from then on. What exists already (a container's resolv.conf, log settings, user namespace
mapping; the data root's images and containers) keeps what it was made with; :data:`PENDING` says, per
key, what stays behind and how to apply the change, and :meth:`DaemonConfigService.configure` reports it
(``pending_changes``) when such objects exist.
"""
from __future__ import annotations

import dataclasses
import typing as t

from ..config import edit
from ..config.daemon import SCHEMA
from ..errors import ConfigError, InvalidOption

_RECREATE = "recreate them (remove and create again, e.g. the container module with recreate: true) to apply it"

#: key -> how a change of it reaches existing objects. Keys not listed apply from the next operation on.
PENDING: dict[str, str] = {
    "data-root": "the images and containers of the old data root stay there and are not used any more; move the "
                 "directory to the new path while no container runs, or pull and create them again",
    "bip": f"existing containers keep the network settings they were created with; {_RECREATE}",
    "fixed-cidr": f"existing containers keep the addresses they were given; {_RECREATE}",
    "mtu": f"existing containers keep the network settings they were created with; {_RECREATE}",
    "default-address-pools": "existing networks keep their subnets; only networks created later use the new pools",
    "dns": f"existing containers keep the resolv.conf written when they were created; {_RECREATE}",
    "dns-search": f"existing containers keep the resolv.conf written when they were created; {_RECREATE}",
    "dns-opts": f"existing containers keep the resolv.conf written when they were created; {_RECREATE}",
    "log-driver": f"existing containers keep the log settings they were created with; {_RECREATE}",
    "log-opts": f"existing containers keep the log settings they were created with; {_RECREATE}",
    "userns-remap": f"existing containers keep their user namespace mapping; {_RECREATE}",
    "default-runtime": f"existing containers keep the runtime they were created with; {_RECREATE}",
    "runtimes": f"existing containers keep the runtime they were created with; {_RECREATE}",
    "no-new-privileges": f"applies to containers as they are created; {_RECREATE}",
    "default-ulimits": f"applies to containers as they are created; {_RECREATE}",
    "default-cgroupns-mode": f"applies to containers as they are created; {_RECREATE}",
}

STATES = ("present", "absent")

#: (data-root of the file before the change, or None) -> the names of the containers found there.
ContainerLister = t.Callable[[t.Mapping[str, t.Any]], t.List[str]]


@dataclasses.dataclass(frozen=True)
class ConfigResult:
    path: str
    changed: bool
    #: the file's configuration before (None: it was not a valid JSON object), and after
    before: dict[str, t.Any] | None
    after: dict[str, t.Any]
    #: the text the file had (the error when it was not valid) and will have, for a diff
    before_text: str
    after_text: str
    backup_file: str | None = None
    pending_changes: tuple[dict[str, t.Any], ...] = ()
    warnings: tuple[str, ...] = ()


class DaemonConfigService:
    """One daemon.json (*path*); *containers* lists the containers that a configuration's data root holds."""

    def __init__(self, path: str, containers: ContainerLister) -> None:
        self.path = path
        self._containers = containers

    def configure(
        self,
        config: t.Mapping[str, t.Any] | None = None,
        keys: t.Sequence[str] = (),
        state: str = "present",
        replace: bool = False,
        allow_unknown_keys: bool = False,
        force: bool = False,
        backup: bool = False,
        check_mode: bool = False,
    ) -> ConfigResult:
        """Merge *config* (``state=present``), or replace the file with it (*replace*), or remove *keys*
        (``state=absent``). Everything is validated before anything is written; in *check_mode* nothing is."""
        if state not in STATES:
            raise InvalidOption("state", state, f"must be one of {', '.join(STATES)}")
        if config is not None and not isinstance(config, dict):
            raise InvalidOption("config", config, "must be a dictionary of daemon.json keys")
        if state == "absent" and (config or replace):
            raise InvalidOption("state", state, "absent removes the keys named in keys; config and replace are "
                                                "for state=present")
        current = edit.read(self.path)
        if current.doc is None and not force:
            raise ConfigError(self.path, None, f"{current.error}; the file was left untouched (fix it, or set "
                                               "force: true to overwrite it)")
        before = current.doc
        base = before if before is not None else {}
        if state == "absent":
            after = edit.remove(base, keys)
        elif replace:
            after = dict(config or {})
        else:
            after = edit.merge(base, config or {})
        unknown = edit.check(after, self.path, allow_unknown_keys)
        changed = before != after  # a missing file is {}: nothing to add makes no empty file
        warnings = [f"{self.path}: {key!r} is not a key the Berth engine knows: Berth refuses to run with it in "
                    "its own configuration (keep such keys for files that another engine reads)"
                    for key in unknown if key in after and (before is None or before.get(key) != after[key])]
        pending = self._pending(before or {}, after) if changed else ()
        saved = None
        if changed and not check_mode:
            saved = edit.write(current, after, backup=backup)
        return ConfigResult(
            path=self.path,
            changed=changed,
            before=before,
            after=after,
            before_text=edit.dumps(before) if before is not None else f"(not valid: {current.error})\n",
            after_text=edit.dumps(after),
            backup_file=saved,
            pending_changes=tuple(pending),
            warnings=tuple(warnings),
        )

    def _pending(self, before: t.Mapping[str, t.Any], after: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
        moved = sorted(k for k in PENDING if before.get(k) != after.get(k))
        if not moved:
            return []
        known_before = {k: v for k, v in before.items() if k in SCHEMA}
        containers = self._containers(known_before)
        if not containers:
            return []
        return [{"key": key, "before": before.get(key), "after": after.get(key), "containers": containers,
                 "how": PENDING[key]} for key in moved]
