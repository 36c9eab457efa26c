#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: volume_info
short_description: Inspect a Berth volume
version_added: 0.1.0
description:
  - Returns C(docker volume inspect) data for one volume, with its usage (size and the number of containers
    that mount it).
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
      - Name of the volume to inspect.
    type: str
    required: true
    aliases: [volume_name]
seealso:
  - module: berth.engine.volume
"""

EXAMPLES = r"""
- name: Inspect the site's volume
  berth.engine.volume_info:
    name: site
  register: result

- name: Where its data is
  ansible.builtin.debug:
    msg: "{{ result.volume.Mountpoint if result.exists else 'no volume site' }}"
"""

RETURN = r"""
exists:
  description:
    - Whether the volume exists.
  returned: always
  type: bool
volume:
  description:
    - The volume as C(docker volume inspect) shows it, with C(UsageData) (C(Size) in bytes, C(RefCount)); null when
      it does not exist.
  returned: always
  type: dict
  sample:
    Name: site
    Driver: local
    Mountpoint: /var/lib/berth/volumes/site/_data
    Labels: {}
    Options: {}
    Scope: local
    CreatedAt: "2026-01-01T10:00:00.000000000Z"
    UsageData: {Size: 1024, RefCount: 1}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.engine.options.volume import VOLUME_INFO_OPTIONS
from ansible_collections.berth.engine.plugins.module_utils.glue.runner import run_task
from ansible_collections.berth.engine.plugins.module_utils.glue.volume_task import volume_info


def main() -> None:
    run_task(AnsibleModule, VOLUME_INFO_OPTIONS, task=volume_info)


if __name__ == "__main__":
    main()
