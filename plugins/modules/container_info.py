#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: container_info
short_description: Inspect a container of the Berth engine
version_added: 0.1.0
description:
  - Returns C(docker inspect) data for one container, and whether it exists.
  - A container that does not exist is not an error.
author:
  - Berth developers (@berth-engine)
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.attributes
  - berth.engine.attributes.actiongroup_berth
  - berth.engine.attributes.info_module
options:
  name:
    description:
      - Name of the container, or its ID (full or a unique prefix).
    type: str
    required: true
seealso:
  - module: berth.engine.container
  - module: berth.engine.container_exec
"""

EXAMPLES = r"""
- name: Inspect the web container
  berth.engine.container_info:
    name: web
  register: result

- name: Show its state
  ansible.builtin.debug:
    msg: "{{ result.container.State.Status if result.exists else 'web does not exist' }}"
"""

RETURN = r"""
exists:
  description:
    - Whether the container exists.
  returned: always
  type: bool
  sample: true
container:
  description:
    - Inspection data of the container (C(docker inspect) format); empty when it does not exist.
    - C(Berth.Desired) holds the normalised options the container was created with.
    - Secret environment variables (the container module's O(berth.engine.container#module:secret_env)) show
      as C(NAME=********) in C(Config.Env) and as V(********) in C(Berth.Desired.secret_env), never with
      their values.
  returned: always
  type: dict
  sample:
    Id: 0f3d6e1c8a2b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5
    Name: /web
    Image: sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741
    State:
      Status: running
      Running: true
    Config:
      Cmd: ["nginx", "-g", "daemon off;"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.engine.options.container import CONTAINER_INFO_OPTIONS
from ansible_collections.berth.engine.plugins.module_utils.glue.container_task import container_info
from ansible_collections.berth.engine.plugins.module_utils.glue.runner import run_task


def main() -> None:
    run_task(AnsibleModule, CONTAINER_INFO_OPTIONS, task=container_info)


if __name__ == "__main__":
    main()
