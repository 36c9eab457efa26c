# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``registry_login`` task: log in (credentials checked against the registry's ``/v2/``, then stored
in the engine's auth file) or log out. The password is never part of the result or a message."""
from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from .runner import TaskContext


def registry_login(ctx: TaskContext) -> dict[str, t.Any]:
    p = ctx.params
    images = ctx.engine.images
    server = p.get("registry_url")
    before = images.stored_login(server)[1]  # the user name: the diff never shows a password
    if p["state"] == "absent":
        host, changed = images.logout(server, dry_run=ctx.check_mode)
        after = None
        action = f"Logged out from {host}" if changed else f"Not logged in to {host}"
    else:
        host, changed = images.ensure_login(server, p["username"], p["password"],
                                            reauthorize=bool(p.get("reauthorize")), dry_run=ctx.check_mode)
        after = p["username"]
        action = f"Logged in to {host} as {after}" if changed else f"Already logged in to {host} as {after}"
    return {
        "changed": changed,
        "registry": host,
        "username": after,
        "auth_file": ctx.engine.config.auth_path,
        "actions": [action],
        "diff": {"before": {"registry": host, "username": before}, "after": {"registry": host, "username": after}},
    }
