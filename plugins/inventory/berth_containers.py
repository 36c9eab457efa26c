# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A host's Berth containers as inventory hosts (``berth ps`` + ``berth inspect``)."""
from __future__ import annotations

DOCUMENTATION = r"""
name: berth_containers
short_description: Berth containers as inventory hosts
description:
  - Lists the containers of a Berth data root, on the controller or on another host through ssh (O(ssh_host)),
    and makes each one an inventory host named after the container.
  - Each container joins a group for its image (C(image_<reference>), for example C(image_nginx_1_27) for
    C(nginx:1.27)) and one per label (C(label_<key>_<value>)); O(compose), O(groups) and O(keyed_groups) add
    more from the host variables below.
  - With O(connection_vars), the hosts are reached through the P(berth.engine.berth#connection) connection
    with the same data root, configuration and ssh hop.
  - "Host variables: C(berth_id), C(berth_name), C(berth_image) (the reference the container was created
    from), C(berth_image_id), C(berth_labels), C(berth_status) (C(running), C(exited), ...),
    C(berth_running), C(berth_hostname), C(berth_ip_address) (empty without a network), and with
    O(verbose_output) C(berth_inspect), the whole C(berth inspect) record."
  - The configuration file's name must end with C(berth.yml), C(berth.yaml), C(berth_containers.yml) or
    C(berth_containers.yaml).
author:
  - Berth developers (@berth-engine)
extends_documentation_fragment:
  - constructed
  - berth.engine.berth_cli
options:
  plugin:
    description:
      - The name of this plugin.
    type: str
    required: true
    choices:
      - berth.engine.berth_containers
  all:
    description:
      - Include stopped containers too; by default only running ones (the ones tasks can run in).
    type: bool
    default: false
  connection_vars:
    description:
      - Set C(ansible_connection=berth.engine.berth) and the connection's C(ansible_berth_*) variables
        (data root, configuration, command, ssh hop) on every host.
    type: bool
    default: true
  verbose_output:
    description:
      - Add the whole C(berth inspect) record as C(berth_inspect).
    type: bool
    default: false
"""

EXAMPLES = r"""
# berth.yml: the running containers of the controller's default data root
plugin: berth.engine.berth_containers

# node1.berth.yml: the containers of node1, every one, grouped by a label's value and by state
plugin: berth.engine.berth_containers
ssh_host: root@node1
all: true
keyed_groups:
  - key: berth_labels['tier'] | default('none')
    prefix: tier
  - key: berth_status
    prefix: status
compose:
  ansible_python_interpreter: "'/usr/bin/python3'"
"""

import json
import subprocess
import typing as t

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.inventory.group import to_safe_group_name
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.berth.engine.plugins.plugin_utils.berth_cli import BerthCli, BerthCliError

#: Registry prefixes left out of group names: ``image_nginx_1_27``, not ``image_docker_io_library_nginx_1_27``.
_SHORT_IMAGE_PREFIXES = ("docker.io/library/", "docker.io/")


def image_group(reference: str) -> str:
    """``docker.io/library/nginx:1.27`` -> ``image_nginx_1_27``."""
    for prefix in _SHORT_IMAGE_PREFIXES:
        if reference.startswith(prefix):
            reference = reference[len(prefix):]
            break
    return to_safe_group_name(f"image_{reference}", force=True, silent=True)


def label_group(key: str, value: str) -> str:
    """``tier=web`` -> ``label_tier_web``; a label without a value -> ``label_<key>``."""
    return to_safe_group_name(f"label_{key}_{value}" if value else f"label_{key}", force=True, silent=True)


class InventoryModule(BaseInventoryPlugin, Constructable):
    """One host per container, grouped by image and label."""

    NAME = "berth.engine.berth_containers"

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith(
            ("berth.yml", "berth.yaml", "berth_containers.yml", "berth_containers.yaml"))

    def parse(self, inventory: t.Any, loader: t.Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            cli = BerthCli(command=self.get_option("berth_command"), data_root=self.get_option("data_root"),
                           config_path=self.get_option("config_path"), ssh_host=self.get_option("ssh_host"),
                           ssh_args=self.get_option("ssh_args"))
        except BerthCliError as exc:
            raise AnsibleParserError(f"{path}: {exc}") from None
        for record in self._containers(cli):
            self._add_host(cli, record)

    def _run(self, cli: BerthCli, *args: str) -> str:
        proc = subprocess.run(cli.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        if proc.returncode != 0:
            raise AnsibleError(f"berth {args[0]} ({cli.where()}) failed: {to_text(proc.stderr).strip()}")
        return to_text(proc.stdout)

    def _containers(self, cli: BerthCli) -> list[dict[str, t.Any]]:
        ps = ["ps", "--quiet", "--no-trunc"] + (["--all"] if self.get_option("all") else [])
        ids = self._run(cli, *ps).split()
        if not ids:
            return []
        try:
            records = json.loads(self._run(cli, "inspect", "--type", "container", *ids))
        except ValueError as exc:
            raise AnsibleError(f"berth inspect ({cli.where()}) printed no JSON: {exc}") from None
        return sorted(records, key=lambda r: r.get("Name", ""))

    def _add_host(self, cli: BerthCli, record: dict[str, t.Any]) -> None:
        config = record.get("Config") or {}
        state = record.get("State") or {}
        labels = config.get("Labels") or {}
        # names, references, IDs and host names are restricted to [A-Za-z0-9_.:/@-]: only labels can hold "{{"
        name = (record.get("Name") or record["Id"][:12]).lstrip("/")
        networks = (record.get("NetworkSettings") or {}).get("Networks") or {}
        facts: dict[str, t.Any] = {
            "berth_id": record["Id"],
            "berth_name": name,
            "berth_image": config.get("Image", ""),
            "berth_image_id": record.get("Image", ""),
            "berth_labels": wrap_var(dict(labels)),  # free text: never a template
            "berth_status": state.get("Status", ""),
            "berth_running": bool(state.get("Running")),
            "berth_hostname": config.get("Hostname", ""),
            "berth_ip_address": next((n.get("IPAddress") for n in networks.values() if n.get("IPAddress")), ""),
        }
        if self.get_option("verbose_output"):
            facts["berth_inspect"] = wrap_var(record)
        if self.get_option("connection_vars"):
            facts["ansible_connection"] = "berth.engine.berth"
            facts["ansible_berth_container"] = name
            for var, value in (("ansible_berth_data_root", cli.data_root), ("ansible_berth_config_path",
                               cli.config_path), ("ansible_berth_ssh_host", cli.ssh_host)):
                if value:
                    facts[var] = value
            if self.get_option("berth_command"):
                facts["ansible_berth_command"] = cli.command
            if cli.ssh_host and cli.ssh_args:
                facts["ansible_berth_ssh_args"] = self.get_option("ssh_args")

        host = self.inventory.add_host(name)
        for key, value in facts.items():
            self.inventory.set_variable(host, key, value)
        groups = [image_group(facts["berth_image"])] if facts["berth_image"] else []
        groups += [label_group(k, v) for k, v in sorted(labels.items())]
        for group in groups:
            self.inventory.add_group(group)
            self.inventory.add_child(group, host)

        strict = self.get_option("strict")
        hostvars = self.inventory.get_host(host).get_vars()
        self._set_composite_vars(self.get_option("compose"), hostvars, host, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), hostvars, host, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, host, strict=strict)
