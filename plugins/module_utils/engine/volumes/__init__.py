# SPDX-License-Identifier: GPL-3.0-or-later
"""Volumes: named and anonymous volumes of the ``local`` driver (:mod:`.local`).

The front door: code outside this package imports the names of ``__all__`` from here. Nothing on the start
path of a container without volumes imports this package.
"""
from __future__ import annotations

from .local import (
    ANONYMOUS_LABEL,
    DRIVER,
    LocalVolumes,
    Volume,
    VolumeClaim,
    check_driver,
    check_driver_options,
    check_labels,
    check_name,
)

__all__ = ["ANONYMOUS_LABEL", "DRIVER", "LocalVolumes", "Volume", "VolumeClaim", "check_driver",
           "check_driver_options", "check_labels", "check_name"]
