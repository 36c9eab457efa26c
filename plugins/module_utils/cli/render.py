# SPDX-License-Identifier: GPL-3.0-or-later
"""How the ``berth`` command prints things: Docker's units, tables, templates and progress.

Everything here is pure or writes to a stream it is given, so it is tested
with tables of known ``docker`` outputs (tests/unit/plugins/module_utils/cli/test_render.py).
Only the standard library, and nothing slow to import.
"""
from __future__ import annotations

import time
import typing as t

from ..engine.core.timefmt import human_duration  # noqa: F401 (docker's units.HumanDuration)
# Only the template engine's values module: its parser and executor (~9 ms of imports, with dataclasses and
# re) load when a template is filled (gotemplate/__init__.py).
from .gotemplate import values as template_values

#: The CLI's names for what the template engine defines (commands catch ``render.TemplateError``).
TemplateError = template_values.TemplateError
go_json = template_values.go_json
go_quote = template_values.go_quote

if t.TYPE_CHECKING:
    from ..engine.core.events import Event

_DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


# --------------------------------------------------------------------- units
def human_size(size: float, precision: int = 4) -> str:
    """Docker's ``units.HumanSizeWithPrecision``: base 1000, ``%.<precision>g``.

    ``docker images`` uses precision 3 (``4.26MB``); ``system df``, ``image
    prune`` and progress bars use 4 (``4.261MB``).
    """
    size = float(size)
    i = 0
    while size >= 1000.0 and i < len(_DECIMAL_UNITS) - 1:
        size /= 1000.0
        i += 1
    return "%.*g%s" % (precision, size, _DECIMAL_UNITS[i])


_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def bytes_size(size: float) -> str:
    """Docker's ``units.BytesSize``: base 1024, ``%.4g`` (``docker stats``' ``1.203MiB / 7.667GiB``)."""
    size = float(size)
    i = 0
    while size >= 1024.0 and i < len(_BINARY_UNITS) - 1:
        size /= 1024.0
        i += 1
    return "%.4g%s" % (size, _BINARY_UNITS[i])


def created_since(created: float, now: float | None = None) -> str:
    """``2 hours ago`` for a unix timestamp, as the CREATED column shows it."""
    if now is None:
        now = time.time()
    return human_duration(now - created) + " ago"


def go_time(created: float) -> str:
    """Go's ``time.Unix(created, 0).String()`` in local time: ``2023-05-19 22:19:13 +0200 CEST``."""
    import datetime

    dt = datetime.datetime.fromtimestamp(int(created)).astimezone()
    return dt.strftime("%Y-%m-%d %H:%M:%S %z ") + (dt.tzname() or "")


def trunc_id(image_id: str, trunc: bool = True) -> str:
    """Docker's ``stringid.TruncateID``: drop the algorithm, keep 12 characters."""
    if not trunc:
        return image_id
    if ":" in image_id:
        image_id = image_id.split(":", 1)[1]
    return image_id[:12]


def ellipsis(text: str, maxlen: int) -> str:
    """Docker's ``formatter.Ellipsis``: cut to *maxlen* characters, the last one ``…``."""
    if maxlen <= 0:
        return ""
    if maxlen == 1:
        return text[:1]
    if len(text) <= maxlen:
        return text
    return text[: maxlen - 1] + "…"


def familiar_image(name: str) -> str:
    """An image reference as docker shows it: ``docker.io/library/busybox:latest`` -> ``busybox:latest``
    (reference.FamiliarString: ``library/`` goes only when nothing else has a slash)."""
    if not name.startswith("docker.io/"):
        return name
    path = name[len("docker.io/"):]
    if path.startswith("library/") and "/" not in path[len("library/"):].split("@", 1)[0]:
        return path[len("library/"):]
    return path


def rfc3339_nano(ns: int) -> str:
    """Go's ``time.RFC3339Nano`` in UTC (trailing zeros of the fraction dropped): ``docker logs -t``."""
    secs, frac = divmod(int(ns), 1_000_000_000)
    tm = time.gmtime(secs)
    out = "%04d-%02d-%02dT%02d:%02d:%02d" % tm[:6]
    if frac:
        out += "." + ("%09d" % frac).rstrip("0")
    return out + "Z"


def percent_of(part: int, total: int) -> str:
    """``4.261MB (100%)`` as ``system df`` prints reclaimable space (integer percent, truncated)."""
    if total > 0:
        return f"{human_size(part)} ({part * 100 // total}%)"
    return human_size(part)


# --------------------------------------------------------------------- tables
def table(rows: t.Sequence[t.Sequence[str]], minwidth: int = 10, padding: int = 3) -> str:
    """Lay *rows* out like Go's ``tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`` as docker does.

    Every cell but the last of a row is padded to ``max(minwidth, widest + padding)``;
    the last cell is written as-is. Returns the text with a trailing newline per row.
    """
    if not rows:
        return ""
    ncols = max(len(r) for r in rows)
    widths = [0] * ncols
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(cell))
    widths = [max(minwidth, w + padding) for w in widths]
    out = []
    for row in rows:
        parts = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        parts.append(row[-1] if row else "")
        out.append("".join(parts) + "\n")
    return "".join(out)


# --------------------------------------------------------------------- templates
def render_template(template: str, data: t.Any) -> str:
    """Fill a Go template (cli/gotemplate/: ``{{range}}``, ``{{if}}``, ``{{json}}``, ``{{join}}``...).

    ``\\t`` and ``\\n`` written literally in the template are expanded, like docker does.
    """
    from .gotemplate import render

    return render(_expand(template), data)


def _expand(template: str) -> str:
    return template.replace("\\t", "\t").replace("\\n", "\n")


class _Headers(dict):  # type: ignore[type-arg]
    """The data a ``table`` template's header row is rendered from: every field is its column title."""

    def __init__(self, headers: t.Mapping[str, str]) -> None:
        super().__init__()
        self.headers = headers

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str)

    def __getitem__(self, key: str) -> str:
        return self.headers.get(key, key.upper())


def template_header(template: str, headers: t.Mapping[str, str]) -> str:
    """The header row of a ``table …`` template: the template rendered with each field as its column title,
    as docker renders it against the header context."""
    from .gotemplate import render

    return render(_expand(template), _Headers(headers))


def format_rows(fmt: str, items: t.Sequence[t.Mapping[str, t.Any]], headers: t.Mapping[str, str]) -> str:
    """Render *items* with a user ``--format``: ``json`` (one object a line), ``table TEMPLATE`` or ``TEMPLATE``."""
    if fmt == "json":
        return "".join(go_json(dict(sorted(i.items()))) + "\n" for i in items)
    if fmt.startswith("table"):
        body = fmt[len("table"):].strip()
        rows = [template_header(body, headers).split("\t")]
        rows += [render_template(body, i).split("\t") for i in items]
        return table(rows)
    return "".join(render_template(fmt, i) + "\n" for i in items)


# --------------------------------------------------------------------- progress
def progress_bar(current: int, total: int, width: int = 200) -> str:
    """Docker's ``JSONProgress.String()`` without the time left: ``[====>   ] 1.2MB/4.3MB``."""
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return "%8s" % human_size(current)
    pct = min(50, int(current / total * 100) // 2)
    meter = ""
    if width > 110:
        meter = "[" + "=" * pct + ">" + " " * (50 - pct) + "] "
    if current > total:
        return meter + "%8s" % human_size(current)
    return meter + "%8s/%s" % (human_size(current), human_size(total))


# How each layer event reads on a terminal, per mode (docker's words).
TTY_LABELS = {
    "pull": {
        "layer.waiting": "Pulling fs layer",
        "layer.download": "Downloading",
        "layer.extract": "Extracting",
        "layer.done": "Pull complete",
        "layer.exists": "Already exists",
    },
    "push": {
        "layer.waiting": "Preparing",
        "layer.upload": "Pushing",
        "layer.done": "Pushed",
        "layer.exists": "Layer already exists",
        "layer.mounted": "",  # the event's message: "Mounted from library/busybox"
    },
    "load": {
        "layer.waiting": "Loading layer",
        "layer.download": "Loading layer",
        "layer.extract": "Loading layer",
        "layer.done": "Loading layer",
        "layer.exists": "Already exists",
    },
}
_WITH_BAR = ("layer.download", "layer.upload", "layer.extract", "layer.done")
#: Modes whose finished layers show no bar (docker's "Pull complete", "Pushed").
_DONE_WITHOUT_BAR = ("pull", "push")


def plain_label(mode: str, prev: str | None, kind: str) -> str | None:
    """The line (if any) a state change prints when output is not a terminal.

    Like ``docker pull | cat``: ``Pulling fs layer`` when a layer is first
    seen, ``Download complete`` when extraction starts, then ``Pull complete``
    or ``Already exists``; byte counts are never printed. ``push`` prints
    ``Preparing``, then ``Pushed``, ``Layer already exists`` or ``Mounted from
    REPO``, as ``docker push | cat`` does. ``load`` prints no per-layer lines at
    all off a terminal.
    """
    if prev == kind:
        return None
    if mode == "push":
        return TTY_LABELS["push"].get(kind) if kind != "layer.upload" else None
    if mode != "pull":
        return None
    if kind == "layer.waiting":
        return "Pulling fs layer"
    if kind == "layer.download":
        return "Pulling fs layer" if prev is None else None
    if kind == "layer.extract":
        return "Download complete" if prev in ("layer.waiting", "layer.download") else None
    if kind == "layer.done":
        return "Pull complete"
    if kind == "layer.exists":
        return "Already exists"
    return None


class Progress:
    """Turns engine :class:`Event` objects into docker-like per-layer lines.

    On a terminal (``tty=True``) each layer keeps one line that is rewritten in
    place (ANSI cursor-up + clear line), at most ``rate`` redraws a second
    unless a layer changes state. Otherwise a line is printed once per state
    change (``a3ed95caeb02: Pull complete``, see :func:`plain_label`).
    ``status`` events and the header (``latest: Pulling from library/busybox``)
    are plain lines.

    ``layer.exists`` events are held back until some layer really transfers:
    a pull that finds every layer present (an up-to-date image) shows no layer
    lines, as with docker. :meth:`finish` decides what happens to them.
    """

    def __init__(
        self,
        out: t.TextIO,
        tty: bool,
        width: int = 200,
        mode: str = "pull",
        rate: float = 10.0,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        self.out = out
        self.tty = tty
        self.width = width if width > 0 else 200
        self.mode = mode
        self.labels = TTY_LABELS.get(mode, TTY_LABELS["pull"])
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock = clock
        self._rows: list[str] = []  # layer ident, or "\0text" for a fixed line
        self._layers: dict[str, tuple[str, int, int, str]] = {}  # ident -> (kind, current, total, message)
        self._pending: list[Event] = []
        self._transferring = False
        self._drawn = 0  # rows on screen that we manage (and may rewrite)
        self._last_draw = 0.0
        self._dirty = False
        self._header = ""
        import threading

        self._lock = threading.RLock()

    # -- feeding
    def set_header(self, text: str) -> None:
        """Print the header line once (``latest: Pulling from library/busybox``)."""
        with self._lock:
            if text and not self._header:
                self._header = text
                self._add_text(text)

    def __call__(self, ev: Event) -> None:
        # The engine downloads layers in parallel threads: one writer at a time.
        with self._lock:
            self._feed(ev)

    def _feed(self, ev: Event) -> None:
        if ev.kind == "status":
            if ev.message:
                self._add_text(ev.message)
            return
        if not ev.kind.startswith("layer."):
            return  # resolve, image.done: the command prints its own summary
        if ev.kind == "layer.exists" and not self._transferring:
            self._pending.append(ev)
            return
        if not self._transferring:
            self._transferring = True
            pending, self._pending = self._pending, []
            for p in pending:
                self._apply(p)
        self._apply(ev)

    def finish(self, show_existing: bool = True) -> None:
        """Draw the final state; *show_existing* False drops held-back ``Already exists`` lines
        when no layer was transferred at all."""
        with self._lock:
            self._finish(show_existing)

    def _finish(self, show_existing: bool) -> None:
        if self._pending and (show_existing or self._transferring):
            pending, self._pending = self._pending, []
            for p in pending:
                self._apply(p)
        self._pending = []
        if self.tty and self._dirty:
            self._redraw(self.clock())
        self.out.flush()

    def _apply(self, ev: Event) -> None:
        prev = self._layers.get(ev.ident)
        self._layers[ev.ident] = (ev.kind, ev.current, ev.total, ev.message)
        prev_kind = prev[0] if prev else None
        if self.tty:
            if prev is None:
                self._rows.append(ev.ident)
            self._dirty = True
            now = self.clock()
            if prev_kind != ev.kind or now - self._last_draw >= self.interval:
                self._redraw(now)
            return
        label = plain_label(self.mode, prev_kind, ev.kind) or (ev.message if ev.kind == "layer.mounted" else None)
        if label:
            self._write(f"{ev.ident}: {label}\n")

    # -- drawing
    def _add_text(self, text: str) -> None:
        if self.tty:
            self._rows.append("\0" + text)
            self._redraw(self.clock())
        else:
            self._write(text + "\n")

    def _line(self, row: str) -> str:
        if row.startswith("\0"):
            return row[1:]
        kind, current, total, message = self._layers[row]
        label = self.labels.get(kind) or message or kind.split(".", 1)[-1].capitalize()
        line = f"{row}: {label}"
        if kind in _WITH_BAR and not (kind == "layer.done" and self.mode in _DONE_WITHOUT_BAR):
            meter = progress_bar(current, total, self.width)
            if meter:
                line += " " + meter
        return line[: self.width - 1] if self.width > 1 else line

    def _redraw(self, now: float) -> None:
        buf = []
        if self._drawn:
            buf.append(f"\x1b[{self._drawn}A")
        for row in self._rows:
            buf.append("\r\x1b[2K" + self._line(row) + "\n")
        self._drawn = len(self._rows)
        self._last_draw = now
        self._dirty = False
        self._write("".join(buf))

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


def inspect_lines(items: t.Sequence[t.Any], fmt: str | None) -> list[str]:
    """``docker inspect`` output: a JSON array (indent 4), ``--format json`` one object a line, or a Go
    template a line per item (:class:`TemplateError` when the template is bad)."""
    if fmt and fmt != "json":
        return [render_template(fmt, item) for item in items]
    if fmt == "json":
        return [go_json(item) for item in items]
    import json

    return [json.dumps(list(items), indent=4, ensure_ascii=False)]
