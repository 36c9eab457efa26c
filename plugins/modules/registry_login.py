#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: registry_login
short_description: Log the Berth engine in to a container registry, or out
version_added: 0.1.0
description:
  - Checks a user name and password against a registry's C(/v2/) endpoint (Basic authentication, or a token
    obtained with them, as C(docker login) does), then stores them in the engine's credentials file for pulls.
  - The credentials file is C(auth.json) beside the engine configuration (C(/etc/berth/auth.json) by default), in
    Docker's C(config.json) format, mode 0600. Changes to it are made under a lock, so concurrent logins
    (other tasks, C(berth login)) all stay.
  - A wrong password fails the task and stores nothing.
author:
  - Berth developers (@berth-engine)
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.attributes
  - berth.engine.attributes.actiongroup_berth
attributes:
  check_mode:
    support: full
    details:
      - The credentials are checked against the registry (a wrong password fails in check mode too); nothing is
        stored or removed.
  diff_mode:
    support: full
    details:
      - The diff shows the registry and the user name stored for it, before and after; never a password.
  idempotent:
    support: full
    details:
      - When the same user name and password are stored already and the registry accepts them, nothing
        changes. The registry is asked on every run, so credentials it no longer accepts fail the task.
options:
  registry_url:
    description:
      - The registry, V(host[:port]); a URL's scheme and path are ignored
        (V(https://registry.example.com/v2/) is V(registry.example.com)).
      - V(docker.io) (the default) is Docker Hub, stored under Docker's key C(https://index.docker.io/v1/).
    type: str
    default: docker.io
    aliases: [registry, url]
  username:
    description:
      - The user name. Required with O(state=present).
    type: str
  password:
    description:
      - The password or access token. Required with O(state=present).
      - It is never logged, returned or shown in a diff; it is stored in the credentials file (mode 0600), as
        C(docker login) stores it.
    type: str
  reauthorize:
    description:
      - Check and store the credentials even when the same ones are stored already (the task reports a change only
        when the stored credentials change).
    type: bool
    default: false
  state:
    description:
      - V(present) logs in; V(absent) removes the credentials stored for O(registry_url) (C(docker logout)).
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: berth.engine.image
  - module: berth.engine.daemon_config
"""

EXAMPLES = r"""
- name: Log in to a private registry
  berth.engine.registry_login:
    registry_url: registry.example.com:5000
    username: deploy
    password: "{{ vault_registry_password }}"

- name: Log out
  berth.engine.registry_login:
    registry_url: registry.example.com:5000
    state: absent
"""

RETURN = r"""
registry:
  description: The registry host the credentials are stored for (C(docker.io) for Docker Hub).
  returned: success
  type: str
  sample: registry.example.com:5000
username:
  description: The user name stored after the task; null after a logout.
  returned: success
  type: str
  sample: deploy
auth_file:
  description: The credentials file.
  returned: success
  type: str
  sample: /etc/berth/auth.json
actions:
  description: What the task did (in check mode, would do).
  returned: success
  type: list
  elements: str
  sample: ["Logged in to registry.example.com:5000 as deploy"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.engine.options.registry import REGISTRY_LOGIN_OPTIONS
from ansible_collections.berth.engine.plugins.module_utils.glue.registry_login_task import registry_login
from ansible_collections.berth.engine.plugins.module_utils.glue.runner import run_task


def main() -> None:
    run_task(AnsibleModule, REGISTRY_LOGIN_OPTIONS, task=registry_login)


if __name__ == "__main__":
    main()
