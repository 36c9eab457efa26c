# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run Ansible tasks inside a Berth container: ``berth exec`` for commands, ``berth cp`` tar streams for files."""
from __future__ import annotations

DOCUMENTATION = r"""
name: berth
short_description: Run tasks in Berth containers
description:
  - Runs commands in, and copies files to and from, a running Berth container, through the C(berth) command
    line, as P(community.docker.docker#connection) does through C(docker).
  - Commands go through C(berth exec); files are sent and fetched as tar streams through C(berth cp), never
    through a bind mount, so the container needs no shell tools for file transfer (but Python for modules).
  - The containers are on the controller, or on another host reached through ssh (O(ssh_host)); there the
    C(berth) CLI must be on the PATH (the C(berth.engine.host) role installs it).
  - Privilege escalation (O(ignore:become)), pipelining and O(remote_user) work; C(become_method=su) from
    root needs no password.
author:
  - Berth developers (@berth-engine)
extends_documentation_fragment:
  - berth.engine.berth_cli
options:
  remote_addr:
    description:
      - The name or ID of the container.
    type: str
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
      - name: ansible_berth_container
  remote_user:
    description:
      - The user the commands run as in the container (C(berth exec --user)).
      - When not set, the container's configured user.
    type: str
    vars:
      - name: ansible_user
      - name: ansible_berth_user
    ini:
      - section: defaults
        key: remote_user
    env:
      - name: ANSIBLE_REMOTE_USER
    cli:
      - name: user
    keyword:
      - name: remote_user
  data_root:
    vars:
      - name: ansible_berth_data_root
    ini:
      - section: berth_connection
        key: data_root
  config_path:
    vars:
      - name: ansible_berth_config_path
    ini:
      - section: berth_connection
        key: config_path
  berth_command:
    vars:
      - name: ansible_berth_command
    ini:
      - section: berth_connection
        key: berth_command
  ssh_host:
    vars:
      - name: ansible_berth_ssh_host
  ssh_args:
    vars:
      - name: ansible_berth_ssh_args
    ini:
      - section: berth_connection
        key: ssh_args
  working_dir:
    description:
      - The directory in the container that commands run in (C(berth exec --workdir)).
    type: str
    vars:
      - name: ansible_berth_working_dir
  extra_env:
    description:
      - More environment variables for the commands (C(berth exec --env)); keys and values must be strings.
    type: dict
    vars:
      - name: ansible_berth_extra_env
  privileged:
    description:
      - Run the commands with extended privileges (C(berth exec --privileged)).
    type: bool
    default: false
    vars:
      - name: ansible_berth_privileged
  timeout:
    description:
      - Seconds to wait for the output of the privilege escalation prompt.
    type: int
    default: 10
    vars:
      - name: ansible_berth_timeout
    env:
      - name: ANSIBLE_TIMEOUT
    ini:
      - section: defaults
        key: timeout
notes:
  - Files arrive owned by the user the commands run as (O(remote_user)), with the mode of the local file.
  - Through a C(delegate_to) or an inventory entry with O(ssh_host), the same play can reach containers on
    every host of a fleet; see the fleet guide.
"""

EXAMPLES = r"""
# inventory: containers of the controller
# [apps]
# web ansible_connection=berth.engine.berth ansible_python_interpreter=/usr/bin/python3

# a container on another host, through ssh
# [remote_apps]
# web-on-node1 ansible_connection=berth.engine.berth ansible_berth_container=web ansible_berth_ssh_host=root@node1

- name: Configure the app inside its container
  hosts: apps
  gather_facts: false
  vars:
    ansible_berth_data_root: /srv/berth
  tasks:
    - name: Write the configuration
      ansible.builtin.copy:
        content: "listen 8080\n"
        dest: /etc/app.conf
    - name: Run as the app user
      ansible.builtin.command: id -un
      become: true
      become_method: su
      become_user: app
"""

import os
import selectors
import subprocess
import tarfile
import typing as t

from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.connection import ConnectionBase, ensure_connect
from ansible.utils.display import Display

from ansible_collections.berth.engine.plugins.plugin_utils.berth_cli import BerthCli, BerthCliError

display = Display()


class Connection(ConnectionBase):
    """Commands through ``berth exec -i``, files through ``berth cp`` tar streams."""

    transport = "berth.engine.berth"
    has_pipelining = True

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._owner: tuple[int, int] | None = None  # (uid, gid) the commands run as; files get it

    # -- settings -------------------------------------------------------------------------------------
    def _cli(self) -> BerthCli:
        try:
            return BerthCli(
                command=self.get_option("berth_command"),
                data_root=self.get_option("data_root"),
                config_path=self.get_option("config_path"),
                ssh_host=self.get_option("ssh_host"),
                ssh_args=self.get_option("ssh_args"),
            )
        except BerthCliError as exc:
            raise AnsibleConnectionFailure(f"berth connection: {exc}") from None

    @property
    def _container(self) -> str:
        return str(self.get_option("remote_addr"))

    def _user(self) -> str | None:
        user = self.get_option("remote_user")
        if user is None and self._play_context.remote_user is not None:
            user = self._play_context.remote_user
        return user

    def _exec_args(self, command: list[str]) -> list[str]:
        """``exec -i [--user U] [--env K=V] [--workdir D] [--privileged] -- CONTAINER COMMAND``"""
        args = ["exec", "-i"]
        user = self._user()
        if user is not None:
            args += ["--user", str(user)]
        for key, value in (self.get_option("extra_env") or {}).items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise AnsibleConnectionFailure(
                    f"extra_env: {key!r}: {value!r} is not a string; quote keys and values that YAML "
                    "would read as numbers or booleans")
            args += ["--env", f"{key}={value}"]
        if self.get_option("working_dir"):
            args += ["--workdir", self.get_option("working_dir")]
        if self.get_option("privileged"):
            args.append("--privileged")
        return [*args, "--", self._container, *command]

    # -- the connection -------------------------------------------------------------------------------
    def _connect(self) -> Connection:
        super()._connect()  # type: ignore[safe-super]
        if not self._connected:
            where = self._cli().where()  # a bad setting fails here, named, as the host being unreachable
            display.vvv(f"ESTABLISH BERTH CONNECTION FOR USER: {self._user() or '?'} ({where})",
                        host=self._container)
            self._connected = True
        return self

    def _check_container(self, stderr: bytes) -> None:
        """After ``berth exec`` failed with rc 1 and an ``Error:`` line (which the command itself may have
        printed): is the container there and running? If not, the host is unreachable, with berth's words."""
        proc = subprocess.run(self._cli().argv("inspect", "--type", "container", "--format", "{{.State.Running}}",
                                               self._container),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        if proc.returncode != 0 or proc.stdout.strip() != b"true":
            raise AnsibleConnectionFailure(f"berth container {self._container} ({self._cli().where()}): "
                                           f"{to_text(stderr or proc.stderr).strip()}")

    @ensure_connect  # type: ignore[misc]
    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = True
                     ) -> tuple[int, bytes, bytes]:
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)  # type: ignore[safe-super]
        argv = self._cli().argv(*self._exec_args([self._play_context.executable, "-c", cmd]))
        display.vvv(f"EXEC {argv}", host=self._container)
        with subprocess.Popen([to_bytes(a, errors="surrogate_or_strict") for a in argv], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
            if self.become and self.become.expect_prompt() and sudoable:
                self._answer_become_prompt(proc)
            stdout, stderr = proc.communicate(in_data)
        if proc.returncode == 1 and stderr.startswith(b"Error: ") and not stdout:
            self._check_container(stderr)
        return proc.returncode, stdout, stderr

    def _answer_become_prompt(self, proc: subprocess.Popen[bytes]) -> None:
        """Read until the become plugin sees success or its password prompt; answer the prompt."""
        if proc.stdout is None or proc.stderr is None or proc.stdin is None:
            raise AnsibleError("berth exec was started without pipes")
        seen = b""
        with selectors.DefaultSelector() as selector:
            for stream in (proc.stdout, proc.stderr):
                os.set_blocking(stream.fileno(), False)
                selector.register(stream, selectors.EVENT_READ)
            while not self.become.check_success(seen) and not self.become.check_password_prompt(seen):
                events = selector.select(self.get_option("timeout"))
                if not events:
                    proc.kill()
                    raise AnsibleError(f"timeout waiting for the privilege escalation prompt:\n{to_text(seen)}")
                chunk = b"".join(os.read(key.fileobj.fileno(), 65536)  # type: ignore[union-attr]
                                 for key, _event in events)
                if not chunk:
                    proc.kill()
                    raise AnsibleError(f"privilege output closed while waiting for the prompt:\n{to_text(seen)}")
                seen += chunk
            for stream in (proc.stdout, proc.stderr):
                os.set_blocking(stream.fileno(), True)
        if not self.become.check_success(seen):
            password = self.become.get_option("become_pass", playcontext=self._play_context)
            proc.stdin.write(to_bytes(password or "", errors="surrogate_or_strict") + b"\n")
            proc.stdin.flush()

    # -- files ----------------------------------------------------------------------------------------
    @staticmethod
    def _container_path(path: str) -> str:
        """Relative paths are relative to / (ssh would use $HOME; a container may have none)."""
        return os.path.normpath(os.path.join("/", path))

    def _run_berth(self, args: list[str], what: str, **kwargs: t.Any) -> subprocess.CompletedProcess[bytes]:
        argv = self._cli().argv(*args)
        display.vvvv(f"BERTH {argv}", host=self._container)
        proc = subprocess.run(argv, stdout=kwargs.pop("stdout", subprocess.PIPE), stderr=subprocess.PIPE,
                              check=False, **kwargs)
        if proc.returncode != 0:
            raise AnsibleError(f"failed to {what}: {to_text(proc.stderr).strip()} (rc={proc.returncode})")
        return proc

    def _file_owner(self) -> tuple[int, int]:
        """uid and gid of the user the commands run as, asked once per connection."""
        if self._owner is None:
            out = self._run_berth(self._exec_args(["sh", "-c", "id -u; id -g"]), "look up the user's uid and gid")
            try:
                uid, gid = (int(n) for n in out.stdout.split())
            except ValueError:
                raise AnsibleError(f"berth exec ... id -u; id -g printed {to_text(out.stdout)!r}") from None
            self._owner = (uid, gid)
        return self._owner

    @ensure_connect  # type: ignore[misc]
    def put_file(self, in_path: str, out_path: str) -> None:
        super().put_file(in_path, out_path)  # type: ignore[safe-super]
        out_path = self._container_path(out_path)
        display.vvv(f"PUT {in_path} TO {out_path}", host=self._container)
        local = to_bytes(in_path, errors="surrogate_or_strict")
        if not os.path.isfile(local):
            raise AnsibleFileNotFound(f"file or module does not exist: {in_path}")
        uid, gid = self._file_owner()
        argv = self._cli().argv("cp", "--archive", "-", f"{self._container}:{os.path.dirname(out_path)}")
        with open(local, "rb") as src, subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                        stderr=subprocess.PIPE) as proc:
            st = os.fstat(src.fileno())
            info = tarfile.TarInfo(os.path.basename(out_path))
            info.size, info.mode, info.mtime, info.uid, info.gid = st.st_size, st.st_mode & 0o7777, st.st_mtime, uid, gid
            try:
                with tarfile.open(fileobj=proc.stdin, mode="w|", format=tarfile.PAX_FORMAT) as tf:
                    tf.addfile(info, src)
                proc.stdin.close()  # type: ignore[union-attr]
            except BrokenPipeError:
                pass  # berth cp stopped reading: its message says why
            stderr = proc.stderr.read()  # type: ignore[union-attr]
            proc.wait()
        if proc.returncode != 0:
            raise AnsibleError(f"failed to transfer {in_path} to {self._container}:{out_path}: "
                               f"{to_text(stderr).strip()} (rc={proc.returncode})")

    @ensure_connect  # type: ignore[misc]
    def fetch_file(self, in_path: str, out_path: str) -> None:
        super().fetch_file(in_path, out_path)  # type: ignore[safe-super]
        in_path = self._container_path(in_path)
        display.vvv(f"FETCH {in_path} TO {out_path}", host=self._container)
        argv = self._cli().argv("cp", "--follow-link", f"{self._container}:{in_path}", "-")
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
            try:
                with tarfile.open(fileobj=proc.stdout, mode="r|") as tf:
                    member = tf.next()
                    if member is not None and member.isfile():
                        src = tf.extractfile(member)
                        with open(to_bytes(out_path, errors="surrogate_or_strict"), "wb") as dst:
                            while chunk := src.read(1 << 20):  # type: ignore[union-attr]
                                dst.write(chunk)
            except tarfile.TarError:
                member = None
            proc.stdout.read()  # type: ignore[union-attr]  # the rest of the stream: berth cp ends cleanly
            stderr = proc.stderr.read()  # type: ignore[union-attr]
            proc.wait()
        if proc.returncode != 0:
            raise AnsibleError(f"failed to fetch {self._container}:{in_path}: {to_text(stderr).strip()} "
                               f"(rc={proc.returncode})")
        if member is None or not member.isfile():
            raise AnsibleError(f"failed to fetch {self._container}:{in_path}: not a regular file")

    def close(self) -> None:
        super().close()  # type: ignore[safe-super]
        self._connected = False

    def reset(self) -> None:
        self._owner = None
