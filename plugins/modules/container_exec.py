#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: container_exec
short_description: Run a command in a running container of the Berth engine
version_added: 0.1.0
description:
  - Runs a command in a running container, like C(docker exec), and returns its output and exit code.
  - Options follow M(community.docker.docker_container_exec).
  - The task always reports a change. A non-zero exit code fails the task (Ansible's rule for a result with
    an RV(rc) other than 0), with a RV(msg) that names the exit code; use C(failed_when) to accept one.
author:
  - Berth developers (@berth-engine)
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.attributes
  - berth.engine.attributes.actiongroup_berth
attributes:
  check_mode:
    support: partial
    details:
      - In check mode the options are validated, the command is not run and the task is reported as skipped.
  diff_mode:
    support: none
  idempotent:
    support: none
    details:
      - Running a command is always reported as a change.
options:
  container:
    description:
      - Name or ID of the running container.
    type: str
    required: true
  argv:
    description:
      - The command and its arguments, taken as they are.
      - Exactly one of O(argv) and O(command) is required.
    type: list
    elements: str
  command:
    description:
      - The command line, split into arguments like a shell would (no shell runs it).
      - Exactly one of O(argv) and O(command) is required.
    type: str
  chdir:
    description:
      - Absolute working directory of the command. Defaults to the container's.
    type: str
  user:
    description:
      - User to run the command as, V(name), V(uid), V(name:group) or V(uid:gid). Defaults to the container's.
    type: str
  env:
    description:
      - Extra environment variables for the command. Values must be strings.
    type: dict
  tty:
    description:
      - Allocate a pseudo-TTY (standard error then arrives on standard output).
    type: bool
    default: false
  privileged:
    description:
      - Run the command with every capability.
    type: bool
    default: false
  detach:
    description:
      - Start the command and return without waiting for it; no output is returned.
    type: bool
    default: false
  stdin:
    description:
      - Text sent to the command's standard input.
    type: str
  stdin_add_newline:
    description:
      - Append a newline to O(stdin).
    type: bool
    default: true
  strip_empty_ends:
    description:
      - Strip trailing newlines from the returned output.
    type: bool
    default: true
seealso:
  - module: berth.engine.container
  - module: berth.engine.container_info
"""

EXAMPLES = r"""
- name: Run a command
  berth.engine.container_exec:
    container: web
    command: nginx -t
  register: result

- name: Show its output
  ansible.builtin.debug:
    var: result.stdout_lines

- name: Feed standard input, run as another user
  berth.engine.container_exec:
    container: db
    argv: ["psql", "-U", "postgres"]
    stdin: "SELECT 1;"
    user: postgres
"""

RETURN = r"""
stdout:
  description:
    - Standard output of the command.
  returned: success and O(detach=false)
  type: str
  sample: "nginx: configuration file /etc/nginx/nginx.conf test is successful"
stderr:
  description:
    - Standard error of the command.
  returned: success and O(detach=false)
  type: str
  sample: ""
rc:
  description:
    - Exit code of the command.
  returned: success and O(detach=false)
  type: int
  sample: 0
msg:
  description:
    - Says which exit code the command returned.
  returned: when the exit code is not 0
  type: str
  sample: "the command exited with code 3"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.engine.options.container import CONTAINER_EXEC_OPTIONS
from ansible_collections.berth.engine.plugins.module_utils.glue.container_task import container_exec
from ansible_collections.berth.engine.plugins.module_utils.glue.runner import run_task


def main() -> None:
    run_task(AnsibleModule, CONTAINER_EXEC_OPTIONS, task=container_exec)


if __name__ == "__main__":
    main()
