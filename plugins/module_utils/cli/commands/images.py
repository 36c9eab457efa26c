# SPDX-License-Identifier: GPL-3.0-or-later
"""Image verbs of the ``berth`` command: pull, images, inspect, tag, rmi, prune, load, save, import, history.

Each handler takes the :class:`~..context.Context`, calls ``ctx.engine.images``
and prints what docker prints. Imported only when one of these verbs runs.
"""
from __future__ import annotations

import os
import sys
import typing as t

from .. import render
from ..context import UsageError
from ...engine.core import events
from ...engine.errors import EngineError

if t.TYPE_CHECKING:
    from ..context import Context


# ---------------------------------------------------------------- references, display only
def _split_repo_tag(ref: str) -> tuple[str, str]:
    """``localhost:5000/app:1`` -> (``localhost:5000/app``, ``1``); no tag -> (ref, "")."""
    i = ref.rfind(":")
    if i > ref.rfind("/"):
        return ref[:i], ref[i + 1:]
    return ref, ""


def _has_tag_or_digest(name: str) -> bool:
    return "@" in name or bool(_split_repo_tag(name)[1])


def _filters(values: t.Sequence[str], prog: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for v in values:
        if "=" not in v:
            raise UsageError(f"bad format of filter (expected name=value): {v}", prog)
        key, val = v.split("=", 1)
        out.setdefault(key.strip().lower(), []).append(val)
    return out


def _terminal_width(ctx: Context) -> int:
    try:
        return os.get_terminal_size(ctx.stdout.fileno()).columns or 200
    except (OSError, AttributeError, ValueError):
        return 200


# ---------------------------------------------------------------- pull
class _ProgressEvents:
    """Feeds the progress renderer; the ``resolve`` event becomes its header line, as *header* writes it
    (docker's ``<tag>: Pulling from <repo>``, ``The push refers to repository [...]``)."""

    def __init__(self, progress: render.Progress | None, header: t.Callable[[events.Event], str]) -> None:
        self.progress = progress
        self.header = header

    def __call__(self, ev: events.Event) -> None:
        if self.progress is None:
            return
        if ev.kind == "resolve":
            self.progress.set_header(self.header(ev))
            return
        self.progress(ev)


class _PullEvents(_ProgressEvents):
    def __init__(self, progress: render.Progress | None) -> None:
        super().__init__(progress, lambda ev: f"{ev.ident}: {ev.message}")


def _start_progress(ctx: Context, mode: str) -> render.Progress | None:
    """docker's ``Using default tag: latest`` when the name has none, and the renderer (None with -q)."""
    a = ctx.args
    if not a.quiet and not _has_tag_or_digest(a.name):
        ctx.out("Using default tag: latest")
        ctx.stdout.flush()
    if a.quiet:
        return None
    tty = ctx.is_tty()
    return render.Progress(ctx.stdout, tty=tty, width=_terminal_width(ctx) if tty else 200, mode=mode)


def pull(ctx: Context) -> int:
    a = ctx.args
    progress = _start_progress(ctx, "pull")
    try:
        result = ctx.engine.images.pull(a.name, platform=a.platform, on_event=_PullEvents(progress))
    finally:
        if progress is not None:
            progress.finish(show_existing=False)
    for warning in result.warnings:
        ctx.err(f"WARNING: {warning}")
    if a.quiet:
        ctx.out(result.reference)
        return 0
    if result.repo_digest and "@" in result.repo_digest:
        ctx.out(f"Digest: {result.repo_digest.split('@', 1)[1]}")
    what = "Downloaded newer image for" if result.changed else "Image is up to date for"
    ctx.out(f"Status: {what} {result.familiar}")
    ctx.out(result.reference)
    return 0


# ---------------------------------------------------------------- push
def push(ctx: Context) -> int:
    """``berth push NAME[:TAG]``: docker's output (per-layer progress, then ``TAG: digest: ... size: N``)."""
    a = ctx.args
    progress = _start_progress(ctx, "push")
    try:
        result = ctx.engine.images.push(a.name, on_event=_ProgressEvents(progress, lambda ev: ev.message))
    finally:
        if progress is not None:
            progress.finish()
    if a.quiet:
        ctx.out(result.reference)
        return 0
    ctx.out(f"{result.reference.rsplit(':', 1)[1]}: digest: {result.digest} size: {result.size}")
    return 0


# ---------------------------------------------------------------- login / logout
_HUB_KEY = "https://index.docker.io/v1/"  # how docker names Docker Hub in its messages


def login(ctx: Context) -> int:
    """``berth login``: docker's prompts and messages; the engine checks the credentials, then stores them."""
    a = ctx.args
    password = a.password
    if a.password_stdin:
        if password:
            raise _Refused("--password and --password-stdin are mutually exclusive")
        if not a.username:
            raise _Refused("Must provide --username with --password-stdin")
        password = ctx.stdin.read().rstrip("\r\n")
    elif password:
        ctx.err("WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
    username = a.username
    if not username or not password:
        if not ctx.stdin.isatty():
            raise _Refused("Cannot perform an interactive login from a non TTY device")
        if not username:
            ctx.stdout.write("Username: ")
            ctx.stdout.flush()
            username = ctx.stdin.readline().strip()
        if not password:
            import getpass

            password = getpass.getpass("Password: ", stream=ctx.stderr)
    ctx.engine.images.login(a.server, username, password)
    ctx.err(f"WARNING! Your password will be stored unencrypted in {ctx.engine.config.auth_path}.")
    ctx.out("Login Succeeded")
    return 0


def logout(ctx: Context) -> int:
    host, removed = ctx.engine.images.logout(ctx.args.server)
    shown = _HUB_KEY if host == "docker.io" else host
    ctx.out(f"Removing login credentials for {shown}" if removed else f"Not logged in to {shown}")
    return 0


# ---------------------------------------------------------------- images
_IMAGE_HEADERS = {
    "ID": "IMAGE ID",
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "Digest": "DIGEST",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "Size": "SIZE",
    "Containers": "CONTAINERS",
    "VirtualSize": "SIZE",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
}


def _is_dangling(img: t.Mapping[str, t.Any]) -> bool:
    tags = img.get("RepoTags") or []
    digests = img.get("RepoDigests") or []
    if not tags and not digests:
        return True
    return tags == ["<none>:<none>"] and digests == ["<none>@<none>"]


def image_rows(img: t.Mapping[str, t.Any], digests_wanted: bool) -> list[tuple[str, str, str]]:
    """(repository, tag, digest) rows for one image, by docker's ``imageFormatTaggedAndDigest``."""
    if _is_dangling(img):
        return [("<none>", "<none>", "<none>")]
    repo_tags: dict[str, list[str]] = {}
    repo_digests: dict[str, list[str]] = {}
    for ref in img.get("RepoTags") or []:
        repo, tag = _split_repo_tag(ref)
        if tag:
            repo_tags.setdefault(repo, []).append(tag)
    for ref in img.get("RepoDigests") or []:
        if "@" in ref:
            repo, dgst = ref.split("@", 1)
            repo_digests.setdefault(repo, []).append(dgst)
    rows = []
    for repo, tags in repo_tags.items():
        dg = repo_digests.pop(repo, [])
        if not digests_wanted:
            dg = []
        for tag in tags:
            if not dg:
                rows.append((repo, tag, "<none>"))
            for d in dg:
                rows.append((repo, tag, d))
    for repo, dg in repo_digests.items():
        if digests_wanted:
            rows.extend((repo, "<none>", d) for d in dg)
        else:
            rows.append((repo, "<none>", ""))
    return rows


def image_items(
    images: t.Sequence[t.Mapping[str, t.Any]], trunc: bool, digests: bool, now: float | None = None
) -> list[dict[str, str]]:
    """The fields docker's image formatter offers, one dict per table row."""
    items = []
    for img in images:
        created = int(img.get("Created") or 0)
        size = int(img.get("Size") or 0)
        shared = img.get("SharedSize", -1)
        shared = -1 if shared is None else int(shared)
        containers = img.get("Containers", -1)
        containers = -1 if containers is None else int(containers)
        for repo, tag, dgst in image_rows(img, digests):
            items.append(
                {
                    "Containers": "N/A" if containers == -1 else str(containers),
                    "CreatedAt": render.go_time(created),
                    "CreatedSince": "(damaged)" if img.get("Damaged") else render.created_since(created, now),
                    "Digest": dgst,
                    "ID": render.trunc_id(str(img.get("Id", "")), trunc),
                    "Repository": repo,
                    "SharedSize": "N/A" if shared == -1 else render.human_size(shared),
                    "Size": render.human_size(size, 3),
                    "Tag": tag,
                    "UniqueSize": "N/A" if shared == -1 else render.human_size(size - shared),
                    "VirtualSize": render.human_size(size),
                }
            )
    return items


def images(ctx: Context) -> int:
    a = ctx.args
    flt = _filters(a.filter, a._parser.prog)
    if a.repository:
        flt.setdefault("reference", []).append(a.repository)
    found = ctx.engine.images.list(filters=flt or None, all=a.all)
    trunc = not a.no_trunc
    for img in found:
        if img.get("Damaged"):
            ctx.err(f"warning: image {img.get('Id')}: {img['Damaged']}")
    if a.quiet:
        seen = set()
        for img in found:
            iid = render.trunc_id(str(img.get("Id", "")), trunc)
            if iid not in seen:
                seen.add(iid)
                ctx.out(iid)
        return 0
    items = image_items(found, trunc, a.digests)
    fmt = a.format or "table"
    if fmt == "table":
        cols = ["Repository", "Tag"] + (["Digest"] if a.digests else []) + ["ID", "CreatedSince", "Size"]
        rows = [[_IMAGE_HEADERS[c] for c in cols]] + [[i[c] for c in cols] for i in items]
        ctx.stdout.write(render.table(rows))
        return 0
    ctx.stdout.write(_format(fmt, items, _IMAGE_HEADERS, a._parser.prog))
    return 0


def _format(fmt: str, items: t.Sequence[t.Mapping[str, t.Any]], headers: t.Mapping[str, str], prog: str) -> str:
    try:
        return render.format_rows(fmt, items, headers)
    except render.TemplateError as exc:
        raise UsageError(f"template parsing error: {exc}", prog) from None


# ---------------------------------------------------------------- inspect
def inspect(ctx: Context) -> int:
    return ctx.inspect_each(ctx.args.names, ctx.engine.images.inspect)


# ---------------------------------------------------------------- tag / rmi / prune
def tag(ctx: Context) -> int:
    ctx.engine.images.tag(ctx.args.source, ctx.args.target)
    return 0


def _report_lines(report: t.Sequence[t.Mapping[str, str]], untagged: str, deleted: str) -> t.Iterator[str]:
    for entry in report:
        if entry.get("Untagged"):
            yield f"{untagged}: {entry['Untagged']}"
        elif entry.get("Deleted"):
            yield f"{deleted}: {entry['Deleted']}"


def rmi(ctx: Context) -> int:
    rc = 0
    for name in ctx.args.names:
        try:
            report = ctx.engine.images.remove(name, force=ctx.args.force)
        except EngineError as exc:
            rc = ctx.error(exc)
            continue
        for line in _report_lines(report, "Untagged", "Deleted"):
            ctx.out(line)
    return rc


_PRUNE_DANGLING = "WARNING! This will remove all dangling images."
_PRUNE_ALL = "WARNING! This will remove all images without at least one container associated to them."


def confirm(ctx: Context, warning: str) -> bool:
    """docker's ``prompt.Confirm``: ``… [y/N] ``; anything but y/yes (or end of input) is no."""
    ctx.stdout.write(f"{warning}\nAre you sure you want to continue? [y/N] ")
    ctx.stdout.flush()
    try:
        answer = ctx.stdin.readline()
    except (OSError, ValueError):
        answer = ""
    if not answer.endswith("\n"):
        ctx.out()
    return answer.strip().lower() in ("y", "yes")


def prune(ctx: Context) -> int:
    a = ctx.args
    flt = _filters(a.filter, a._parser.prog)
    if not a.force and not confirm(ctx, _PRUNE_ALL if a.all else _PRUNE_DANGLING):
        return 0
    report = ctx.engine.images.prune(all=a.all, filters=flt or None)
    deleted = report.get("ImagesDeleted") or []
    if deleted:
        ctx.out("Deleted Images:")
        for line in _report_lines(deleted, "untagged", "deleted"):
            ctx.out(line)
        ctx.out()
    ctx.out(f"Total reclaimed space: {render.human_size(int(report.get('SpaceReclaimed') or 0))}")
    return 0


# ---------------------------------------------------------------- load / save / import
def _abs(path: str) -> str:
    """Absolute path, keeping ``-`` (standard input) as it is."""
    return path if path == "-" else os.path.abspath(path)


def _stdin_is_tty(ctx: Context) -> bool:
    try:
        return bool(ctx.stdin.isatty())
    except (AttributeError, ValueError):
        return False


class _Refused(EngineError):
    """A CLI-side refusal reported like an engine error (``Error: …``, exit 1)."""


def load(ctx: Context) -> int:
    a = ctx.args
    path = a.input or "-"
    if path == "-" and _stdin_is_tty(ctx):
        raise _Refused("requested load from stdin, but stdin is empty")
    progress = None
    if not a.quiet and ctx.is_tty():
        progress = render.Progress(ctx.stdout, tty=True, width=_terminal_width(ctx), mode="load")
    show = progress or events.ignore

    def on_event(ev: events.Event) -> None:
        if ev.kind == "warning":
            ctx.err(f"WARNING: {ev.message}")
        else:
            show(ev)

    try:
        loaded = ctx.engine.images.load(_abs(path), on_event=on_event)
    finally:
        if progress is not None:
            progress.finish(show_existing=False)
    for img in loaded:
        if img.tags:
            for tg in img.tags:
                ctx.out(f"Loaded image: {tg}")
        else:
            ctx.out(f"Loaded image ID: {img.image_id}")
    return 0


def save(ctx: Context) -> int:
    a = ctx.args
    if a.output and a.output != "-":
        ctx.engine.images.save(a.names, os.path.abspath(a.output), format=a.format)
        return 0
    if ctx.is_tty():
        raise _Refused("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    import shutil
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix="berth-save-", suffix=".tar")
    os.close(fd)
    try:
        ctx.engine.images.save(a.names, tmp, format=a.format)
        ctx.stdout.flush()
        dst = getattr(ctx.stdout, "buffer", None) or sys.stdout.buffer
        with open(tmp, "rb") as fh:
            shutil.copyfileobj(fh, dst, 1 << 20)
        dst.flush()
    finally:
        os.unlink(tmp)
    return 0


def import_(ctx: Context) -> int:
    a = ctx.args
    if "://" in a.file:
        raise _Refused(f"importing from a URL is not supported: download {a.file} and import the file")
    if a.file == "-" and _stdin_is_tty(ctx):
        raise _Refused("requested import from stdin, but stdin is empty")
    image_id = ctx.engine.images.import_(
        _abs(a.file), reference=a.reference, changes=a.change, message=a.message, platform=a.platform
    )
    ctx.out(image_id)
    return 0


# ---------------------------------------------------------------- history
_HISTORY_HEADERS = {
    "ID": "IMAGE",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY",
    "Size": "SIZE",
    "Comment": "COMMENT",
}


def history_items(rows: t.Sequence[t.Mapping[str, t.Any]], trunc: bool, now: float | None = None) -> list[dict[str, str]]:
    items = []
    for h in rows:
        iid = str(h.get("Id") or "<missing>")
        created_by = str(h.get("CreatedBy") or "").replace("\t", " ")
        created = int(h.get("Created") or 0)
        items.append(
            {
                "ID": iid if iid == "<missing>" else render.trunc_id(iid, trunc),
                "CreatedSince": render.created_since(created, now),
                "CreatedAt": render.go_time(created),
                "CreatedBy": render.ellipsis(created_by, 45) if trunc else created_by,
                "Size": render.human_size(int(h.get("Size") or 0), 3),
                "Comment": str(h.get("Comment") or ""),
            }
        )
    return items


def history(ctx: Context) -> int:
    a = ctx.args
    items = history_items(ctx.engine.images.history(a.name), not a.no_trunc)
    if a.quiet:
        for i in items:
            ctx.out(i["ID"])
        return 0
    fmt = a.format or "table"
    if fmt == "table":
        cols = ["ID", "CreatedSince", "CreatedBy", "Size", "Comment"]
        rows = [[_HISTORY_HEADERS[c] for c in cols]] + [[i[c] for c in cols] for i in items]
        ctx.stdout.write(render.table(rows))
        return 0
    ctx.stdout.write(_format(fmt, items, _HISTORY_HEADERS, a._parser.prog))
    return 0
