# SPDX-License-Identifier: GPL-3.0-or-later
"""Docker's ``json-file`` log driver: the writer the monitor feeds, the reader behind ``logs``.

One JSON object per line, as ``dockerd`` writes them::

    {"log":"hello\\n","stream":"stdout","time":"2024-05-01T12:00:00.123456789Z"}

* ``time`` is Go's ``RFC3339Nano`` in UTC (trailing zeros of the fraction dropped, as Go does).
* A line longer than 16 KiB is split into 16 KiB partial entries without a newline followed by the
  rest (Docker's copier buffer); a last line without a newline is written as a partial entry when the
  container's output ends (:meth:`LogWriter.flush`).
* Rotation (``--log-opt max-size``/``max-file``): before an entry is written, a file that has reached
  *max_size* is rotated ``path -> path.1 -> path.2 ...`` keeping *max_file* files in all; with one file it
  is truncated in place (Docker's ``loggerutils``).

Import cost matters: the monitor (one per container) imports this module, so the writer half uses only
``os``/``time`` and the C string encoder of ``json`` (``_json``, which does not pull in ``re``);
``json`` itself is imported by the reader only. ``typing`` is for type checkers only (see
``runtime/__init__``).
"""
from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

try:
    from _json import encode_basestring as _json_string  # what json.dumps uses; importing it costs nothing
except ImportError:  # pragma: no cover - interpreters without the C accelerator
    from json.encoder import py_encode_basestring as _json_string

#: Docker's copier buffer: longer lines become partial entries of this size.
MAX_LINE = 16 * 1024
STREAMS = ("stdout", "stderr")


def rfc3339_nano(ns: int) -> str:
    """Go's ``time.RFC3339Nano`` of *ns* nanoseconds since the epoch, in UTC."""
    secs, frac = divmod(ns, 1_000_000_000)
    tm = time.gmtime(secs)
    out = "%04d-%02d-%02dT%02d:%02d:%02d" % tm[:6]
    if frac:
        out += "." + ("%09d" % frac).rstrip("0")
    return out + "Z"


def encode_entry(stream: str, data: bytes, ns: int) -> bytes:
    """One json-file line for *data* (a whole line with its newline, or a partial chunk)."""
    return ('{"log":%s,"stream":"%s","time":"%s"}\n' % (
        _json_string(data.decode("utf-8", "replace")), stream, rfc3339_nano(ns))).encode("utf-8")


class LogWriter:
    """Append entries to *path* with rotation; ``write()`` takes raw output as it arrives."""

    def __init__(self, path: str, max_size: int | None = None, max_file: int = 1,
                 clock: t.Callable[[], int] = time.time_ns) -> None:
        self.path = path
        self.max_size = max_size if max_size and max_size > 0 else None
        self.max_file = max(1, int(max_file or 1))
        self._clock = clock
        self._pending: dict[str, bytes] = {}
        self._fd = -1
        self._size = 0
        self._open(truncate=False)

    def _open(self, truncate: bool) -> None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | (os.O_TRUNC if truncate else 0)
        self._fd = os.open(self.path, flags, 0o640)
        self._size = os.fstat(self._fd).st_size

    def write(self, stream: str, data: bytes) -> None:
        """Split *data* into lines (keeping an unfinished last line for later) and append them."""
        buf = self._pending.pop(stream, b"") + data if stream in self._pending else data
        if not buf:
            return
        ns = self._clock()
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            while nl + 1 - start > MAX_LINE:
                self._emit(stream, buf[start:start + MAX_LINE], ns)
                start += MAX_LINE
            self._emit(stream, buf[start:nl + 1], ns)
            start = nl + 1
        while len(buf) - start >= MAX_LINE:
            self._emit(stream, buf[start:start + MAX_LINE], ns)
            start += MAX_LINE
        if start < len(buf):
            self._pending[stream] = buf[start:]

    def flush(self) -> None:
        """Write unfinished lines as partial entries (the output ended without a newline)."""
        if not self._pending:
            return
        ns = self._clock()
        for stream in sorted(self._pending):
            self._emit(stream, self._pending[stream], ns)
        self._pending.clear()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _emit(self, stream: str, chunk: bytes, ns: int) -> None:
        if self.max_size is not None and self._size >= self.max_size:
            self.rotate()
        line = encode_entry(stream, chunk, ns)
        view = memoryview(line)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        self._size += len(line)

    def rotate(self) -> None:
        os.close(self._fd)
        self._fd = -1
        if self.max_file > 1:
            _remove_quietly(f"{self.path}.{self.max_file - 1}")
            for i in range(self.max_file - 2, 0, -1):
                try:
                    os.rename(f"{self.path}.{i}", f"{self.path}.{i + 1}")
                except FileNotFoundError:
                    pass
            try:
                os.rename(self.path, f"{self.path}.1")
            except FileNotFoundError:
                pass
        self._open(truncate=True)


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


# ------------------------------------------------------------------ reading
class LogEntry(tuple):
    """``(stream, time, data)``: stream ``stdout``/``stderr``, unix time (float), the raw bytes.

    A tuple subclass rather than a dataclass so that importing this module (in every monitor) does not
    import ``dataclasses``/``inspect``.
    """

    __slots__ = ()

    def __new__(cls, stream: str, time: float, data: bytes) -> LogEntry:
        return tuple.__new__(cls, (stream, time, data))

    @property
    def stream(self) -> str:
        return self[0]  # type: ignore[no-any-return]

    @property
    def time(self) -> float:
        return self[1]  # type: ignore[no-any-return]

    @property
    def data(self) -> bytes:
        return self[2]  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"LogEntry(stream={self[0]!r}, time={self[1]!r}, data={self[2]!r})"


def parse_time(text: str) -> float:
    """``2024-05-01T12:00:00.123456789Z`` -> unix seconds (fast path for what the writer produces)."""
    if len(text) >= 20 and text[-1] == "Z" and text[4] == "-" and text[10] == "T":
        try:
            y, mo, d = int(text[0:4]), int(text[5:7]), int(text[8:10])
            h, mi, s = int(text[11:13]), int(text[14:16]), int(text[17:19])
            frac = text[20:-1] if text[19] == "." else ""
            return (_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s
                    + (int(frac) / 10 ** len(frac) if frac else 0.0))
        except ValueError:
            pass
    from ..core.timefmt import parse_rfc3339

    value = parse_rfc3339(text)
    return value if value is not None else 0.0


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def log_files(path: str) -> list[str]:
    """The existing files of one log, oldest first: ``path.N ... path.1, path``."""
    older = []
    i = 1
    while os.path.exists(f"{path}.{i}"):
        older.append(f"{path}.{i}")
        i += 1
    older.reverse()
    return older + ([path] if os.path.exists(path) else [])


def read_logs(
    path: str,
    follow: bool = False,
    tail: int | None = None,
    since: float | None = None,
    until: float | None = None,
    stdout: bool = True,
    stderr: bool = True,
    still_running: t.Callable[[], bool] | None = None,
    poll_interval: float = 0.1,
) -> t.Iterator[LogEntry]:
    """Entries of the json-file log at *path* (and its rotated files), oldest first.

    * *tail*: only the last *tail* entries already written (counted before the stream filter, as
      Docker counts them); found by reading the files backwards. ``0`` shows none of the old ones.
    * *since*/*until*: unix times; entries older than *since* are skipped, the output ends at the first
      entry newer than *until* (both bounds included).
    * *follow*: keep reading new entries, across rotations, until *still_running()* returns False (the
      last entries are read after that answer) or, with *until*, until that time has passed. Without
      *still_running* it follows until the caller stops iterating.

    Files are followed by identity, not by name: when the file being read is rotated away, the next one
    is the file that now sits one place newer in the ``path.N ... path.1, path`` chain (checked against
    renames happening meanwhile), so a reader that falls behind by several rotations loses nothing
    while *max_file* keeps the files around.
    """
    import json

    wanted = {"stdout": stdout, "stderr": stderr}
    files = log_files(path)
    offset = 0
    if tail is not None:
        files, starts = _tail_start(files, max(0, tail))
        offset = starts.get(files[0], 0) if files else 0
    if since is not None:
        kept = [f for f in files if f == path or _mtime(f) >= since]
        if kept[:1] != files[:1]:
            offset = 0
        files = kept

    def entries(chunk: bytes) -> t.Iterator[LogEntry]:
        for raw in chunk.splitlines():
            if not raw:
                continue
            try:
                obj = json.loads(raw)
                entry = LogEntry(obj.get("stream", "stdout"), parse_time(obj.get("time", "")),
                                 obj.get("log", "").encode("utf-8"))
            except (ValueError, AttributeError, TypeError):
                continue
            if since is not None and entry.time < since:
                continue
            if until is not None and entry.time > until:
                raise _Until
            if wanted.get(entry.stream, True):
                yield entry

    fd = _open_first(files)
    if fd >= 0 and offset:
        os.lseek(fd, offset, os.SEEK_SET)
    rest = b""
    try:
        while True:
            if fd < 0:
                if not follow or (still_running is not None and not still_running()):
                    return
                try:
                    fd, rest = os.open(path, os.O_RDONLY | os.O_CLOEXEC), b""
                except FileNotFoundError:
                    time.sleep(poll_interval)
                    continue
            running = still_running() if still_running is not None else True
            st = os.fstat(fd)
            live = _same_file(path, st)
            if live and st.st_size < os.lseek(fd, 0, os.SEEK_CUR):  # truncated in place (max-file 1)
                os.lseek(fd, 0, os.SEEK_SET)
                rest = b""
            # A file rotated away gets no more writes (the writer closes it first): one drain reads it all.
            got = False
            while True:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                got = True
                chunk = rest + chunk
                cut = chunk.rfind(b"\n") + 1
                rest = chunk[cut:]
                yield from entries(chunk[:cut])
            if not live:
                yield from entries(rest)
                nfd = _open_next(path, st)
                os.close(fd)
                fd, rest = nfd, b""
                continue
            if got and follow:
                continue
            if not follow or not running:
                yield from entries(rest)
                return
            if until is not None and time.time() > until:
                return
            time.sleep(poll_interval)
    except _Until:
        return
    finally:
        if fd >= 0:
            os.close(fd)


class _Until(Exception):
    """An entry newer than *until*: the output ends."""


def _same_file(path: str, st: os.stat_result) -> bool:
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    return (now.st_ino, now.st_dev) == (st.st_ino, st.st_dev)


def _open_first(files: list[str]) -> int:
    for name in files:
        try:
            return os.open(name, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:  # rotated meanwhile: the next name holds what follows
            continue
    return -1


def _open_next(path: str, st: os.stat_result, patience: float = 1.0) -> int:
    """The file right after the rotated-away file *st* in the chain (-1: no log file at all).

    Opened first, then checked: if *st* still sits at the place found, no rotation came in between, so
    the opened file is its successor. A rotation renames files one by one (a scan can miss a file that
    moves meanwhile), so the search is retried for up to *patience* seconds.
    """
    deadline = time.monotonic() + patience
    key = (st.st_ino, st.st_dev)
    previous: list[tuple[int, int]] | None = None
    stable_since = time.monotonic()
    while True:
        index = 0
        chain = []
        i = 1
        while True:
            try:
                other = os.stat(f"{path}.{i}")
            except FileNotFoundError:
                break
            chain.append((other.st_ino, other.st_dev))
            if chain[-1] == key:
                index = i
                break
            i += 1
        now = time.monotonic()
        if chain != previous:
            previous, stable_since = chain, now
        elif not index and now - stable_since > 0.05:
            deadline = 0.0  # not in a chain that stopped moving: deleted (a rotation is far quicker)
        if index:
            name = path if index == 1 else f"{path}.{index - 1}"
            try:
                fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                fd = -1
            if fd >= 0:
                try:
                    again = os.stat(f"{path}.{index}")
                    if (again.st_ino, again.st_dev) == key:
                        return fd
                except FileNotFoundError:
                    pass
                os.close(fd)
        if time.monotonic() >= deadline:
            # *st* left the chain: deleted by max-file while we were behind. The oldest file left is the
            # nearest newer one (what was in between is lost, as with Docker).
            return _open_first(log_files(path))
        time.sleep(0.002)


def _size(name: str) -> int:
    try:
        return os.stat(name).st_size
    except OSError:
        return 0


def _mtime(name: str) -> float:
    try:
        return os.stat(name).st_mtime
    except OSError:
        return 0.0


def _tail_start(files: list[str], n: int) -> tuple[list[str], dict[str, int]]:
    """The files holding the last *n* entries, and the offset to start at in the first of them."""
    if not files:
        return files, {}
    if n == 0:
        return files[-1:], {files[-1]: _size(files[-1])}
    needed = n
    for index in range(len(files) - 1, -1, -1):
        offset, found = _last_lines_offset(files[index], needed)
        if found >= needed:
            return files[index:], {files[index]: offset}
        needed -= found
    return files, {}


def _last_lines_offset(name: str, n: int, block: int = 1 << 16) -> tuple[int, int]:
    """Offset of the start of the last *n* lines of *name* (reading backwards) and how many were found."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return 0, 0
    try:
        end = os.fstat(fd).st_size
        if end == 0:
            return 0, 0
        os.lseek(fd, end - 1, os.SEEK_SET)
        # a last line without its newline (a write in progress) counts as a line too
        seen = -1 if os.read(fd, 1) == b"\n" else 0
        pos = end
        while pos > 0:
            start = max(0, pos - block)
            os.lseek(fd, start, os.SEEK_SET)
            chunk = os.read(fd, pos - start)
            i = len(chunk)
            while True:
                i = chunk.rfind(b"\n", 0, i)
                if i < 0:
                    break
                seen += 1
                if seen == n:
                    return start + i + 1, n
            pos = start
        return 0, seen + 1
    finally:
        os.close(fd)
