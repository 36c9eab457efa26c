# SPDX-License-Identifier: GPL-3.0-or-later
"""The container supervisor (the conmon analogue)."""
