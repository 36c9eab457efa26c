# SPDX-License-Identifier: GPL-3.0-or-later
"""The build context: a directory seen through ``.dockerignore``, and the sources COPY/ADD name in it.

``.dockerignore`` follows Docker (moby ``patternmatcher``): one pattern a line, ``#`` comments and blank
lines skipped, each pattern cleaned (``filepath.Clean``, a leading ``/`` dropped); ``*`` and ``?`` do not
cross ``/``, ``**`` matches any number of directories, ``[...]`` classes, ``\\`` escapes; a path is
excluded when the last pattern that matches it or one of its parent directories is not a ``!`` one
(``!`` re-includes). The Dockerfile and ``.dockerignore`` are read by the builder even when excluded,
but COPY cannot name them then.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import os
import posixpath
import re
import stat
import typing as t

from ..core.digest import hasher
from ..errors import BuildError, InvalidOption


@dataclasses.dataclass(frozen=True)
class _Pattern:
    text: str
    regex: re.Pattern[str]
    negate: bool


def _translate(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                i += 2
                if pattern.startswith("/", i):  # "**/": zero or more directories
                    out.append("(?:.*/)?")
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise InvalidOption(".dockerignore", pattern, "unterminated [ class")
            body = pattern[i + 1:end]
            if body.startswith("^") or body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    out.append("$")
    return re.compile("".join(out), re.S)


class IgnoreMatcher:
    """``.dockerignore`` patterns; :meth:`excluded` says whether a context path is left out."""

    def __init__(self, lines: t.Iterable[str]) -> None:
        self.patterns: list[_Pattern] = []
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            if negate:
                line = line[1:].strip()
            line = posixpath.normpath(line).lstrip("/") or "."
            if line == ".":
                continue
            self.patterns.append(_Pattern(line, _translate(line), negate))

    @classmethod
    def read(cls, root: str) -> IgnoreMatcher:
        try:
            with open(os.path.join(root, ".dockerignore"), encoding="utf-8") as fh:
                return cls(fh.read().splitlines())
        except FileNotFoundError:
            return cls([])

    def excluded(self, rel: str) -> bool:
        """*rel*: a path relative to the context root, ``/``-separated."""
        if not self.patterns:
            return False
        parts = rel.strip("/").split("/")
        prefixes = ["/".join(parts[:k]) for k in range(1, len(parts) + 1)]
        result = False
        for p in self.patterns:
            if any(p.regex.match(x) for x in prefixes):
                result = not p.negate
        return result

    def may_include_below(self, rel: str) -> bool:
        """Whether a ``!`` pattern may re-include something below the excluded directory *rel*."""
        prefix = rel.strip("/") + "/"
        return any(p.negate and (p.text.startswith(prefix) or "*" in p.text) for p in self.patterns)


@dataclasses.dataclass(frozen=True)
class Source:
    """A file the context supplies: *rel* its path in the context, *path* on disk."""

    rel: str
    path: str
    st: os.stat_result


class Context:
    """A directory as a build context (a tarball or a git checkout is unpacked into one first)."""

    def __init__(self, root: str | None) -> None:
        self.root = os.path.realpath(root) if root else None
        self.ignore = IgnoreMatcher.read(self.root) if self.root else IgnoreMatcher([])

    def _need_root(self, what: str) -> str:
        if self.root is None:
            raise BuildError(f"{what}: there is no build context (the Dockerfile came from standard input)")
        return self.root

    def resolve(self, pattern: str, instruction: str) -> list[Source]:
        """The entries *pattern* (a path or a wildcard, relative to the context) names: each matched
        entry, directories with the entries below them that ``.dockerignore`` keeps; raises BuildError
        when nothing matches."""
        root = self._need_root(instruction)
        rel = posixpath.normpath("/" + pattern).lstrip("/")
        if any(c in rel for c in "*?["):
            found = self._glob(root, rel)
        else:
            found = [rel] if os.path.lexists(os.path.join(root, rel)) and not self._excluded(rel) else []
        if not found:
            raise BuildError(f"{instruction} failed: file not found in build context or excluded by "
                             f".dockerignore: stat {pattern}: file does not exist")
        out: list[Source] = []
        for item in found:
            out.extend(self._walk(root, item))
        return out

    def _excluded(self, rel: str) -> bool:
        return bool(rel) and rel != "." and self.ignore.excluded(rel)

    def _glob(self, root: str, rel: str) -> list[str]:
        parts = rel.split("/")
        matches = [""]
        for part in parts:
            nxt = []
            for base in matches:
                d = os.path.join(root, base)
                if not os.path.isdir(d) or os.path.islink(d):
                    continue
                for name in sorted(os.listdir(d)):
                    if fnmatch.fnmatchcase(name, part):
                        nxt.append(posixpath.join(base, name) if base else name)
            matches = nxt
        return [m for m in matches if not self._excluded(m)]

    def _walk(self, root: str, rel: str) -> list[Source]:
        path = os.path.join(root, rel) if rel not in ("", ".") else root
        st = os.lstat(path)
        out = [Source("" if rel == "." else rel, path, st)]
        if not stat.S_ISDIR(st.st_mode):
            return out
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            base = os.path.relpath(dirpath, root).replace(os.sep, "/")
            base = "" if base == "." else base
            keep = []
            for name in dirnames:
                r = posixpath.join(base, name) if base else name
                if self._excluded(r):
                    if self.ignore.may_include_below(r):
                        keep.append(name)  # walk it for re-included entries, but do not list it
                    continue
                keep.append(name)
                sub = os.path.join(dirpath, name)
                out.append(Source(r, sub, os.lstat(sub)))
            dirnames[:] = keep
            for name in sorted(filenames):
                r = posixpath.join(base, name) if base else name
                if not self._excluded(r):
                    p = os.path.join(dirpath, name)
                    out.append(Source(r, p, os.lstat(p)))
        return out


def content_hash(items: t.Iterable[tuple[str, str, os.stat_result]]) -> str:
    """The cache key part of COPY/ADD sources: for each (name in the layer, path, lstat), the name, type,
    mode, owner and content (a symlink's target); not times. ``sha256:<hex>``.

    Sized for core.digest's :func:`hasher`: a small copy is hashed without loading OpenSSL."""
    items = list(items)
    h = hasher("sha256:", sum(st.st_size for dummy, dummy2, st in items if stat.S_ISREG(st.st_mode)))
    for name, path, st in items:
        h.update(f"{name}\0{stat.S_IFMT(st.st_mode)}\0{stat.S_IMODE(st.st_mode)}\0".encode())
        if stat.S_ISREG(st.st_mode):
            with open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        elif stat.S_ISLNK(st.st_mode):
            h.update(os.readlink(path).encode("utf-8", "surrogateescape"))
        h.update(b"\0\0")
    return "sha256:" + h.hexdigest()
