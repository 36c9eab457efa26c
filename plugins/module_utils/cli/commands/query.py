# SPDX-License-Identifier: GPL-3.0-or-later
"""Container verbs that only read: ps, inspect, logs, top, stats and wait."""
from __future__ import annotations

import datetime
import re
import time
import typing as t

from .. import render
from ..context import UsageError, binary_writer
from ...engine.errors import Conflict, EngineError, InvalidOption, NotFound
from ...engine.options import container as copts
from . import images as images_cmd

if t.TYPE_CHECKING:
    from ..context import Context


# ================================================================ ps
_PS_HEADERS = {
    "ID": "CONTAINER ID",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED",
    "Ports": "PORTS",
    "State": "STATE",
    "Status": "STATUS",
    "Size": "SIZE",
    "Names": "NAMES",
    "Labels": "LABELS",
    "Mounts": "MOUNTS",
    "Networks": "NETWORKS",
    "LocalVolumes": "LOCAL VOLUMES",
}


def ps_image(image: str, image_id: str, trunc: bool) -> str:
    """docker's ``ContainerContext.Image``: an ID shown short, a reference in its familiar form, digests dropped."""
    if not image:
        return "<no image>"
    if not trunc:
        return image
    if image_id and render.trunc_id(image_id) == render.trunc_id(image):
        return render.trunc_id(image)
    name = render.familiar_image(image)
    if "@" in name:
        return name.split("@", 1)[0]
    return name


def ps_ports(ports: t.Iterable[t.Mapping[str, t.Any]]) -> str:
    """docker's ``DisplayablePorts``: ``0.0.0.0:8080->80/tcp``, an exposed port as ``80/tcp``, consecutive
    ports of one address and protocol folded into a range (``0.0.0.0:8000-8001->80-81/tcp``)."""
    def key(p: t.Mapping[str, t.Any]) -> tuple[str, str, int, int]:
        return (str(p.get("Type") or "tcp"), str(p.get("IP") or ""), int(p.get("PrivatePort") or 0),
                int(p.get("PublicPort") or 0))

    runs: list[list[t.Any]] = []  # [type, ip, first private, last private, first public, last public]
    for typ, ip, private, public in sorted(key(p) for p in ports):
        last = runs[-1] if runs else None
        if (last and last[:2] == [typ, ip] and private == last[3] + 1
                and ((public == 0 and last[5] == 0) or (public and public == last[5] + 1))):
            last[3], last[5] = private, public
        else:
            runs.append([typ, ip, private, private, public, public])

    def span(lo: int, hi: int) -> str:
        return str(lo) if lo == hi else f"{lo}-{hi}"

    out = []
    for typ, ip, lo, hi, plo, phi in runs:
        inner = f"{span(lo, hi)}/{typ}"
        if plo:
            host = f"[{ip}]" if ":" in ip else ip
            out.append(f"{host}:{span(plo, phi)}->{inner}")
        else:
            out.append(inner)
    return ", ".join(out)


def ps_items(
    containers: t.Sequence[t.Mapping[str, t.Any]],
    trunc: bool = True,
    now: float | None = None,
    sizes: t.Mapping[str, tuple[int, int]] | None = None,
) -> list[dict[str, str]]:
    """The fields docker's container formatter offers, one dict per container (``docker ps``)."""
    items = []
    for c in containers:
        command = str(c.get("Command") or "")
        if trunc:
            command = render.ellipsis(command, 20)
        labels = c.get("Labels") or {}
        created = int(c.get("Created") or 0)
        size = ""
        if sizes is not None:
            rw, virtual = sizes.get(str(c.get("Id")), (0, 0))
            size = f"{render.human_size(rw, 3)} (virtual {render.human_size(virtual, 3)})"
        net = (c.get("HostConfig") or {}).get("NetworkMode") or ""
        items.append(
            {
                "Command": render.go_quote(command),
                "CreatedAt": render.go_time(created),
                "ID": render.trunc_id(str(c.get("Id", "")), trunc),
                "Image": ps_image(str(c.get("Image") or ""), str(c.get("ImageID") or ""), trunc),
                "Labels": ",".join(f"{k}={labels[k]}" for k in sorted(labels)),
                "LocalVolumes": "0",
                "Mounts": "",
                "Names": ",".join(str(n).lstrip("/") for n in c.get("Names") or []),
                "Networks": net,
                "Ports": ps_ports(c.get("Ports") or ()),
                "RunningFor": render.created_since(created, now),
                "Size": size,
                "State": str(c.get("State") or ""),
                "Status": str(c.get("Status") or ""),
            }
        )
    return items


def ps(ctx: Context) -> int:
    a = ctx.args
    flt = images_cmd._filters(a.filter, a._parser.prog)
    last = 1 if a.latest else a.last
    svc = ctx.engine.containers
    found = svc.list(all=a.all or last > 0, filters=flt or None)
    if last > 0:
        found = found[:last]
    trunc = not a.no_trunc
    if a.quiet:
        for c in found:
            ctx.out(render.trunc_id(str(c.get("Id", "")), trunc))
        return 0
    sizes = _sizes(ctx, found) if a.size else None
    items = ps_items(found, trunc, sizes=sizes)
    fmt = a.format or "table"
    if fmt == "table":
        cols = ["ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names"]
        if a.size:
            cols.append("Size")
        rows = [[_PS_HEADERS[c] for c in cols]] + [[i[c] for c in cols] for i in items]
        ctx.stdout.write(render.table(rows))
        return 0

    ctx.stdout.write(images_cmd._format(fmt, items, _PS_HEADERS, a._parser.prog))
    return 0


def _sizes(ctx: Context, found: t.Sequence[t.Mapping[str, t.Any]]) -> dict[str, tuple[int, int]]:
    """(SizeRw, SizeRootFs) per container: its own layer, and that plus its image."""
    wanted = {str(c.get("Id")) for c in found}
    image_size = {str(i.get("Id")): int(i.get("Size") or 0) for i in ctx.engine.images.list(all=True)}
    out = {}
    for c in ctx.engine.containers.disk_usage():
        if c.get("Id") in wanted:
            rw = int(c.get("SizeRw") or 0)
            out[str(c["Id"])] = (rw, rw + image_size.get(str(c.get("ImageID")), 0))
    return out


# ================================================================ logs
def parse_time(value: str, now: float | None = None) -> float:
    """docker's ``GetTimestamp``: a Go duration back from now (``10m``), unix seconds (``1700000000.5``)
    or an RFC 3339 date/time (``2024-05-01``, ``2024-05-01T12:00:00Z``; local time without a zone)."""
    text = value.strip()
    if now is None:
        now = time.time()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        return now - copts.duration(text, "since") / 1e9
    except InvalidOption:
        pass
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:T(\d{2})(?::(\d{2}))?(?::(\d{2}))?(?:\.(\d+))?)?"
                     r"(Z|[+-]\d{2}:\d{2})?", text)
    if not m:
        raise ValueError(f'failed to parse value as time or duration: "{value}"')
    date, hh, mm, ss, frac, zone = m.groups()
    iso = f"{date}T{hh or '00'}:{mm or '00'}:{ss or '00'}"
    stamp = datetime.datetime.fromisoformat(iso)
    if zone:
        tz = datetime.timezone.utc if zone == "Z" else datetime.timezone(
            (1 if zone[0] == "+" else -1) * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        stamp = stamp.replace(tzinfo=tz)
    else:
        stamp = stamp.astimezone()  # local time, like docker
    return stamp.timestamp() + (float("0." + frac) if frac else 0.0)


def time_bounds(args: t.Any) -> dict[str, float]:
    """``{"since": ..., "until": ...}`` of the verb's ``--since``/``--until`` given (:func:`parse_time`)."""
    bounds = {}
    for key in ("since", "until"):
        value = getattr(args, key)
        if value:
            try:
                bounds[key] = parse_time(value)
            except ValueError as exc:
                raise UsageError(f'invalid value for "{key}": {exc}', args._parser.prog) from None
    return bounds


def log_line(entry: t.Any, timestamps: bool) -> bytes:
    """One log entry as ``docker logs`` writes it (``-t``: RFC3339Nano time and a space first)."""
    data: bytes = entry.data
    if not timestamps:
        return data
    # LogEntry.time is a float: microseconds are exact, the nanosecond digits are not kept.
    ns = int(round(float(entry.time) * 1e6)) * 1000
    return render.rfc3339_nano(ns).encode() + b" " + data


def logs(ctx: Context) -> int:
    a = ctx.args
    tail: int | None = None
    if a.tail != "all":
        try:
            tail = int(a.tail)
        except ValueError:
            tail = None  # docker: anything but a number means all
        if tail is not None and tail < 0:
            tail = None
    entries = ctx.engine.containers.logs(a.name, follow=a.follow, tail=tail, **time_bounds(a))
    out, err = binary_writer(ctx.stdout), binary_writer(ctx.stderr)
    out_buf = getattr(ctx.stdout, "buffer", ctx.stdout)
    err_buf = getattr(ctx.stderr, "buffer", ctx.stderr)
    for entry in entries:
        if entry.stream == "stderr":
            err(log_line(entry, a.timestamps))
            if a.follow:
                err_buf.flush()
        else:
            out(log_line(entry, a.timestamps))
            if a.follow:
                out_buf.flush()
    out_buf.flush()
    err_buf.flush()
    return 0


# ================================================================ inspect
def inspect(ctx: Context) -> int:
    """``berth inspect``: a container first, then an image (docker's order); ``--type`` picks one."""
    a = ctx.args
    kind = getattr(a, "type", None)
    found = []
    rc = 0
    for name in a.names:
        item = None
        try:
            if kind in (None, "container"):
                svc = ctx.engine.containers
                cid = svc.lookup(name)
                if cid is not None:
                    item = svc.inspect(cid)
            if item is None and kind in (None, "image"):
                try:
                    item = ctx.engine.images.inspect(name)
                except NotFound:
                    item = None
        except (Conflict, InvalidOption) as exc:
            rc = ctx.error(exc)
            continue
        if item is None:
            what = {"container": "container", "image": "image"}.get(kind or "", "object")
            ctx.err(f"Error: No such {what}: {name}")
            rc = 1
            continue
        found.append(item)
    ctx.out_inspected(found)
    return rc


# ================================================================ top
def top(ctx: Context) -> int:
    a = ctx.args
    info = ctx.engine.containers.top(a.name, " ".join(a.ps_args) or None)
    rows = [list(info.get("Titles") or [])] + [[str(x) for x in p] for p in info.get("Processes") or []]
    # docker top: tabwriter.NewWriter(out, 20, 1, 3, ' ', 0)
    ctx.stdout.write(render.table(rows, minwidth=20))
    return 0


# ================================================================ stats
_STATS_HEADERS = {
    "Container": "CONTAINER",
    "ID": "CONTAINER ID",
    "Name": "NAME",
    "CPUPerc": "CPU %",
    "MemUsage": "MEM USAGE / LIMIT",
    "MemPerc": "MEM %",
    "NetIO": "NET I/O",
    "BlockIO": "BLOCK I/O",
    "PIDs": "PIDS",
}
_STATS_COLUMNS = ["ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs"]


def _cpu_total(s: t.Mapping[str, t.Any]) -> tuple[int, int, int]:
    cpu = s.get("cpu_stats") or {}
    usage = cpu.get("cpu_usage") or {}
    online = int(cpu.get("online_cpus") or len(usage.get("percpu_usage") or []) or 0)
    return int(usage.get("total_usage") or 0), int(cpu.get("system_cpu_usage") or 0), online


def stats_item(container: str, s: t.Mapping[str, t.Any], prev: t.Mapping[str, t.Any] | None = None,
               trunc: bool = True) -> dict[str, str]:
    """One ``docker stats`` row from two samples of ``ContainerService.stats`` (docker's arithmetic:
    CPU % from the deltas of container and host CPU time, memory without the inactive file cache)."""
    cpu_now, sys_now, online = _cpu_total(s)
    prev = prev if prev is not None else {"cpu_stats": s.get("precpu_stats") or {}}
    cpu_before, sys_before, dummy = _cpu_total(prev)
    cpu_delta, sys_delta = cpu_now - cpu_before, sys_now - sys_before
    cpu = cpu_delta / sys_delta * online * 100.0 if sys_delta > 0 and cpu_delta > 0 else 0.0

    mem = s.get("memory_stats") or {}
    usage = int(mem.get("usage") or 0)
    extra = mem.get("stats") or {}
    if "total_inactive_file" in extra and int(extra["total_inactive_file"]) < usage:
        usage -= int(extra["total_inactive_file"])
    elif int(extra.get("inactive_file", 0) or 0) < usage:
        usage -= int(extra.get("inactive_file", 0) or 0)
    limit = int(mem.get("limit") or 0)
    mem_pct = usage / limit * 100.0 if limit else 0.0

    rx = tx = 0
    for net in (s.get("networks") or {}).values():
        rx += int(net.get("rx_bytes") or 0)
        tx += int(net.get("tx_bytes") or 0)
    read = write = 0
    for entry in (s.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = str(entry.get("op") or "")[:1].lower()
        if op == "r":
            read += int(entry.get("value") or 0)
        elif op == "w":
            write += int(entry.get("value") or 0)
    pids = int((s.get("pids_stats") or {}).get("current") or 0)
    name = str(s.get("name") or "").lstrip("/") or "--"
    return {
        "Container": container,
        "ID": render.trunc_id(str(s.get("id") or ""), trunc),
        "Name": name,
        "CPUPerc": "%.2f%%" % cpu,
        "MemUsage": f"{render.bytes_size(usage)} / {render.bytes_size(limit)}",
        "MemPerc": "%.2f%%" % mem_pct,
        "NetIO": f"{render.human_size(rx, 3)} / {render.human_size(tx, 3)}",
        "BlockIO": f"{render.human_size(read, 3)} / {render.human_size(write, 3)}",
        "PIDs": str(pids),
    }


def stats_text(fmt: str, items: t.Sequence[t.Mapping[str, str]], prog: str) -> str:
    if fmt == "table":
        rows = [[_STATS_HEADERS[c] for c in _STATS_COLUMNS]] + [[i[c] for c in _STATS_COLUMNS] for i in items]
        return render.table(rows)

    return images_cmd._format(fmt, items, _STATS_HEADERS, prog)


#: Seconds between two samples (docker's daemon collects every second).
STATS_INTERVAL = 1.0


def stats(ctx: Context) -> int:
    a = ctx.args
    svc = ctx.engine.containers
    fmt = a.format or "table"
    trunc = not a.no_trunc
    named = bool(a.names)

    def targets() -> list[str]:
        if named:
            return list(a.names)
        return [str(c["Id"]) for c in svc.list(all=a.all)]

    def sample(names: t.Sequence[str]) -> dict[str, dict[str, t.Any]]:
        out = {}
        for n in names:
            try:
                out[n] = svc.stats(n)
            except NotFound:
                if named:
                    raise
            except EngineError:
                out[n] = {"id": n, "name": ""}
        return out

    names = targets()
    prev = sample(names)
    while True:
        time.sleep(STATS_INTERVAL if names else 0)
        names = targets()
        now = sample(names)
        items = [stats_item(n if named else render.trunc_id(n, trunc), now[n], prev.get(n), trunc)
                 for n in names if n in now]
        text = stats_text(fmt, items, a._parser.prog)
        if a.no_stream:
            ctx.stdout.write(text)
            return 0
        ctx.stdout.write("\x1b[2J\x1b[H" + text)
        ctx.stdout.flush()
        prev = now


# ================================================================ wait
def wait(ctx: Context) -> int:
    svc = ctx.engine.containers
    rc = 0
    for name in ctx.args.names:
        try:
            code = svc.wait(name)
        except EngineError as exc:
            ctx.error(exc)
            rc = 1
            continue
        ctx.out(str(code))
        ctx.stdout.flush()
    return rc
