# SPDX-License-Identifier: GPL-3.0-or-later
"""Networking: the components the bridge network mode is built from (see ``docs/dev/networking.md``).

Layout::

    ipam.py      subnets from address pools, container addresses persisted per network (flock + atomic JSON)
    links.py     bridges, veth pairs, the container's eth0/lo/default route (pyroute2, imported lazily)
    firewall.py  the Berth-owned nftables table (``nft -j -f -``): masquerade, published ports, isolation
    dns.py       resolv.conf and /etc/hosts text

The front door: code outside this package imports the names of ``__all__`` from here. They are looked
up lazily (``core.frontdoor.lazy_names``): importing the package imports nothing, so the ``none``/``host``
start path never pays for ``ipaddress`` or pyroute2.
"""
from __future__ import annotations

from ..core.frontdoor import lazy_names

TYPE_CHECKING = False
if TYPE_CHECKING:  # never run. For type checkers, and for AnsiballZ: it ships the module_utils files a task
    # reaches through static imports only (never an import by name, as lazy_names does)
    from . import dns, firewall, ipam, links  # noqa: F401

#: The front door: public name -> "module" (the same name there) or "module:name".
_EXPORTS = {
    "Ipam": "ipam", "BridgeClaims": "ipam", "DEFAULT_POOLS": "ipam", "DEFAULT_BRIDGE_SUBNET": "ipam", "plan_network": "ipam",
    "resolv_conf": "dns", "hosts_file": "dns",
    "Netlink": "links", "NsFd": "links", "open_netlink": "links", "ensure_bridge": "links", "delete_bridge": "links",
    "delete_link": "links", "attach": "links", "stable_mac": "links",
    "import_pyroute2": "links",
    "Firewall": "firewall", "allow_localnet": "firewall", "set_hairpin": "firewall", "enable_ip_forward": "firewall",
}
__all__ = tuple(_EXPORTS)

__getattr__ = lazy_names(__name__, _EXPORTS)
