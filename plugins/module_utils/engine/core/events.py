# SPDX-License-Identifier: GPL-3.0-or-later
"""Progress events: the engine reports, the CLI renders, modules ignore."""
from __future__ import annotations

import typing as t


class Event(t.NamedTuple):
    """One progress report.

    kind: ``resolve``, ``layer.exists``, ``layer.download``, ``layer.extract``,
    ``layer.done``, ``image.done``, ``status`` (free text in *message*).
    ident: short id of the thing (a layer's short digest, an image reference).
    current/total: bytes so far and expected (total 0 = unknown).
    """

    kind: str
    ident: str
    current: int = 0
    total: int = 0
    message: str = ""


Callback = t.Callable[[Event], None]


def ignore(_event: Event) -> None:
    """The default callback."""
