# SPDX-License-Identifier: GPL-3.0-or-later
"""The Berth-owned nftables table ``inet berth``, driven through ``nft -j -f -`` (JSON, one batch per change).

Only this table is ever touched: nothing else on the host is flushed or reordered, so Docker, Podman or a
host firewall keep their own tables. Its base chains::

    prerouting   nat, dstnat      fib daddr type local -> jump ports     (published ports from outside)
    output       nat, dstnat      fib daddr type local -> jump ports     (from the host itself, 127.0.0.1 too)
    ports        regular chain    one DNAT rule per published port
    postrouting  nat, srcnat      masquerade: a subnet going out; DNATed traffic from the host's loopback
                                  or from the bridge itself (hairpin) going into a bridge
    forward      filter           isolation between Berth bridges; internal networks have no way out

Each rule carries a comment ``berth:<owner>`` (``net:NAME`` for a network, ``ctr:ID`` for a container's
ports): :meth:`Firewall.remove` deletes exactly the rules of one owner, by handle. The nft command is
injected (``run``) so unit tests record the batches; functional tests send real traffic.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

FAMILY = "inet"
TABLE = "berth"
#: base chains: name -> (type, hook, priority)
BASE_CHAINS = {
    "prerouting": ("nat", "prerouting", -100),
    "output": ("nat", "output", -100),
    "postrouting": ("nat", "postrouting", 100),
    "forward": ("filter", "forward", 0),
}
PROTOCOLS = ("tcp", "udp")


def run_nft(batch: dict[str, t.Any], read: bool = False) -> t.Any:
    """``nft -j -f -`` with *batch*; the parsed JSON output when *read*. A failure raises naming nft's error."""
    import json
    import subprocess

    argv = ["nft", "-j", "-f", "-"] if not read else ["nft", "-j", "list", "table", FAMILY, TABLE]
    try:
        proc = subprocess.run(argv, input=None if read else json.dumps(batch), capture_output=True, text=True,
                              check=False)
    except FileNotFoundError:
        from ..errors import EngineError

        raise EngineError("bridge networking needs the nft command (the nftables package), which is not on "
                          "this host's PATH; install it, or use network_mode host or none") from None
    if proc.returncode != 0:
        if read and "No such file or directory" in proc.stderr:
            return {"nftables": []}
        from ..errors import EngineError

        raise EngineError(f"nft failed: {proc.stderr.strip() or proc.returncode}")
    return json.loads(proc.stdout) if read else None


def _match(left: t.Any, right: t.Any, op: str = "==") -> dict[str, t.Any]:
    return {"match": {"op": op, "left": left, "right": right}}


def _meta(key: str) -> dict[str, t.Any]:
    return {"meta": {"key": key}}


def _ip(field: str, family: str = "ip") -> dict[str, t.Any]:
    return {"payload": {"protocol": family, "field": field}}


def _prefix(subnet: str) -> dict[str, t.Any]:
    addr, _slash, length = subnet.partition("/")
    return {"prefix": {"addr": addr, "len": int(length)}}


def _family(address: str) -> str:
    return "ip6" if ":" in address else "ip"


def _local() -> dict[str, t.Any]:
    return _match({"fib": {"result": "type", "flags": ["daddr"]}}, "local")


class Firewall:
    """Rules of networks and published ports in the ``inet berth`` table."""

    def __init__(self, run: t.Callable[..., t.Any] = run_nft) -> None:
        self.run = run

    # -- building blocks
    @staticmethod
    def _rule(chain: str, owner: str, expr: list[dict[str, t.Any]]) -> dict[str, t.Any]:
        return {"add": {"rule": {"family": FAMILY, "table": TABLE, "chain": chain, "comment": "berth:" + owner,
                                 "expr": expr}}}

    @staticmethod
    def skeleton() -> list[dict[str, t.Any]]:
        """The table and its chains (``add`` is idempotent: nothing existing is flushed)."""
        cmds: list[dict[str, t.Any]] = [{"add": {"table": {"family": FAMILY, "name": TABLE}}}]
        for name, (kind, hook, prio) in BASE_CHAINS.items():
            cmds.append({"add": {"chain": {"family": FAMILY, "table": TABLE, "name": name, "type": kind,
                                           "hook": hook, "prio": prio, "policy": "accept"}}})
        cmds.append({"add": {"chain": {"family": FAMILY, "table": TABLE, "name": "ports"}}})
        cmds.append({"add": {"set": {"family": FAMILY, "table": TABLE, "name": "bridges", "type": "ifname"}}})
        return cmds

    def _ensure(self, cmds: list[dict[str, t.Any]], listing: list[dict[str, t.Any]] | None = None) -> None:
        """Apply *cmds* after the skeleton; the jumps to ``ports`` are added once (owner ``table``). *listing*:
        :meth:`rules` as the caller read it a moment ago (one ``nft`` call less)."""
        batch = self.skeleton()
        if listing is not None:
            jumps = [r for r in listing if r.get("comment") == "berth:table"]
        else:
            jumps = self.rules("table")
        if not jumps:
            for chain in ("prerouting", "output"):
                batch.append(self._rule(chain, "table", [_local(), {"jump": {"target": "ports"}}]))
        self.run({"nftables": batch + cmds})

    # -- what callers use
    def network_rules(self, name: str, bridge: str, subnet: str, internal: bool = False,
                      masquerade: bool = True, icc: bool = True) -> list[dict[str, t.Any]]:
        """The rules of a network (owner ``net:NAME``), pure."""
        owner, fam = "net:" + name, _family(subnet)
        element = {"element": {"family": FAMILY, "table": TABLE, "name": "bridges", "elem": [bridge]}}
        rules = [{"add": element}]
        if internal:
            rules.append(self._rule("forward", owner, [_match(_meta("iifname"), bridge),
                                                       _match(_meta("oifname"), bridge, "!="), {"drop": None}]))
            rules.append(self._rule("forward", owner, [_match(_meta("oifname"), bridge),
                                                       _match(_meta("iifname"), bridge, "!="), {"drop": None}]))
            return rules
        if not icc:  # no traffic between containers of this network (needs br_netfilter to see bridged packets)
            rules.append(self._rule("forward", owner, [_match(_meta("iifname"), bridge),
                                                       _match(_meta("oifname"), bridge), {"drop": None}]))
        # isolation: nothing from another Berth bridge (the set ``bridges``) is forwarded into this one
        rules.append(self._rule("forward", owner, [_match(_meta("oifname"), bridge),
                                                   _match(_meta("iifname"), "@bridges"),
                                                   _match(_meta("iifname"), bridge, "!="), {"drop": None}]))
        if masquerade:
            rules.append(self._rule("postrouting", owner, [_match(_ip("saddr", fam), _prefix(subnet)),
                                                           _match(_meta("oifname"), bridge, "!="),
                                                           {"masquerade": None}]))
        # published ports reached from the host's loopback or from this bridge (hairpin): the reply must
        # come back through the host, so the source becomes the bridge's address
        rules.append(self._rule("postrouting", owner, [_match(_meta("oifname"), bridge),
                                                       _match({"ct": {"key": "status"}}, "dnat", "in"),
                                                       {"masquerade": None}]))
        return rules

    def port_rules(self, owner: str, ports: t.Iterable[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
        """DNAT rules (owner ``ctr:ID``) for published *ports*, pure: each ``{"protocol": tcp|udp,
        "host_ip": "" or an address, "host_port": N, "container_ip": A, "container_port": M}``."""
        rules = []
        for port in ports:
            proto = port.get("protocol", "tcp")
            if proto not in PROTOCOLS:
                from ..errors import InvalidOption

                raise InvalidOption("protocol", proto, "must be tcp or udp")
            cip = port["container_ip"]
            fam = _family(cip)
            expr = [_match(_meta("nfproto"), "ipv6" if fam == "ip6" else "ipv4")]
            host_ip = port.get("host_ip") or ""
            if host_ip not in ("", "0.0.0.0", "::"):
                expr.append(_match(_ip("daddr", fam), host_ip))
            expr.append(_match({"payload": {"protocol": proto, "field": "dport"}}, int(port["host_port"])))
            expr.append({"dnat": {"family": fam, "addr": cip, "port": int(port["container_port"])}})
            rules.append(self._rule("ports", owner, expr))
        return rules

    def add(self, cmds: list[dict[str, t.Any]], listing: list[dict[str, t.Any]] | None = None) -> None:
        """Apply rules (from :meth:`network_rules` / :meth:`port_rules`) in one batch, with the table."""
        self._ensure(cmds, listing)

    def delete(self, rules: t.Iterable[dict[str, t.Any]]) -> int:
        """Delete *rules* (as :meth:`rules` lists them, with their handles) in one batch; returns how many."""
        cmds = [{"delete": {"rule": {"family": FAMILY, "table": TABLE, "chain": r["chain"], "handle": r["handle"]}}}
                for r in rules]
        if cmds:
            self.run({"nftables": cmds})
        return len(cmds)

    def rules(self, owner: str | None = None) -> list[dict[str, t.Any]]:
        """The rules of the table (of *owner* only, if given), as nft lists them (with ``handle``)."""
        listing = self.run(None, read=True).get("nftables", [])
        found = [item["rule"] for item in listing if "rule" in item]
        if owner is not None:
            found = [rule for rule in found if rule.get("comment") == "berth:" + owner]
        return found

    def remove(self, owner: str, bridge: str | None = None) -> int:
        """Delete the rules of *owner* (and *bridge* from the set of bridges); returns how many rules."""
        mine = self.rules(owner)
        cmds: list[dict[str, t.Any]] = [
            {"delete": {"rule": {"family": FAMILY, "table": TABLE, "chain": rule["chain"], "handle": rule["handle"]}}}
            for rule in mine]
        if bridge is not None and self._has_bridge(bridge):
            cmds.append({"delete": {"element": {"family": FAMILY, "table": TABLE, "name": "bridges",
                                                "elem": [bridge]}}})
        if cmds:
            self.run({"nftables": cmds})
        return len(mine)

    def _has_bridge(self, bridge: str) -> bool:
        listing = self.run(None, read=True).get("nftables", [])
        for item in listing:
            if item.get("set", {}).get("name") == "bridges":
                return bridge in (item["set"].get("elem") or [])
        return False

    def delete_table(self) -> None:
        """Remove the whole ``inet berth`` table (when the last network goes); absent is fine."""
        if self.run(None, read=True).get("nftables"):
            self.run({"nftables": [{"delete": {"table": {"family": FAMILY, "name": TABLE}}}]})


def allow_localnet(bridge: str) -> None:
    """``route_localnet`` on *bridge*: the host's own 127.0.0.1:PORT, DNATed to a container, may leave
    through the bridge (then masqueraded), as netavark does."""
    _write_sysctl(f"net/ipv4/conf/{bridge}/route_localnet", "1")


def set_hairpin(bridge: str, port: str) -> None:
    """``hairpin_mode`` on the bridge port *port* of *bridge*: a container may reach its own published port
    through the host's address (the DNATed packet goes back out of the port it came in by)."""
    _write_sysctl_path(f"/sys/class/net/{bridge}/brif/{port}/hairpin_mode", "1")


def enable_ip_forward() -> None:
    """``net.ipv4.ip_forward = 1`` (the engine config's ``ip-forward``, true by default, as in Docker)."""
    try:
        with open("/proc/sys/net/ipv4/ip_forward", encoding="ascii") as fh:
            if fh.read().strip() == "1":
                return
    except OSError:
        pass
    _write_sysctl("net/ipv4/ip_forward", "1")


def _write_sysctl_path(path: str, value: str) -> None:
    with open(path, "w", encoding="ascii") as fh:
        fh.write(value)


def _write_sysctl(key: str, value: str) -> None:
    with open("/proc/sys/" + key, "w", encoding="ascii") as fh:
        fh.write(value)
