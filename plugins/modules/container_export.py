#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: container_export
short_description: Write a container's file system of the Berth engine to a tar file
version_added: 0.1.0
description:
  - Writes the whole file system of a container (its image with the container's changes) as a tar archive,
    like C(docker export -o PATH).
  - The file is replaced atomically; a failed export leaves it as it was.
  - The archive can be imported as an image with M(berth.engine.image) (O(berth.engine.image#module:source=import)).
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
      - In check mode the export is made and hashed, not written, to say whether the file would change.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - Not changed when O(path) already holds this export byte for byte (the export of a container whose files
        did not change since).
options:
  container:
    description:
      - Name or ID of the container.
    type: str
    required: true
  path:
    description:
      - The tar file to write.
    type: path
    required: true
  force:
    description:
      - Write the file even when it already holds this export.
    type: bool
    default: false
seealso:
  - module: berth.engine.container_commit
"""

EXAMPLES = r"""
- name: Keep the file system of a container
  berth.engine.container_export:
    container: app
    path: /srv/backup/app-rootfs.tar
"""

RETURN = r"""
path:
  description:
    - The absolute path of the archive.
  returned: success
  type: str
  sample: /srv/backup/app-rootfs.tar
actions:
  description:
    - What was done.
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.engine.options.image import CONTAINER_EXPORT_OPTIONS
from ansible_collections.berth.engine.plugins.module_utils.glue.image_task import container_export
from ansible_collections.berth.engine.plugins.module_utils.glue.runner import run_task


def main() -> None:
    run_task(AnsibleModule, CONTAINER_EXPORT_OPTIONS, task=container_export)


if __name__ == "__main__":
    main()
