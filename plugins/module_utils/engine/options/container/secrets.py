# SPDX-License-Identifier: GPL-3.0-or-later
"""``secret_env``: how a secret is kept (sealed) and shown (masked).

The container record never holds a secret's value: it keeps a seal, ``hmac-sha256:<salt>:<HMAC>``
keyed by a random per-container salt and bound to the variable's name.  Results, diffs, ``inspect``
and error messages show :data:`SECRET_MASK` instead of a value; a task compares its plain values with
the record by sealing them with the record's salts (:func:`sealed_like`).
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time: ``berth run`` imports the option table
    import typing as t

#: What results, diffs, ``inspect`` and error messages show instead of a ``secret_env`` value.
SECRET_MASK = "********"
#: The after side of a ``--diff`` for a secret whose value changed (the value itself is never shown).
SECRET_CHANGED = SECRET_MASK + " (changed)"
#: How the container record keeps a secret: ``hmac-sha256:<salt>:<HMAC-SHA256(salt, NAME=value)>``.
SEAL_PREFIX = "hmac-sha256:"


def seal(name: str, value: str, salt: str) -> str:
    """The record's form of one secret: keyed by the container's random *salt* (hex), bound to *name*."""
    import hashlib
    import hmac

    digest = hmac.new(bytes.fromhex(salt), f"{name}={value}".encode(), hashlib.sha256).hexdigest()
    return f"{SEAL_PREFIX}{salt}:{digest}"


def seal_secrets(secrets: t.Mapping[str, str], salt: str) -> dict[str, str]:
    """Plain ``secret_env`` values -> their seals (what the container record keeps)."""
    return {name: seal(name, value, salt) for name, value in secrets.items()}


def sealed_like(secrets: t.Mapping[str, str], recorded: t.Mapping[str, str] | None) -> dict[str, str]:
    """Plain *secrets* sealed with the salt of each *recorded* seal, so that equal values give equal seals
    (a name the record lacks gets a fresh salt: it differs anyway)."""
    import os

    out = {}
    for name, value in secrets.items():
        old = (recorded or {}).get(name)
        salt = old[len(SEAL_PREFIX):].partition(":")[0] if isinstance(old, str) and old.startswith(SEAL_PREFIX) \
            else ""
        out[name] = seal(name, value, salt if _is_hex(salt) else os.urandom(16).hex())
    return out


def _is_hex(text: str) -> bool:
    return bool(text) and len(text) % 2 == 0 and all(c in "0123456789abcdef" for c in text)


def is_sealed(name: str, value: str, sealed: t.Any) -> bool:
    """Whether plain *value* of secret *name* is the one *sealed* records."""
    import hmac

    return isinstance(sealed, str) and hmac.compare_digest(sealed_like({name: value}, {name: sealed})[name], sealed)


def mask_secrets(secrets: t.Mapping[str, t.Any] | None) -> dict[str, str]:
    """``{NAME: "********"}``: what a result shows of ``secret_env`` (plain or sealed)."""
    return {name: SECRET_MASK for name in secrets or {}}
