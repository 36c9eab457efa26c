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

#: The image the ``registry`` module runs unless told otherwise (Docker Hub's Distribution registry).
REGISTRY_IMAGE = "registry:2"
RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")

REGISTRY_OPTIONS = OptionTable(
    options=(
        Option("name", default="registry", doc="Name of the registry's container."),
        Option("state", default="present", choices=STATES, doc="present: deployed and answering; absent: removed."),
        Option("image", default=REGISTRY_IMAGE, doc="Distribution registry image to run."),
        Option("volume", doc="Named volume holding the registry's storage (/var/lib/registry)."),
        Option("path", kind="path", doc="Host directory holding the registry's storage (/var/lib/registry)."),
        Option("port", kind="int", default=5000, doc="TCP port the registry listens on."),
        Option("bind_address", default="0.0.0.0", doc="Host address the registry listens on."),
        Option("restart_policy", default="always", choices=RESTART_POLICIES,
               doc="Restart policy of the registry's container."),
        Option("users", kind="list", elements="dict", no_log=True,
               doc="htpasswd users, each {username, password}; none: no authentication."),
        Option("certificate", kind="path", doc="TLS certificate (PEM, chain) on the host; with key: HTTPS."),
        Option("key", kind="path", no_log=False, doc="TLS private key (PEM) on the host."),
        Option("proxy_remote_url", doc="Upstream registry URL: run as a pull-through cache of it."),
        Option("proxy_username", doc="User name at proxy_remote_url."),
        Option("proxy_password", no_log=True, doc="Password at proxy_remote_url."),
        Option("delete_enabled", kind="bool", default=False, doc="Allow deleting blobs and manifests (API DELETE)."),
        Option("wait_timeout", kind="float", default=60.0, doc="Seconds to wait for /v2/ to answer."),
    )
    + ENGINE_OPTIONS,
    mutually_exclusive=(("volume", "path"),),
    required_together=(("certificate", "key"), ("proxy_username", "proxy_password")),
)

REGISTRY_INFO_OPTIONS = OptionTable(
    options=(
        Option("registry_url", required=True, aliases=("registry", "url"),
               doc="Registry host[:port] (a URL's scheme and path are dropped)."),
        Option("repositories", kind="list", elements="str",
               doc="Repositories whose tags to list; default: every repository of the catalog."),
        Option("page_size", kind="int", default=100, doc="Entries asked for per request (n)."),
    )
    + ENGINE_OPTIONS
)
