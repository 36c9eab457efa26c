#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: network_info
short_description: Inspect a Berth network
version_added: 0.1.0
description:
  - Tells whether a network exists and returns it as C(docker network inspect) shows it (with the containers
    that are connected to it), as community.docker's C(docker_network_info) does.
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
      - Name (or ID) of the network to inspect.
    type: str
    required: true
    aliases: [network_name]
seealso:
  - module: berth.engine.network
"""

EXAMPLES = r"""
- name: Inspect the web network
  berth.engine.network_info:
    name: web
  register: result

- name: Show its subnet
  ansible.builtin.debug:
    msg: "{{ result.network.IPAM.Config[0].Subnet if result.exists else 'no network web' }}"
"""

RETURN = r"""
exists:
  description:
    - Whether the network exists.
  returned: always
  type: bool
  sample: true
network:
  description:
    - The network as C(docker network inspect) shows it; null when it does not exist.
  returned: always
  type: dict
  sample:
    Name: web
    Driver: bridge
    IPAM: {Driver: default, Options: {}, Config: [{Subnet: 10.20.0.0/24, Gateway: 10.20.0.1}]}
    Internal: false
    Containers: {}
    Labels: {}
    MTU: 1500
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.engine.options.network import NETWORK_INFO_OPTIONS
from ansible_collections.berth.engine.plugins.module_utils.glue.network_task import network_info
from ansible_collections.berth.engine.plugins.module_utils.glue.runner import run_task


def main() -> None:
    run_task(AnsibleModule, NETWORK_INFO_OPTIONS, task=network_info)


if __name__ == "__main__":
    main()
