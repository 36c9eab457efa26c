# SPDX-License-Identifier: GPL-3.0-or-later
"""Berth's version, in one place: ``berth version``, ``system info`` and ``berth-runtime --version`` report it
(a module of its own so that the CLI's ``--version`` loads no service to read it)."""

VERSION = "0.1.0"
