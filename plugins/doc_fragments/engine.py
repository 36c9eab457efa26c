# SPDX-License-Identifier: GPL-3.0-or-later
"""Options shared by every engine-backed module (engine/options/common.py)."""
from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  data_root:
    description:
      - Directory holding the engine state (images, layers, containers).
      - When not set, the C(data-root) key of O(config_path) is used, and failing that C(/var/lib/berth).
      - Must be an absolute path.
    type: path
  config_path:
    description:
      - Path of the engine configuration file, in Docker's C(daemon.json) format
        (C(insecure-registries), C(registry-mirrors), C(data-root), ...).
      - Registry certificates are read from C(certs.d/<host>/) and credentials from C(auth.json) beside it.
      - When not set, C(/etc/berth/daemon.json) is used; a missing file means all defaults.
    type: path
  lock_timeout:
    description:
      - Seconds to wait for a concurrent Berth operation (another task, the C(berth) CLI) to release the
        engine lock before failing.
    type: float
    default: 600
requirements:
  - Python 3.9 or newer on the target, with C(requests) for registry access (Debian's and Ubuntu's C(python3-requests)).
  - Root on the target (use O(ignore:become=true)).
  - Linux.
notes:
  - Berth is daemonless; nothing needs to run or be installed on the target besides Python (and C(requests) to
    pull or push).
"""
