# SPDX-License-Identifier: GPL-3.0-or-later
"""Container use cases: one module per verb group behind one :class:`ContainerService` (service.py lists
them). The names callers import from ``services.containers`` are re-exported here."""
from __future__ import annotations

from .records import ContainerRecord, RunResult, Stdio
from .service import ContainerService

__all__ = ["ContainerService", "ContainerRecord", "RunResult", "Stdio"]
