# SPDX-License-Identifier: GPL-3.0-or-later
"""Editing a daemon.json file: what the ``daemon_config`` module does, without the module.

* :func:`read` takes a file as it is: missing, empty, a JSON object, or not valid JSON (the error names
  the line and column, never the content: a daemon.json may hold a proxy password);
* :func:`merge`, :func:`remove` are pure: ``config`` merged key by key, named keys removed;
* :func:`check` validates a document with the table the engine loads it with (``daemon.validate``), so a
  file the module writes is one the engine reads; keys unknown to the table are refused unless allowed;
* :func:`write` replaces the file atomically (``core.fs.atomic_write``: a temporary file beside it,
  fsynced, renamed over it), keeping its mode and owner, after an optional timestamped backup.

Lists compare in order (the order of ``registry-mirrors`` is the order they are tried); objects compare
without regard to the order of their keys: plain ``==`` of the parsed documents.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
import typing as t

from ..core import fs
from ..errors import ConfigError
from .daemon import SCHEMA, validate

#: Mode of a daemon.json the module creates (Docker's packages install /etc/docker/daemon.json so too).
NEW_FILE_MODE = 0o644


@dataclasses.dataclass(frozen=True)
class ConfigFile:
    """A daemon.json as found: ``doc`` is None when the file is not a JSON object (``error`` says why)."""

    path: str
    exists: bool
    doc: dict[str, t.Any] | None
    error: str | None = None
    mode: int = NEW_FILE_MODE
    uid: int = 0
    gid: int = 0


def read(path: str) -> ConfigFile:
    """The file at *path*; a missing or empty (whitespace only) file is an empty configuration."""
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            data = fh.read()
    except FileNotFoundError:
        return ConfigFile(path, False, {})
    except IsADirectoryError:
        raise ConfigError(path, None, "is a directory, not a configuration file") from None
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read: {exc.strerror}") from None
    owner = {"mode": st.st_mode & 0o7777, "uid": st.st_uid, "gid": st.st_gid}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ConfigFile(path, True, None, f"not UTF-8 text (byte {exc.start})", **owner)
    if not text.strip():
        return ConfigFile(path, True, {}, **owner)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return ConfigFile(path, True, None, f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                          **owner)
    if not isinstance(doc, dict):
        return ConfigFile(path, True, None, f"the top level must be a JSON object, not {type(doc).__name__}", **owner)
    return ConfigFile(path, True, doc, **owner)


def merge(current: t.Mapping[str, t.Any], changes: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """*current* with each key of *changes* set (added at the end, or replaced in place)."""
    return {**current, **changes}


def remove(current: t.Mapping[str, t.Any], keys: t.Iterable[str]) -> dict[str, t.Any]:
    drop = set(keys)
    return {k: v for k, v in current.items() if k not in drop}


def unknown_keys(doc: t.Mapping[str, t.Any]) -> list[str]:
    """The keys of *doc* the engine does not know (``daemon.SCHEMA``), sorted."""
    return sorted(set(doc) - set(SCHEMA))


def check(doc: t.Any, path: str, allow_unknown_keys: bool = False) -> list[str]:
    """Validate *doc* as the engine would load it; return the unknown keys when they are allowed.

    Raises :class:`ConfigError` naming the file, the key and what is wrong.
    """
    if not isinstance(doc, dict):
        raise ConfigError(path, None, "the configuration must be a JSON object (a dictionary)")
    for key in doc:
        if not isinstance(key, str) or not key:
            raise ConfigError(path, None, f"{key!r}: keys must be non-empty strings")
    unknown = unknown_keys(doc)
    if unknown and not allow_unknown_keys:
        raise ConfigError(path, unknown[0], "unknown configuration option (set allow_unknown_keys to keep keys "
                                            f"that only another engine reads; known: {', '.join(sorted(SCHEMA))})")
    validate({k: v for k, v in doc.items() if k in SCHEMA}, path)
    try:
        json.dumps(doc, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(path, None, f"cannot be written as JSON: {exc}") from None
    return unknown


def dumps(doc: t.Mapping[str, t.Any]) -> str:
    """The text :func:`write` puts in the file (and the diff shows): indented, keys in their order."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def backup_path(path: str, now: float | None = None) -> str:
    """``<path>.<pid>.<YYYY-MM-DD@HH:MM:SS>~``, the name Ansible's ``backup: true`` gives a copy."""
    stamp = time.strftime("%Y-%m-%d@%H:%M:%S", time.localtime(now))
    return f"{path}.{os.getpid()}.{stamp}~"


def write(current: ConfigFile, doc: t.Mapping[str, t.Any], backup: bool = False) -> str | None:
    """Replace ``current.path`` with *doc*, atomically, keeping the file's mode and owner (a new file:
    0644, root's). With *backup*, an existing file is first copied to :func:`backup_path` (same mode and
    owner). Returns the backup's path, or None."""
    path = current.path
    owner = (current.uid, current.gid)
    saved = None
    try:
        fs.ensure_dir(os.path.dirname(os.path.abspath(path)), 0o755)
        if backup and current.exists:
            saved = backup_path(path)
            with open(path, "rb") as fh:
                fs.atomic_write(saved, fh.read(), mode=current.mode, owner=owner)
        fs.atomic_write(path, dumps(doc), mode=current.mode, owner=owner)
    except OSError as exc:  # the file is as it was: atomic_write removed its temporary file
        where = f" ({exc.filename})" if exc.filename and exc.filename != path else ""
        raise ConfigError(path, None, f"cannot write{where}: {exc.strerror or exc}; the file was left as it "
                                      "was") from None
    return saved
