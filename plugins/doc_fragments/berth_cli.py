# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Options of the plugins that drive the berth CLI (connection berth, inventory berth_containers):
plugin_utils/berth_cli.py. The connection plugin adds its vars/ini entries to these options."""
from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  data_root:
    description:
      - The engine's data root (C(berth --root)).
      - When not set, C(berth) uses the C(data-root) of O(config_path), else C(/var/lib/berth).
    type: path
    env:
      - name: BERTH_ROOT
  config_path:
    description:
      - The engine's configuration file (C(berth --config)); C(/etc/berth/daemon.json) when not set.
    type: path
    env:
      - name: BERTH_CONFIG
  berth_command:
    description:
      - The C(berth) executable.
      - When not set, this collection's C(bin/berth) for containers on the controller, else C(berth) on the
        PATH; through ssh, C(berth) on the remote PATH.
    type: str
  ssh_host:
    description:
      - "The host whose containers to reach, as C([user@]host): every C(berth) call then runs there through
        C(ssh -o BatchMode=yes), so that host needs key-based login and the C(berth) CLI on its PATH (the
        C(berth.engine.host) role installs it)."
      - When not set, the containers are on the controller.
    type: str
  ssh_args:
    description:
      - More arguments for C(ssh) when O(ssh_host) is set, split as a shell does (C(-p 2222 -i key)).
    type: str
    default: ''
"""
