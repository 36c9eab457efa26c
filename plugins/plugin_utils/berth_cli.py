# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``berth`` command line as the controller-side plugins run it (connection ``berth``, inventory
``berth_containers``): which executable, the engine's data root and configuration, and an optional ssh hop to
the host whose containers they reach.

    cli = BerthCli(data_root="/srv/berth", ssh_host="root@web1", ssh_args="-p 2222")
    cli.argv("exec", "-i", "web", "/bin/sh", "-c", "id")
    # ['ssh', '-o', 'BatchMode=yes', '-p', '2222', 'root@web1', '--',
    #  "berth --root /srv/berth exec -i web /bin/sh -c id"]

Nothing here imports Ansible: the plugins turn :class:`BerthCliError` into their own errors.
"""
from __future__ import annotations

import os
import shlex
import shutil

#: This collection's own CLI (``bin/berth`` beside ``plugins/``), what runs when no command is configured
#: and the containers are on the controller.
BUNDLED_BERTH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                             "bin", "berth")

#: Always given to ssh: a hop never stops at a password or host-key prompt that nobody can answer.
SSH_BASE = ("ssh", "-o", "BatchMode=yes")


class BerthCliError(Exception):
    """A setting of the plugin is unusable; the message names the option and its value."""


class BerthCli:
    """How to run ``berth``: on this machine, or on *ssh_host* (``[user@]host``) through ssh.

    *command* is the ``berth`` executable (default: this collection's ``bin/berth`` locally, ``berth`` on
    the remote PATH through ssh); *data_root* and *config_path* become ``--root``/``--config`` when set.
    """

    def __init__(self, command: str | None = None, data_root: str | None = None, config_path: str | None = None,
                 ssh_host: str | None = None, ssh_args: str | None = None) -> None:
        for option, value in (("data_root", data_root), ("config_path", config_path)):
            if value and not value.startswith("/"):
                raise BerthCliError(f"{option}: {value!r} is not an absolute path")
        if ssh_host and (ssh_host.startswith("-") or any(c.isspace() for c in ssh_host)):
            raise BerthCliError(f"ssh_host: {ssh_host!r} is not a [user@]host")
        try:
            self.ssh_args = shlex.split(ssh_args or "")
        except ValueError as exc:
            raise BerthCliError(f"ssh_args: {ssh_args!r} cannot be split into arguments: {exc}") from None
        self.ssh_host = ssh_host or None
        self.command = command or self._default_command()
        self.data_root = data_root or None
        self.config_path = config_path or None

    def _default_command(self) -> str:
        if self.ssh_host:
            return "berth"
        if os.access(BUNDLED_BERTH, os.X_OK):
            return BUNDLED_BERTH
        found = shutil.which("berth")
        if not found:
            raise BerthCliError(f"berth_command: not set, {BUNDLED_BERTH} is missing and no berth is on PATH")
        return found

    def berth_argv(self, *args: str) -> list[str]:
        """``berth [--root R] [--config C] ARGS`` as it runs where the containers are."""
        argv = [self.command]
        if self.data_root:
            argv += ["--root", self.data_root]
        if self.config_path:
            argv += ["--config", self.config_path]
        return argv + list(args)

    def argv(self, *args: str) -> list[str]:
        """What to run on the controller: :meth:`berth_argv`, wrapped in ssh when there is a hop."""
        argv = self.berth_argv(*args)
        if not self.ssh_host:
            return argv
        return [*SSH_BASE, *self.ssh_args, self.ssh_host, "--", " ".join(shlex.quote(a) for a in argv)]

    def where(self) -> str:
        """For messages: ``local`` or ``ssh root@web1``."""
        return f"ssh {self.ssh_host}" if self.ssh_host else "local"
