#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: network
short_description: Manage Berth networks
version_added: 0.1.0
description:
  - Creates, changes and removes bridge networks, as C(docker network create), C(docker network rm) and
    C(docker network connect)/C(disconnect) do; the options and behaviour of community.docker's C(docker_network),
    with the differences noted at O(connected) and O(force).
  - A network whose driver, addresses, O(internal), O(mtu), a driver option or a label named by the task differs
    from the existing one is removed and created again (only the options and labels the task names are
    compared). While containers use it, that needs O(force=true).
  - A network that containers use is removed only with O(force=true) (which disconnects them); otherwise the task
    fails naming the containers.
author:
  - Berth developers (@berth-engine)
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.attributes
  - berth.engine.attributes.actiongroup_berth
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows whether the network exists, its driver, driver options, addresses, C(internal), MTU, labels
        and connected containers, before and after.
      - In check mode, addresses and an MTU the engine would choose are not known (shown as null).
  idempotent:
    support: full
options:
  name:
    description:
      - Name of the network, C([a-zA-Z0-9][a-zA-Z0-9_.-]*). C(bridge), C(host) and C(none) are predefined.
    type: str
    required: true
    aliases: [network_name]
  state:
    description:
      - V(present) creates the network when it is missing (or recreates it when it differs); V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  driver:
    description:
      - The network driver. Only V(bridge) is supported.
    type: str
    default: bridge
  driver_options:
    description:
      - "Options of the bridge driver, as C(docker network create -o): C(com.docker.network.bridge.name) (the
        bridge interface's name), C(com.docker.network.bridge.enable_icc) (traffic between its containers),
        C(com.docker.network.bridge.enable_ip_masquerade) (outbound NAT), C(com.docker.network.driver.mtu)."
      - Only the options given are compared with an existing network.
    type: dict
  ipam_config:
    description:
      - "community.docker's address configuration: at most one entry, with the keys C(subnet), C(gateway) and
        C(iprange) (C(aux_addresses) is not supported). The same as O(subnet), O(gateway) and O(ip_range)."
    type: list
    elements: dict
  subnet:
    description:
      - The network's subnet in CIDR form, such as C(10.10.0.0/24). Without it (and without O(ipam_config)) the
        engine picks a free one from the engine config's C(default-address-pools).
    type: str
  gateway:
    description:
      - The bridge's address in O(subnet) (the first address of the subnet by default).
    type: str
  ip_range:
    description:
      - The part of O(subnet), in CIDR form, that the containers' addresses are allocated from.
    type: str
  internal:
    description:
      - An internal network has no way out (no masquerading, no forwarding to other interfaces).
      - Compared with an existing network only when given.
    type: bool
  mtu:
    description:
      - MTU of the bridge and of the containers' interfaces on it (the engine config's C(mtu) by default); the same
        as the driver option C(com.docker.network.driver.mtu).
    type: int
  labels:
    description:
      - Labels of the network. Only the labels given are compared with an existing network.
    type: dict
  connected:
    description:
      - Names or IDs of containers to connect to the network (with no aliases; use the C(networks) option of
        M(berth.engine.container) for aliases and addresses).
      - Without O(appends), containers that it does not name are disconnected.
      - Unlike community.docker, leaving O(connected) out leaves the network's containers alone.
    type: list
    elements: str
    aliases: [containers]
  appends:
    description:
      - Connect the containers of O(connected) and leave the network's other containers connected.
    type: bool
    default: false
  force:
    description:
      - With O(state=absent), disconnect the containers that use the network before removing it. With
        O(state=present), disconnect them when a difference makes the task recreate the network (the ones
        O(connected) names are connected again).
      - Unlike community.docker, O(force=true) does not recreate a network that does not differ.
    type: bool
    default: false
seealso:
  - module: berth.engine.network_info
  - module: berth.engine.container
"""

EXAMPLES = r"""
- name: A network for the web tier
  berth.engine.network:
    name: web
    subnet: 10.20.0.0/24
    labels:
      tier: web

- name: An internal network with its own bridge name and MTU
  berth.engine.network:
    name: backend
    internal: true
    mtu: 1400
    driver_options:
      com.docker.network.bridge.name: br-backend

- name: Connect two containers, leaving the others alone
  berth.engine.network:
    name: web
    connected: [proxy, app]
    appends: true

- name: Remove a network, disconnecting its containers
  berth.engine.network:
    name: web
    state: absent
    force: true
"""

RETURN = r"""
network:
  description:
    - The network as C(docker network inspect) shows it; empty when it does not exist (after the task).
  returned: always
  type: dict
  sample:
    Name: web
    Id: 6a0c8f1e2d9b...
    Driver: bridge
    Scope: local
    EnableIPv6: false
    IPAM: {Driver: default, Options: {}, Config: [{Subnet: 10.20.0.0/24, Gateway: 10.20.0.1}]}
    Internal: false
    Containers: {}
    Options: {com.docker.network.bridge.name: br-6a0c8f1e2d9b}
    Labels: {tier: web}
    MTU: 1500
actions:
  description:
    - What the task did (or would do in check mode), for example C(Created network web) or
      C(Connected container app).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.engine.options.network import NETWORK_OPTIONS
from ansible_collections.berth.engine.plugins.module_utils.glue.network_task import network
from ansible_collections.berth.engine.plugins.module_utils.glue.runner import run_task


def main() -> None:
    run_task(AnsibleModule, NETWORK_OPTIONS, task=network)


if __name__ == "__main__":
    main()
