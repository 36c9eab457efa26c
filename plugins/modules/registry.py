#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: registry
short_description: Run a private container registry on a host with Berth
version_added: 0.1.0
description:
  - Deploys a Distribution registry (Docker's C(registry:2)) as a Berth container, with its storage in a named
    volume or a host directory, optional htpasswd users, TLS, pull-through cache mode and deletion, then waits
    until its C(/v2/) endpoint answers (HTTP 401 counts as up when O(users) are set).
  - The registry is configured through C(REGISTRY_*) environment variables, as C(registry:2) honours them. Its
    files (the htpasswd file, and copies of the TLS certificate and key) are kept root-only in
    C(<data_root>/registries/<name>/) and mounted read-only at C(/auth) in the container; when only they change,
    the container is restarted.
  - The registry's container runs on the default bridge network, its port 5000 published on
    O(bind_address):O(port) (C(docker run -p)). With an IPv6 O(bind_address), or a O(proxy_remote_url) on the
    host's loopback (C(127.0.0.1), C(localhost)), it runs on the host's network.
  - "Without network access, build an equivalent image from Debian's C(docker-registry) package with
    C(scripts/registry-image.sh) (it makes V(localhost/berth/registry:2)) and set O(image) to it."
  - A container of the same name that this module did not create is left alone and the task fails.
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
      - Check mode predicts the container changes and which registry files would change; it does not wait for
        the registry.
  diff_mode:
    support: full
    details:
      - The diff is the container's, plus the user names (never a password or hash) and which files change.
  idempotent:
    support: full
    details:
      - A stored bcrypt hash that matches its password is kept, so the same users report no change.
options:
  name:
    description:
      - Name of the registry's container (and of its directory of files).
    type: str
    default: registry
  state:
    description:
      - V(present) deploys the registry and waits until it answers; V(absent) removes its container and files
        (the storage volume or directory stays).
    type: str
    choices: [present, absent]
    default: present
  image:
    description:
      - The Distribution registry image.
    type: str
    default: registry:2
  volume:
    description:
      - Named volume holding the registry's storage, mounted at C(/var/lib/registry). Created when missing.
      - Without O(volume) and O(path), the image's anonymous volume holds it.
    type: str
  path:
    description:
      - Host directory holding the registry's storage, mounted at C(/var/lib/registry).
    type: path
  port:
    description:
      - TCP port the registry listens on.
    type: int
    default: 5000
  bind_address:
    description:
      - Host IP address the registry listens on; V(0.0.0.0) is every IPv4 address.
    type: str
    default: 0.0.0.0
  restart_policy:
    description:
      - Restart policy of the registry's container.
    type: str
    choices: ["no", on-failure, always, unless-stopped]
    default: always
  users:
    description:
      - "htpasswd users, a list of dicts with keys C(username) and C(password); passwords are stored as bcrypt
        hashes (made with C(htpasswd -B) from apache2-utils, which the host needs)."
      - Without users, the registry needs no authentication.
      - The whole list is hidden from logs (C(no_log)).
    type: list
    elements: dict
  certificate:
    description:
      - TLS certificate (PEM, with its chain) on the host; with O(key), the registry speaks HTTPS only.
      - Clients trust its CA through C(certs.d/<host:port>/ca.crt) beside the engine configuration.
    type: path
  key:
    description:
      - TLS private key (PEM) on the host.
    type: path
  proxy_remote_url:
    description:
      - Run as a pull-through cache of this registry (for example V(https://registry-1.docker.io)); the registry
        is then usable as a C(registry-mirrors) entry (see M(berth.engine.daemon_config)).
    type: str
  proxy_username:
    description:
      - User name at O(proxy_remote_url).
    type: str
  proxy_password:
    description:
      - Password at O(proxy_remote_url); it reaches the container only, as a secret environment variable.
    type: str
  delete_enabled:
    description:
      - Allow deleting manifests and blobs through the API.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for C(/v2/) to answer.
    type: float
    default: 60.0
seealso:
  - module: berth.engine.registry_info
  - module: berth.engine.registry_login
  - module: berth.engine.container
"""

EXAMPLES = r"""
- name: A private registry with its storage in a named volume
  berth.engine.registry:
    name: registry
    volume: registry-data
    port: 5000

- name: With users and TLS
  berth.engine.registry:
    name: secure-registry
    port: 5443
    path: /srv/registry
    users:
      - username: deploy
        password: "{{ vault_registry_password }}"
    certificate: /etc/pki/registry.crt
    key: /etc/pki/registry.key

- name: A pull-through cache of Docker Hub
  berth.engine.registry:
    name: hub-mirror
    port: 5001
    proxy_remote_url: https://registry-1.docker.io

- name: Offline, with the image made by scripts/registry-image.sh
  berth.engine.registry:
    image: localhost/berth/registry:2

- name: Remove it
  berth.engine.registry:
    name: registry
    state: absent
"""

RETURN = r"""
url:
  description: The registry's URL as clients on the host reach it; null after state=absent.
  returned: success
  type: str
  sample: http://127.0.0.1:5000
container:
  description: The registry's container, as M(berth.engine.container) returns it.
  returned: success
  type: dict
actions:
  description: What the task did (in check mode, would do).
  returned: success
  type: list
  elements: str
  sample: ["Created container registry", "Started container registry"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.engine.options.registry import REGISTRY_OPTIONS
from ansible_collections.berth.engine.plugins.module_utils.glue.registry_task import registry
from ansible_collections.berth.engine.plugins.module_utils.glue.runner import run_task


def main() -> None:
    run_task(AnsibleModule, REGISTRY_OPTIONS, task=registry)


if __name__ == "__main__":
    main()
