# SPDX-License-Identifier: GPL-3.0-or-later
"""``berth system`` verbs: ``df`` (disk usage, docker's table and verbose views), ``info`` and ``check``;
``version``."""
from __future__ import annotations

import os
import sys
import time
import typing as t

from .. import render
from ..context import UsageError

if t.TYPE_CHECKING:
    from ..context import Context

_DF_HEADERS = {
    "Type": "TYPE",
    "TotalCount": "TOTAL",
    "Active": "ACTIVE",
    "Size": "SIZE",
    "Reclaimable": "RECLAIMABLE",
}

_ACTIVE_STATES = ("running", "paused", "restarting")


def _int(value: t.Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def df_summary(du: t.Mapping[str, t.Any]) -> list[dict[str, str]]:
    """The four rows of ``docker system df`` from a ``/system/df``-shaped dict."""
    images = list(du.get("Images") or [])
    layers_size = _int(du.get("LayersSize"))
    used = 0
    for img in images:
        if _int(img.get("Containers")) > 0:
            size, shared = _int(img.get("Size"), -1), _int(img.get("SharedSize"), -1)
            if size != -1 and shared != -1:
                used += size - shared
    rows = [
        {
            "Type": "Images",
            "TotalCount": str(len(images)),
            "Active": str(sum(1 for i in images if _int(i.get("Containers")) > 0)),
            "Size": render.human_size(layers_size),
            "Reclaimable": render.percent_of(layers_size - used, layers_size),
        }
    ]

    containers = list(du.get("Containers") or [])
    active = [c for c in containers if any(s in str(c.get("State", "")) for s in _ACTIVE_STATES)]
    c_total = sum(_int(c.get("SizeRw")) for c in containers)
    c_reclaim = c_total - sum(_int(c.get("SizeRw")) for c in active)
    rows.append(
        {
            "Type": "Containers",
            "TotalCount": str(len(containers)),
            "Active": str(len(active)),
            "Size": render.human_size(c_total),
            "Reclaimable": render.percent_of(c_reclaim, c_total),
        }
    )

    volumes = list(du.get("Volumes") or [])
    v_total = v_reclaim = v_active = 0
    for v in volumes:
        usage = v.get("UsageData") or {}
        size, refs = _int(usage.get("Size"), -1), _int(usage.get("RefCount"), -1)
        if refs > 0:
            v_active += 1
        if size != -1:
            v_total += size
            if refs == 0:
                v_reclaim += size
    rows.append(
        {
            "Type": "Local Volumes",
            "TotalCount": str(len(volumes)),
            "Active": str(v_active),
            "Size": render.human_size(v_total),
            "Reclaimable": render.percent_of(v_reclaim, v_total),
        }
    )

    cache = list(du.get("BuildCache") or [])
    rows.append(
        {
            "Type": "Build Cache",
            "TotalCount": str(len(cache)),
            "Active": str(sum(1 for b in cache if b.get("InUse"))),
            "Size": render.human_size(sum(_int(b.get("Size")) for b in cache if not b.get("Shared"))),
            "Reclaimable": render.human_size(
                sum(_int(b.get("Size")) for b in cache if not b.get("InUse") and not b.get("Shared"))
            ),
        }
    )
    return rows


def df_verbose(du: t.Mapping[str, t.Any], now: float | None = None) -> str:
    """``docker system df -v``: one table per kind."""
    out = ["Images space usage:\n\n"]
    rows = [["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"]]
    for img in du.get("Images") or []:
        repo, tag = "<none>", "<none>"
        tags = img.get("RepoTags") or []
        if tags and tags != ["<none>:<none>"]:
            first = tags[0]
            i = first.rfind(":")
            if i > first.rfind("/"):
                repo, tag = first[:i], first[i + 1:]
        size, shared = _int(img.get("Size"), -1), _int(img.get("SharedSize"), -1)
        containers = _int(img.get("Containers"), -1)
        rows.append(
            [
                repo,
                tag,
                render.trunc_id(str(img.get("Id", ""))),
                render.created_since(_int(img.get("Created")), now),
                render.human_size(size, 3),
                "N/A" if shared == -1 else render.human_size(shared),
                "N/A" if size == -1 or shared == -1 else render.human_size(size - shared),
                "N/A" if containers == -1 else str(containers),
            ]
        )
    out.append(render.table(rows))

    import json

    out.append("\nContainers space usage:\n\n")
    rows = [["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"]]
    for c in du.get("Containers") or []:
        command = render.ellipsis(json.dumps(str(c.get("Command", ""))), 20)
        vols = sum(1 for m in c.get("Mounts") or [] if m.get("Type") == "volume")
        names = ",".join(str(n).lstrip("/") for n in c.get("Names") or [])
        rows.append(
            [
                render.trunc_id(str(c.get("Id", ""))),
                str(c.get("Image", "")),
                command,
                str(vols),
                render.human_size(_int(c.get("SizeRw")), 3),
                render.created_since(_int(c.get("Created")), now),
                str(c.get("Status", "")),
                names,
            ]
        )
    out.append(render.table(rows))

    out.append("\nLocal Volumes space usage:\n\n")
    rows = [["VOLUME NAME", "LINKS", "SIZE"]]
    for v in du.get("Volumes") or []:
        usage = v.get("UsageData") or {}
        size, refs = _int(usage.get("Size"), -1), _int(usage.get("RefCount"), -1)
        rows.append(
            [str(v.get("Name", "")), "N/A" if refs == -1 else str(refs), "N/A" if size == -1 else render.human_size(size)]
        )
    out.append(render.table(rows))

    cache = list(du.get("BuildCache") or [])
    total = sum(_int(b.get("Size")) for b in cache if not b.get("Shared"))
    out.append(f"\nBuild cache usage: {render.human_size(total)}\n\n")
    rows = [["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"]]
    for b in cache:
        cid = render.trunc_id(str(b.get("ID", ""))) + ("*" if b.get("InUse") else "")
        rows.append(
            [
                cid,
                str(b.get("Type", "")),
                render.human_size(_int(b.get("Size")), 3),
                str(b.get("CreatedAt", "")),
                str(b.get("LastUsedAt", "")),
                str(_int(b.get("UsageCount"))),
                "true" if b.get("Shared") else "false",
            ]
        )
    out.append(render.table(rows))
    return "".join(out)


def df(ctx: Context) -> int:
    a = ctx.args
    du = ctx.engine.system.df()
    fmt = a.format or "table"
    if a.verbose and fmt == "table":
        ctx.stdout.write(df_verbose(du))
        return 0
    if a.verbose and fmt == "json":
        ctx.out(render.go_json(du))
        return 0
    rows = df_summary(du)
    if fmt == "table":
        cols = ["Type", "TotalCount", "Active", "Size", "Reclaimable"]
        ctx.stdout.write(render.table([[_DF_HEADERS[c] for c in cols]] + [[row[c] for c in cols] for row in rows]))
        return 0
    try:
        ctx.stdout.write(render.format_rows(fmt, rows, _DF_HEADERS))
    except render.TemplateError as exc:
        raise UsageError(f"template parsing error: {exc}", a._parser.prog) from None
    return 0


#: The Docker Engine API version whose object shapes ``inspect``, ``info`` and ``--format`` follow. Berth has
#: no HTTP API; the number tells a docker user which documentation describes what Berth prints.
DOCKER_API_VERSION = "1.43"


def version_data(version: str, os_arch: str) -> dict[str, t.Any]:
    """``docker version``'s data (Go's field names, so ``{{.Server.APIVersion}}`` works as with docker).

    Berth is daemonless: the client and the engine are the same installation, reported twice.
    """
    os_name, arch = (os_arch.split("/") + [""])[:2]  # GOOS/GOARCH: a variant (arm64/v8) is not shown
    python = sys.version.split()[0]  # platform.python_version(), without loading platform (~1 ms)
    kernel = os.uname().release
    details = {"APIVersion": DOCKER_API_VERSION, "PythonVersion": python, "Os": os_name, "Arch": arch,
               "KernelVersion": kernel}
    return {
        "Client": {"Version": version, "APIVersion": DOCKER_API_VERSION, "PythonVersion": python,
                   "Os": os_name, "Arch": arch},
        "Server": {
            "Platform": {"Name": "Berth Engine"},
            "Components": [{"Name": "Engine", "Version": version, "Details": details}],
            "Version": version, "APIVersion": DOCKER_API_VERSION, "PythonVersion": python,
            "Os": os_name, "Arch": arch, "KernelVersion": kernel,
        },
    }


def version_text(data: t.Mapping[str, t.Any]) -> str:
    """docker version's text: its template (docker/cli ``cli/command/system/version.go``, Go's build fields
    replaced by Python's) written out here, so that a plain ``berth version`` loads no template engine
    (~6 ms), then Go's ``tabwriter.NewWriter(out, 20, 1, 1, ' ', 0)``."""
    client, server = data["Client"], data["Server"]
    rows = [["Client:"], [" Version:", client["Version"]], [" API version:", client["APIVersion"]],
            [" Python version:", client["PythonVersion"]], [" OS/Arch:", f"{client['Os']}/{client['Arch']}"],
            [""], ["Server: " + server["Platform"]["Name"] if server["Platform"]["Name"] else "Server:"]]
    for component in server["Components"]:
        details = component["Details"]
        rows += [[f" {component['Name']}:"], ["  Version:", component["Version"]],
                 ["  API version:", details["APIVersion"]], ["  Python version:", details["PythonVersion"]],
                 ["  OS/Arch:", f"{details['Os']}/{details['Arch']}"], ["  Kernel version:", details["KernelVersion"]]]
    return render.table(rows, minwidth=20, padding=1)


def version(ctx: Context) -> int:
    """``berth version``: docker's text, ``--format json`` or a Go template."""
    from ...engine.api import VERSION

    data = version_data(VERSION, ctx.engine.default_platform())
    if ctx.args.format:
        ctx.out_inspected([data])
        return 0
    ctx.stdout.write(version_text(data))
    return 0


def check(ctx: Context) -> int:
    """``berth system check [--repair] [--format json]``: one line per problem; 1 while problems remain."""
    a = ctx.args
    report = ctx.engine.system.check(repair=a.repair)
    problems = report["Problems"]
    if (a.format or "table") == "json":
        ctx.out(render.go_json(report))
    else:
        for p in problems:
            fixed = " (removed)" if a.repair and p["Kind"] in ("blob", "layer") else ""
            ctx.out(f"{p['Kind']} {p['Id']}: {p['Problem']}{fixed}")
        if not problems:
            ctx.out("No problems found")
        elif a.repair:
            ctx.out(f"{len(problems)} problem(s) found; the damaged content is removed: pull the images "
                    "named above again to restore it")
            ctx.out(f"Total reclaimed space: {render.human_size(int(report.get('SpaceReclaimed') or 0))}")
        else:
            ctx.out(f"{len(problems)} problem(s) found; 'berth system check --repair' removes the damaged content")
    return 1 if problems and not a.repair else 0


def event_line(event: t.Mapping[str, t.Any]) -> str:
    """docker events' line: ``<time> <type> <action> <id> (k=v, ...)``, the attributes sorted."""
    actor = event.get("Actor") or {}
    attrs = actor.get("Attributes") or {}
    secs, frac = divmod(int(event["timeNano"]), 1_000_000_000)  # docker's RFC3339NanoFixed (here in UTC)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"
    text = f"{stamp} {event.get('Type')} {event.get('Action')} {actor.get('ID')}"
    if attrs:
        text += " (" + ", ".join(f"{k}={attrs[k]}" for k in sorted(attrs)) + ")"
    return text


def events(ctx: Context) -> int:
    """``berth events [--since] [--until] [--filter k=v] [--format]``: the engine's event log; without
    ``--until`` it waits for new events until interrupted, as docker does."""
    from . import images as images_cmd
    from .query import time_bounds

    a = ctx.args
    flt = images_cmd._filters(a.filter, a._parser.prog)
    for event in ctx.engine.system.events(filters=flt or None, **time_bounds(a)):
        if a.format:
            ctx.out_inspected([event])
        else:
            ctx.out(event_line(event))
        ctx.stdout.flush()
    return 0


def info(ctx: Context) -> int:
    """``berth info`` / ``berth system info``: docker info's text, ``--format json`` or a Go template."""
    data = ctx.engine.system.info()
    fmt = ctx.args.format
    if fmt:
        ctx.out_inspected([data])
        return 0
    ctx.stdout.write(info_text(data, ctx.engine.config.path))
    for warning in data.get("Warnings") or []:  # docker info prints the daemon's warnings last, on stderr
        ctx.err(f"WARNING: {warning}")
    return 0


def info_text(d: t.Mapping[str, t.Any], config_path: str | None = None) -> str:
    """docker info's "Server:" section, with the fields a daemonless engine has."""
    reg = d.get("RegistryConfig") or {}
    lines = [
        "Server:",
        f" Containers: {d.get('Containers', 0)}",
        f"  Running: {d.get('ContainersRunning', 0)}",
        f"  Paused: {d.get('ContainersPaused', 0)}",
        f"  Stopped: {d.get('ContainersStopped', 0)}",
        f" Images: {d.get('Images', 0)}",
        f" Server Version: {d.get('ServerVersion', '')}",
        f" Storage Driver: {d.get('Driver', '')}",
        f" Logging Driver: {d.get('LoggingDriver', '')}",
        f" Cgroup Driver: {d.get('CgroupDriver', '')}",
        f" Cgroup Version: {d.get('CgroupVersion', '')}",
        f" Runtimes: {' '.join(sorted(d.get('Runtimes') or {}))}",
        f" Default Runtime: {d.get('DefaultRuntime', '')}",
        " Security Options:",
    ]
    for opt in d.get("SecurityOptions") or []:
        fields = dict(kv.split("=", 1) for kv in opt.split(",") if "=" in kv)
        lines.append(f"  {fields.pop('name', opt)}")
        lines.extend(f"   {k.capitalize()}: {v}" for k, v in fields.items())
    lines += [
        f" Kernel Version: {d.get('KernelVersion', '')}",
        f" Operating System: {d.get('OperatingSystem', '')}",
        f" OSType: {d.get('OSType', '')}",
        f" Architecture: {d.get('Architecture', '')}",
        f" CPUs: {d.get('NCPU', 0)}",
        f" Total Memory: {render.bytes_size(int(d.get('MemTotal') or 0))}",
        f" Name: {d.get('Name', '')}",
        f" Berth Root Dir: {d.get('DockerRootDir', '')}",
        f" Config File: {config_path or d.get('ConfigFile') or ''}",
        f" Live Restore Enabled: {str(bool(d.get('LiveRestoreEnabled'))).lower()}",
    ]
    insecure = list(reg.get("IndexConfigs") or []) + list(reg.get("InsecureRegistryCIDRs") or [])
    if insecure:
        lines.append(" Insecure Registries:")
        lines.extend(f"  {r}" for r in insecure)
    if d.get("Labels"):
        lines.append(" Labels:")
        lines.extend(f"  {label}" for label in d["Labels"])
    if reg.get("Mirrors"):
        lines.append(" Registry Mirrors:")
        lines.extend(f"  {m}" for m in reg["Mirrors"])
    return "\n".join(lines) + "\n"


_SYSTEM_PRUNE = """WARNING! This will remove:
  - all stopped containers{volumes}
  - {images}
  - copies of old engine versions that no container uses
"""


def prune(ctx: Context) -> int:
    """``berth system prune [-a] [-f] [--filter until=…|label=…]``: docker's prompt and report."""
    from . import images as images_cmd

    a = ctx.args
    flt = images_cmd._filters(a.filter, a._parser.prog)
    images = "all images without at least one container associated to them" if a.all else "all dangling images"
    volumes = "\n  - all anonymous volumes not used by at least one container" if a.volumes else ""
    if not a.force and not images_cmd.confirm(ctx, _SYSTEM_PRUNE.format(images=images, volumes=volumes).rstrip("\n")):
        return 0
    report = ctx.engine.system.prune(all=a.all, filters=flt or None, volumes=a.volumes)
    if report["ContainersDeleted"]:
        ctx.out("Deleted Containers:")
        for cid in report["ContainersDeleted"]:
            ctx.out(cid)
        ctx.out()
    if report.get("VolumesDeleted"):
        ctx.out("Deleted Volumes:")
        for name in report["VolumesDeleted"]:
            ctx.out(name)
        ctx.out()
    if report["ImagesDeleted"]:
        ctx.out("Deleted Images:")
        for line in images_cmd._report_lines(report["ImagesDeleted"], "untagged", "deleted"):
            ctx.out(line)
        ctx.out()
    ctx.out(f"Total reclaimed space: {render.human_size(int(report.get('SpaceReclaimed') or 0))}")
    return 0
