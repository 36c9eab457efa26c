# SPDX-License-Identifier: GPL-3.0-or-later
"""A container's ``/etc/resolv.conf`` and ``/etc/hosts`` (pure text generation).

resolv.conf comes from the first source that sets anything, as in Docker:

1. the container's ``dns`` / ``dns_search`` / ``dns_opts``;
2. the engine config's ``dns`` / ``dns-search`` / ``dns-opts``;
3. the host's file; on a bridge network its loopback resolvers (``127.0.0.0/8``, ``::1``) are dropped,
   since they do not answer inside the container's namespace, and Docker's fallback (Google's
   8.8.8.8 / 8.8.4.4) is used when none is left.

Within sources 1 and 2, each of the three keys falls back separately to the host file's value, as
Docker does for ``--dns`` with the host's ``search``.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

#: Docker's resolvers when the host's are all loopback addresses (``libnetwork/resolvconf``).
FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")


def parse_resolv_conf(text: str) -> dict[str, list[str]]:
    """``{"nameservers", "search", "options"}`` of a resolv.conf's text (comments and unknown lines dropped;
    the last ``search``/``domain`` wins, as in glibc)."""
    result: dict[str, list[str]] = {"nameservers": [], "search": [], "options": []}
    for line in text.splitlines():
        words = line.split("#", 1)[0].split(";", 1)[0].split()
        if not words:
            continue
        key, args = words[0], words[1:]
        if key == "nameserver" and args:
            result["nameservers"].append(args[0])
        elif key in ("search", "domain"):
            result["search"] = args
        elif key == "options":
            result["options"].extend(args)
    return result


def is_loopback(address: str) -> bool:
    address = address.split("%", 1)[0]
    return address.startswith("127.") or address in ("::1", "0:0:0:0:0:0:0:1")


def resolv_conf(host_text: str, bridge: bool, container: dict[str, t.Any] | None = None,
                engine: dict[str, t.Any] | None = None) -> str:
    """The resolv.conf text of a container.

    *container*: ``{"dns", "dns_search", "dns_opts"}`` (lists, any may be missing or empty).
    *engine*: the engine config's ``{"dns", "dns-search", "dns-opts"}``.
    *bridge*: the container has its own network namespace (bridge/none): loopback resolvers are filtered.
    """
    host = parse_resolv_conf(host_text)
    container = container or {}
    engine = engine or {}
    chosen = None
    for source, keys in ((container, ("dns", "dns_search", "dns_opts")), (engine, ("dns", "dns-search", "dns-opts"))):
        values = [list(source.get(k) or ()) for k in keys]
        if any(values):
            chosen = values
            break
    if chosen is None:
        chosen = [[], [], []]
    servers = chosen[0] or host["nameservers"]
    search = chosen[1] or host["search"]
    options = chosen[2] or host["options"]
    if bridge and not chosen[0]:
        servers = [s for s in servers if not is_loopback(s)] or list(FALLBACK_NAMESERVERS)
    lines = [f"nameserver {s}" for s in servers]
    # "." alone means "no search domains" (docker run --dns-search .)
    search = [d for d in search if d != "."]
    if search:
        lines.append("search " + " ".join(search))
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def hosts_file(hostname: str, addresses: t.Iterable[str] = (), aliases: t.Iterable[str] = (),
               extra_hosts: t.Iterable[tuple[str, str]] = (), ipv6: bool = True) -> str:
    """The /etc/hosts text: localhost lines, then *extra_hosts* (``(name, address)``, as ``--add-host``),
    then the container's own *addresses* with its *hostname* and *aliases*. With no address (network
    none/host-less) the hostname is not listed, as in Docker."""
    lines = ["127.0.0.1\tlocalhost"]
    if ipv6:
        lines += ["::1\tlocalhost ip6-localhost ip6-loopback", "fe00::0\tip6-localnet", "ff00::0\tip6-mcastprefix",
                  "ff02::1\tip6-allnodes", "ff02::2\tip6-allrouters"]
    for name, address in extra_hosts:
        lines.append(f"{address}\t{name}")
    names = [hostname] + [a for a in aliases if a != hostname]
    for address in addresses:
        lines.append(f"{address}\t" + " ".join(names))
    return "\n".join(lines) + "\n"
