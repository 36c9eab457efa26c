#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: registry_info
short_description: List the repositories and tags of a container registry
version_added: 0.1.0
description:
  - Lists a registry's repositories (C(/v2/_catalog)) and their tags (C(/v2/<name>/tags/list)), following the
    registry's pagination (C(Link) headers, C(n) and C(last)).
  - Uses the engine's registry client, so the credentials in C(auth.json) (M(berth.engine.registry_login)), the
    CAs in C(certs.d) and C(insecure-registries) apply as they do for pulls.
author:
  - Berth developers (@berth-engine)
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.attributes
  - berth.engine.attributes.actiongroup_berth
  - berth.engine.attributes.info_module
options:
  registry_url:
    description:
      - The registry, V(host[:port]); a URL's scheme and path are ignored.
    type: str
    required: true
    aliases: [registry, url]
  repositories:
    description:
      - Repositories whose tags to list; by default every repository of the catalog.
    type: list
    elements: str
  page_size:
    description:
      - Entries asked for per request (C(n)).
    type: int
    default: 100
seealso:
  - module: berth.engine.registry
"""

EXAMPLES = r"""
- name: What the local registry holds
  berth.engine.registry_info:
    registry_url: 127.0.0.1:5000
  register: reg

- name: Tags of one repository
  berth.engine.registry_info:
    registry_url: registry.example.com
    repositories: [team/app]
"""

RETURN = r"""
repositories:
  description: The repositories, in the registry's order, each with its tags (sorted).
  returned: success
  type: list
  elements: dict
  sample: [{"name": "team/app", "tags": ["1.0", "latest"]}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.engine.options.registry import REGISTRY_INFO_OPTIONS
from ansible_collections.berth.engine.plugins.module_utils.glue.registry_task import registry_info
from ansible_collections.berth.engine.plugins.module_utils.glue.runner import run_task


def main() -> None:
    run_task(AnsibleModule, REGISTRY_INFO_OPTIONS, task=registry_info)


if __name__ == "__main__":
    main()
