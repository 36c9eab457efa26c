#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: daemon_config
short_description: Manage the engine configuration file (daemon.json) of Berth, or of Docker
version_added: 0.1.0
description:
  - Manages a configuration file in Docker's C(daemon.json) format, by default Berth's own
    C(/etc/berth/daemon.json). O(path) may name another file, such as Docker's C(/etc/docker/daemon.json).
  - Keys use Docker's C(daemon.json) names. Everything is validated before anything is written, with the same
    checks the Berth engine applies when it loads the file, and an error names the key and what is wrong.
  - "The Berth engine honours these keys: C(data-root), C(registry-mirrors), C(insecure-registries),
    C(max-concurrent-downloads), C(max-download-attempts), C(dns), C(dns-opts), C(dns-search), C(log-driver),
    C(log-opts), C(runtimes), C(default-runtime), C(labels), C(userns-remap), C(no-new-privileges),
    C(default-ulimits), C(default-cgroupns-mode), C(max-concurrent-uploads), C(proxies), C(bip), C(mtu),
    C(bridge), C(fixed-cidr), C(default-address-pools), C(ip), C(ip-forward), C(iptables)."
  - "It accepts and stores these, but does not act on them (C(berth info) lists each one that is set among its
    warnings): C(debug), C(features), C(live-restore), C(storage-driver), C(exec-opts), C(log-level), C(experimental)."
  - Berth has no daemon to restart. The engine reads the file on every operation, so a change applies to
    everything done from then on. Where a change concerns objects that exist already (a container keeps the
    C(dns), C(log-opts), C(userns-remap) or network settings it was created with; the images and containers of a
    previous C(data-root) stay where they are), the module returns it in RV(pending_changes), with the
    containers concerned and how to apply it, and warns.
author:
  - Berth developers (@berth-engine)
extends_documentation_fragment:
  - berth.engine.attributes
  - berth.engine.attributes.actiongroup_berth
attributes:
  check_mode:
    support: full
    details:
      - The file is read and the new configuration validated; nothing is written. The predicted C(changed),
        C(diff) and RV(pending_changes) equal those of the real run.
  diff_mode:
    support: full
    details:
      - The diff shows the configuration as JSON, before and after.
  idempotent:
    support: full
    details:
      - Values are compared as JSON data, not as text. Lists compare in order (the order of C(registry-mirrors) is
        the order they are tried in); the keys of an object compare in any order.
options:
  path:
    description:
      - The configuration file to manage.
      - The engine's configuration is C(/etc/berth/daemon.json) unless the engine is pointed at another
        (the O(config_path) of the other modules, which this option takes as an alias, so that C(module_defaults)
        for C(group/berth.engine.berth) apply to this module too).
      - For a Docker host, V(/etc/docker/daemon.json); Docker reads it when dockerd starts.
      - A missing file is an empty configuration; the file and its directory are created when a key is set.
    type: path
    default: /etc/berth/daemon.json
    aliases: [config_path]
  config:
    description:
      - C(daemon.json) keys and their values.
      - With O(state=present), each key is set to its value; other keys of the file are kept.
      - With O(replace=true), the file holds exactly these keys afterwards.
    type: dict
  keys:
    description:
      - The keys to remove; required with O(state=absent), which is the only state that uses it.
      - Keys the file does not have are ignored. Not used with O(config) or O(replace).
    type: list
    elements: str
  state:
    description:
      - V(present) sets the keys of O(config); V(absent) removes the keys of O(keys).
    type: str
    choices: [present, absent]
    default: present
  replace:
    description:
      - Replace the whole file with O(config) instead of merging into it.
    type: bool
    default: false
  allow_unknown_keys:
    description:
      - Accept keys the Berth engine does not know, with a warning; they are written as given.
      - Without it, such a key fails the task before anything is written, so that a typo does not silently
        do nothing.
      - Meant for files another engine reads (a newer dockerd's keys in C(/etc/docker/daemon.json)). The Berth
        engine refuses to load its own configuration when it has a key it does not know.
    type: bool
    default: false
  force:
    description:
      - An existing file that is not valid JSON fails the task (naming the line and column) and is left
        untouched. With V(true) it is overwritten with the new configuration (O(config) merged into nothing).
    type: bool
    default: false
  backup:
    description:
      - Before a change, copy the existing file to C(<path>.<pid>.<YYYY-MM-DD@HH:MM:SS>~), with its mode and owner.
    type: bool
    default: false
  data_root:
    description:
      - The data root whose containers a change may concern (for RV(pending_changes)).
      - When not set, the C(data-root) the file had before the change, and failing that C(/var/lib/berth).
    type: path
  lock_timeout:
    description:
      - Seconds to wait for a concurrent Berth operation to release a lock while the containers are listed.
    type: float
    default: 600
notes:
  - The file is written atomically (a temporary file beside it, synced, then renamed over it) and keeps its mode and
    owner; a new file is mode 0644 and owned by root. Readers see either the old or the new file, never a mix,
    even when the task is killed.
  - The file is written indented, with its keys in the order they had; a task that changes nothing does not
    rewrite it, whatever its formatting.
requirements:
  - Python 3.9 or newer on the target (standard library only).
  - Root on the target to write C(/etc/berth) or C(/etc/docker) (use O(ignore:become=true)).
seealso:
  - module: berth.engine.registry_login
"""

EXAMPLES = r"""
- name: Use a registry mirror and a private registry without TLS
  berth.engine.daemon_config:
    config:
      registry-mirrors:
        - https://mirror.example.com
      insecure-registries:
        - registry.internal:5000

- name: DNS servers for new containers, and log rotation
  berth.engine.daemon_config:
    config:
      dns: [192.0.2.53, 192.0.2.54]
      log-opts:
        max-size: 10m
        max-file: "3"
  register: cfg

- name: Say what existing containers keep until they are recreated
  ansible.builtin.debug:
    var: cfg.pending_changes

- name: Remove the mirror setting
  berth.engine.daemon_config:
    state: absent
    keys: [registry-mirrors]

- name: Manage Docker's own daemon.json, keeping a copy of the old one
  berth.engine.daemon_config:
    path: /etc/docker/daemon.json
    config:
      registry-mirrors: [https://mirror.example.com]
      live-restore: true
    backup: true
  notify: Restart docker
"""

RETURN = r"""
path:
  description: The file managed.
  returned: always
  type: str
  sample: /etc/berth/daemon.json
config:
  description: The configuration the file holds after the task (in check mode, would hold).
  returned: always
  type: dict
  sample: {"registry-mirrors": ["https://mirror.example.com"]}
backup_file:
  description: The copy made with O(backup=true).
  returned: when a backup was made
  type: str
  sample: /etc/berth/daemon.json.4242.2026-12-07@20:30:00~
pending_changes:
  description:
    - The changed keys whose new value does not reach objects that exist already, empty when there are none.
    - Reported when the data root (O(data_root), or the C(data-root) before the change) has containers.
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description: The key.
      type: str
      sample: dns
    before:
      description: Its value before the change (null when it was not set).
      type: raw
    after:
      description: Its value after the change (null when it is removed).
      type: raw
    containers:
      description: The containers that keep what they were created with.
      type: list
      elements: str
    how:
      description: What stays behind, and how to apply the change.
      type: str
      sample: existing containers keep the resolv.conf written when they were created; recreate them ...
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.engine.options.daemon import DAEMON_CONFIG_OPTIONS
from ansible_collections.berth.engine.plugins.module_utils.glue.daemon_config_task import daemon_config
from ansible_collections.berth.engine.plugins.module_utils.glue.runner import run_task


def main() -> None:
    run_task(AnsibleModule, DAEMON_CONFIG_OPTIONS, task=daemon_config, open_engine=False)


if __name__ == "__main__":
    main()
