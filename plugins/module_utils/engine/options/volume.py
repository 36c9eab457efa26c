# SPDX-License-Identifier: GPL-3.0-or-later
"""Options of the ``volume`` and ``volume_info`` tasks (community.docker's ``docker_volume`` names).

The module DOCUMENTATION mirrors these tables exactly (a unit test compares names, types, elements,
choices, defaults and aliases).
"""
from __future__ import annotations

import typing as t

from .common import ENGINE_OPTIONS
from .model import Option, OptionTable

STATES = ("present", "absent")
RECREATE = ("never", "options-changed", "always")

VOLUME_OPTIONS = OptionTable(
    options=(
        Option("name", required=True, aliases=("volume_name",), doc="Name of the volume."),
        Option("state", default="present", choices=STATES, doc="Whether the volume should exist."),
        Option("driver", default="local", doc="Volume driver (only local)."),
        Option("driver_options", kind="dict", aliases=("driver_opts",),
               doc="Options of the local driver: type, o, device."),
        Option("labels", kind="dict", doc="Labels of the volume."),
        Option("recreate", default="never", choices=RECREATE,
               doc="When an existing volume is removed and created again."),
    )
    + ENGINE_OPTIONS
)

VOLUME_INFO_OPTIONS = OptionTable(
    options=(Option("name", required=True, aliases=("volume_name",), doc="Name of the volume to inspect."),)
    + ENGINE_OPTIONS
)


def option_differences(volume: t.Mapping[str, t.Any], driver: str, driver_options: t.Mapping[str, str],
                       labels: t.Mapping[str, str]) -> list[str]:
    """What of the task differs from the existing *volume* (community.docker's rule): the driver, and each
    driver option and label the task names (other labels of the volume are left alone)."""
    out = []
    if (volume.get("Driver") or "local") != driver:
        out.append("driver")
    have_opts = volume.get("Options") or {}
    out += [f"driver_options.{k}" for k, v in sorted(driver_options.items()) if have_opts.get(k) != v]
    have_labels = volume.get("Labels") or {}
    out += [f"labels.{k}" for k, v in sorted(labels.items()) if have_labels.get(k) != v]
    return out
