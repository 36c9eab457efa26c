# SPDX-License-Identifier: GPL-3.0-or-later
"""Standard attribute descriptions and ready-made attribute blocks.

Use C(berth.engine.attributes) for the descriptions, then add blocks such as
C(berth.engine.attributes.actiongroup_berth) and state each attribute's
C(support) in the module's own C(attributes) section.
"""
from __future__ import annotations


class ModuleDocFragment:
    # The descriptions; each module states support (full/partial/none) and details.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying the target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)),
      when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation
        indicates no change.
      - This assumes that the system controlled/queried by the module has not changed in a relevant way.
"""

    # Member of the action group berth.engine.berth (meta/runtime.yml).
    ACTIONGROUP_BERTH = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/berth.engine.berth) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - berth.engine.berth
"""

    # For *_info modules: they change nothing.
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
  idempotent:
    support: full
    details:
      - This action does not modify state.
"""
