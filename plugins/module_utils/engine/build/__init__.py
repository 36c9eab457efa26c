# SPDX-License-Identifier: GPL-3.0-or-later
"""The Dockerfile builder (a component: it imports only ``engine.core`` and ``engine.errors``).

* :mod:`.dockerfile`: the parser, text -> stages of instructions (pure).
* :mod:`.context`: the build context (a directory, a tarball, a git repository) and ``.dockerignore``.
* :mod:`.builder`: runs the instructions; the store and the container runner are injected by the
  service (``services/build.py``), which is the only place that combines them.
"""
from __future__ import annotations
