# SPDX-License-Identifier: GPL-3.0-or-later
"""Container cgroups: v1 (and hybrid hosts) and v2 managers behind one protocol.

``detect.manager(cgroups_path)`` picks the manager for the host; ``base.CgroupManager`` is the
protocol the runtime and the monitor use (create, apply, add_pid, freeze/thaw, stats, destroy).
"""
from __future__ import annotations
