# SPDX-License-Identifier: GPL-3.0-or-later
"""The container root filesystem: an overlayfs of the image layers plus the container's own upper dir.

Layer directories are stacked top-most first (overlayfs ``lowerdir`` order).
A layer that appears twice in one image keeps only its top-most place: the
lower copy is entirely covered by the upper one, so the view is the same, and
overlayfs refuses a directory that is used twice.  The mount options must fit
in one page; long stacks are mounted through short relative links
(``<root>/l/<id>``) from a child process that changes into ``<root>``, as
Docker's overlay2 driver does.
"""
from __future__ import annotations

import os

from ..core import fs
from ..runtime import unescape_mountinfo as unescape

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time: ``berth run`` mounts a rootfs (runtime/__init__.py)
    import typing as t

    class Mounter(t.Protocol):
        def mount(self, source: str | None, target: str, fstype: str | None, flags: int,
                  data: str | None) -> None: ...

        def umount2(self, target: str, flags: int) -> None: ...

MS_RDONLY = 0x1
#: Leave room below the page size for the rest of the option string.
MAX_OPTIONS = 3800


def stack(lower_dirs: t.Sequence[str]) -> list[str]:
    """Top-most first, each directory once (keeping its top-most place)."""
    out: list[str] = []
    seen: set[str] = set()
    for d in lower_dirs:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def options(lower: t.Sequence[str], upper: str | None, work: str | None) -> str:
    opts = "lowerdir=" + ":".join(lower)
    if upper and work:
        opts += f",upperdir={upper},workdir={work}"
    return opts


def short_links(root: str, lower: t.Sequence[str]) -> list[str]:
    """``l/<id>`` links (relative to *root*) for each lower dir; created once, reused."""
    import hashlib  # only for long layer stacks

    links_dir = fs.ensure_dir(os.path.join(root, "l"), 0o700)
    out = []
    for d in lower:
        name = hashlib.sha256(d.encode()).hexdigest()[:20]
        link = os.path.join(links_dir, name)
        if not os.path.islink(link):
            tmp = f"{link}.{os.getpid()}.tmp"
            fs.remove_quietly(tmp)
            os.symlink(os.path.relpath(d, links_dir), tmp)
            os.rename(tmp, link)
        out.append(f"l/{name}")
    return out


def mount_rootfs(
    mounter: Mounter,
    root: str,
    lower_dirs: t.Sequence[str],
    upper: str,
    work: str,
    target: str,
    empty_dir: str,
    base: str | None = None,
) -> None:
    """Mount the overlay at *target* (read-write through *upper*). A long stack is mounted with paths
    relative to *base* when the lower dirs lie below it (idmapped layers, idmap.py), else
    through the ``<root>/l/`` links."""
    lower = stack(lower_dirs) or [empty_dir]
    for d in (upper, work, target):
        fs.ensure_dir(d, 0o755)
    _mount(mounter, root, lower, upper, work, target, 0, base)


def mount_readonly(mounter: Mounter, root: str, lower_dirs: t.Sequence[str], target: str, empty_dir: str,
                   base: str | None = None) -> None:
    """Mount the read-only overlay of *lower_dirs* (top first, no upper dir) at the existing *target*.

    What ``export`` reads of a stopped container: its upper dir on top of the image layers. Without an
    upper dir overlayfs wants two lower dirs at least; *empty_dir* is the second one when needed.
    """
    lower = stack(lower_dirs)
    if len(lower) < 2:
        lower.append(empty_dir)
    _mount(mounter, root, lower, None, None, target, MS_RDONLY, base)


def _mount(mounter: Mounter, root: str, lower: t.Sequence[str], upper: str | None, work: str | None, target: str,
           flags: int, base: str | None = None) -> None:
    """The overlay mount itself; when the options are too long, with paths relative to *base* (for the
    lower dirs below it) or through ``<root>/l/`` links."""
    opts = options(lower, upper, work)
    if len(opts) <= MAX_OPTIONS:
        mounter.mount("overlay", target, "overlay", flags, opts)
        return
    below = (base or "").rstrip("/") + "/"
    if base is not None and any(d.startswith(below) for d in lower):
        # idmapped layers (an export puts the upper dir on top, outside *base*): those by relative name
        cwd, rel = base, options([os.path.relpath(d, base) if d.startswith(below) else d for d in lower],
                                 upper, work)
    else:
        cwd, rel = root, options(short_links(root, lower), upper, work)
    if len(rel) > MAX_OPTIONS:
        raise OSError(7, f"mount overlay {target}: {len(lower)} layers do not fit in the mount options")
    _mount_from(cwd, lambda: mounter.mount("overlay", target, "overlay", flags, rel))


def _mount_from(cwd: str, do: t.Callable[[], None]) -> None:
    """Run *do* in a child process whose working directory is *cwd* (relative lowerdirs)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.close(r)
            os.chdir(cwd)
            do()
            os._exit(0)
        except OSError as exc:
            os.write(w, f"{exc.errno}:{exc}".encode()[:4000])
            os._exit(1)
        except BaseException as exc:  # noqa: BLE001
            os.write(w, f"0:{exc}".encode()[:4000])
            os._exit(1)
    os.close(w)
    msg = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        msg += chunk
    os.close(r)
    dummy, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        code, dummy, text = msg.decode(errors="replace").partition(":")
        raise OSError(int(code) if code.isdigit() else 0, text or "overlay mount failed")


def is_mounted(target: str) -> bool:
    """True when *target* is a mount point (checked in /proc/self/mountinfo)."""
    target = os.path.realpath(target)
    try:
        with open("/proc/self/mountinfo", "rb") as fh:
            for line in fh:
                fields = line.split(b" ", 5)
                if len(fields) > 4 and unescape(fields[4].decode("utf-8", "surrogateescape")) == target:
                    return True
    except OSError:
        return os.path.ismount(target)
    return False
