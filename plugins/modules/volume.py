#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: volume
short_description: Manage Berth volumes
version_added: 0.1.0
description:
  - Creates and removes named volumes of the C(local) driver, as C(docker volume create) and C(docker volume rm)
    do; the options and behaviour of community.docker's C(docker_volume).
  - A volume's data is deleted only when the task removes the volume (O(state=absent), or a recreate); a volume
    that a container uses is never removed, the task fails naming the containers.
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
      - The diff shows whether the volume exists, its driver, driver options and labels, before and after.
  idempotent:
    support: partial
    details:
      - With O(recreate=always), every run removes and creates the volume again (and reports a change).
options:
  name:
    description:
      - Name of the volume, C([a-zA-Z0-9][a-zA-Z0-9_.-]+).
    type: str
    required: true
    aliases: [volume_name]
  state:
    description:
      - V(present) creates the volume when it is missing; V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  driver:
    description:
      - The volume driver. Only V(local) is supported.
    type: str
    default: local
  driver_options:
    description:
      - "Options of the C(local) driver, as C(docker volume create --opt): none for a directory under the data
        root; C(type: tmpfs) with C(o: size=64m,mode=1777) for a tmpfs; C(type: none), C(o: bind) and
        C(device: /host/dir) for a host directory; C(type: ext4) (or C(xfs)...) and C(device: /dev/sdX) for a
        block device's file system."
      - Only the options given are compared with an existing volume.
    type: dict
    aliases: [driver_opts]
  labels:
    description:
      - Labels of the volume. Only the labels given are compared with an existing volume.
    type: dict
  recreate:
    description:
      - V(never) leaves an existing volume as it is; V(options-changed) removes it and creates it again when
        O(driver), an option of O(driver_options) or a label of O(labels) differs; V(always) does so every time.
      - Recreating a volume deletes its data.
    type: str
    choices: [never, options-changed, always]
    default: never
seealso:
  - module: berth.engine.volume_info
  - module: berth.engine.container
"""

EXAMPLES = r"""
- name: A volume for the site's pages
  berth.engine.volume:
    name: site
    labels:
      app: web

- name: A tmpfs volume of 64 MiB
  berth.engine.volume:
    name: scratch
    driver_options:
      type: tmpfs
      o: size=64m,mode=1777

- name: A host directory as a volume, made again when its options change
  berth.engine.volume:
    name: exports
    driver_options:
      type: none
      o: bind
      device: /srv/exports
    recreate: options-changed

- name: Remove a volume
  berth.engine.volume:
    name: site
    state: absent
"""

RETURN = r"""
volume:
  description:
    - The volume as C(docker volume inspect) shows it; empty when it does not exist (after the task).
  returned: always
  type: dict
  sample:
    Name: site
    Driver: local
    Mountpoint: /var/lib/berth/volumes/site/_data
    Labels: {app: web}
    Options: {}
    Scope: local
    CreatedAt: "2026-01-01T10:00:00.000000000Z"
actions:
  description:
    - What the task did (or would do in check mode), for example C(Created volume site).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.engine.options.volume import VOLUME_OPTIONS
from ansible_collections.berth.engine.plugins.module_utils.glue.runner import run_task
from ansible_collections.berth.engine.plugins.module_utils.glue.volume_task import volume


def main() -> None:
    run_task(AnsibleModule, VOLUME_OPTIONS, task=volume)


if __name__ == "__main__":
    main()
