#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: image_info
short_description: Inspect images in the Berth image store
version_added: 0.1.0
description:
  - Returns C(docker image inspect) data for the images named in O(name), or for every image that
    matches O(filters) when O(name) is not given.
  - Names that are not present are skipped, not reported as errors.
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
      - Images to inspect, as references (V(busybox), V(busybox:1.36), V(app@sha256:...)) or image IDs
        (full or a unique prefix).
      - When not given, every image is listed (see O(filters) and O(all)).
    type: list
    elements: str
  filters:
    description:
      - Filters for listing, as for C(docker images --filter). Keys are V(dangling) (bool), V(reference)
        (shell pattern), V(before) and V(since) (an image), V(label) (V(key) or V(key=value); a dict
        is turned into V(key=value) items) and V(until) (a duration or timestamp).
      - A value may be a single item or a list.
      - Mutually exclusive with O(name).
    type: dict
  all:
    description:
      - Also list intermediate (untagged parent) images.
    type: bool
    default: false
seealso:
  - module: berth.engine.image
"""

EXAMPLES = r"""
- name: Inspect one image
  berth.engine.image_info:
    name: busybox:latest
  register: result

- name: Show its ID
  ansible.builtin.debug:
    msg: "{{ result.images[0].Id if result.images else 'busybox is not present' }}"

- name: Every dangling image
  berth.engine.image_info:
    filters:
      dangling: true

- name: Images with a label
  berth.engine.image_info:
    filters:
      label:
        com.example.team: web
"""

RETURN = r"""
images:
  description:
    - Inspection data, one entry per image found (C(docker image inspect) format), without duplicates.
  returned: always
  type: list
  elements: dict
  sample:
    - Id: sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741
      RepoTags: ["busybox:latest"]
      RepoDigests: ["busybox@sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7"]
      Architecture: amd64
      Os: linux
      Size: 4261550
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.engine.options.image import IMAGE_INFO_OPTIONS
from ansible_collections.berth.engine.plugins.module_utils.glue.image_task import image_info
from ansible_collections.berth.engine.plugins.module_utils.glue.runner import run_task


def main() -> None:
    run_task(AnsibleModule, IMAGE_INFO_OPTIONS, task=image_info)


if __name__ == "__main__":
    main()
