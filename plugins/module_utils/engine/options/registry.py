# SPDX-License-Identifier: GPL-3.0-or-later
"""Options of the ``registry_login`` task (the module DOCUMENTATION mirrors this table exactly)."""
from __future__ import annotations

from .common import ENGINE_OPTIONS
from .model import Option, OptionTable

STATES = ("present", "absent")

REGISTRY_LOGIN_OPTIONS = OptionTable(
    options=(
        Option("registry_url", default="docker.io", aliases=("registry", "url"),
               doc="Registry host[:port] (a URL's scheme and path are dropped); docker.io is Docker Hub."),
        Option("username", doc="User name; required with state=present."),
        Option("password", no_log=True, doc="Password or access token; required with state=present."),
        Option("reauthorize", kind="bool", default=False,
               doc="Check and store the credentials even when the stored ones are the same and work."),
        Option("state", default="present", choices=STATES, doc="present: log in; absent: log out."),
    )
    + ENGINE_OPTIONS,
    required_if=(("state", "present", ("username", "password")),),
)
