#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: container_commit
short_description: Make an image of a container's changes in the Berth engine
version_added: 0.1.0
description:
  - Makes an image of a container's file system changes on top of its image, like C(docker commit).
  - The image's configuration is the container's (command, entrypoint, environment, user, working directory,
    labels, stop signal; never its secret environment), with O(changes) applied.
  - The container may be running; it is not paused, so what it writes during the commit may or may not be in
    the image.
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
  idempotent:
    support: full
    details:
      - Not changed when O(name) already names this commit, the container's image with a layer of the same
        content as the container's changes now, the same configuration, author and comment.
options:
  container:
    description:
      - Name or ID of the container.
    type: str
    required: true
  name:
    description:
      - Repository, optionally with a tag, of the new image.
    type: str
    required: true
  tag:
    description:
      - Tag used when O(name) has none.
    type: str
    default: latest
  author:
    description:
      - Author recorded in the image, like C(docker commit --author).
    type: str
    default: ""
  comment:
    description:
      - The commit message (C(docker commit --message); Ansible reserves the name C(message)), recorded as the
        comment of the image's last history entry.
    type: str
    default: ""
  changes:
    description:
      - "Dockerfile instructions applied to the image configuration, like C(docker commit --change): C(CMD),
        C(ENTRYPOINT), C(ENV), C(EXPOSE), C(LABEL), C(ONBUILD), C(STOPSIGNAL), C(USER), C(VOLUME), C(WORKDIR)."
    type: list
    elements: str
  force:
    description:
      - Commit even when O(name) already is this commit (a new image, with a new creation time).
    type: bool
    default: false
seealso:
  - module: berth.engine.image
"""

EXAMPLES = r"""
- name: Keep what a set-up container installed as an image
  berth.engine.container_commit:
    container: setup
    name: app-base:1
    author: Ops <ops@example.com>
    comment: packages installed
    changes:
      - CMD ["/usr/local/bin/app"]
"""

RETURN = r"""
image:
  description:
    - The image O(name) points at afterwards, as the image module returns it (empty in check mode when a new
      image would be made).
  returned: success
  type: dict
actions:
  description:
    - What was done.
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.engine.options.image import CONTAINER_COMMIT_OPTIONS
from ansible_collections.berth.engine.plugins.module_utils.glue.image_task import container_commit
from ansible_collections.berth.engine.plugins.module_utils.glue.runner import run_task


def main() -> None:
    run_task(AnsibleModule, CONTAINER_COMMIT_OPTIONS, task=container_commit)


if __name__ == "__main__":
    main()
