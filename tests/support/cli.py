# SPDX-License-Identifier: GPL-3.0-or-later
"""``bin/berth --root ROOT --config CONFIG …`` run as a user runs it, for the CLI's functional tests."""
from __future__ import annotations

import os
import subprocess
import sys
import typing as t

BERTH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "bin", "berth")


def pycache_env(pycache: str) -> dict[str, str]:
    """This environment with bytecode written (outside the tree, under *pycache*), as a user's would be."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = pycache
    return env


class Berth:
    """Calls return the ``CompletedProcess`` with ``out``/``err`` decoded too; *rc* is checked unless None."""

    def __init__(self, root: str, config: str, env: t.Mapping[str, str] | None = None) -> None:
        self.root = root
        self.config = config
        self.env = dict(env) if env is not None else None

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, BERTH, "--root", self.root, "--config", self.config, *args]

    def __call__(self, *args: str, input: bytes | str | None = None, rc: int | None = 0,
                 env: t.Mapping[str, str] | None = None, **kwargs: t.Any) -> t.Any:
        kwargs.setdefault("stdout", subprocess.PIPE)
        proc = subprocess.run(self.argv(*args), input=input.encode() if isinstance(input, str) else input,
                              stderr=subprocess.PIPE, env=env if env is not None else self.env, timeout=60,
                              check=False, **kwargs)
        proc.out = proc.stdout.decode(errors="replace") if isinstance(proc.stdout, bytes) else ""
        proc.err = proc.stderr.decode(errors="replace")
        if rc is not None:
            assert proc.returncode == rc, f"berth {' '.join(args)} -> {proc.returncode}\n{proc.err}{proc.out}"
        return proc


def scratch(base: t.Any) -> Berth:
    """A :class:`Berth` on a new data root below the directory *base* (``root/``, ``etc/daemon.json``
    naming it, bytecode in ``pycache/``)."""
    import json

    root, etc, cache = (os.path.join(os.fspath(base), n) for n in ("root", "etc", "pycache"))
    for d in (root, etc, cache):
        os.makedirs(d)
    config = os.path.join(etc, "daemon.json")
    with open(config, "w", encoding="utf-8") as fh:
        json.dump({"data-root": root}, fh)
    return Berth(root, config, pycache_env(cache))


def scratch_with_busybox(base: t.Any, busybox_rootfs: str, image: str,
                         extra: t.Mapping[str, tuple[bytes, int]] | None = None) -> Berth:
    """:func:`scratch` with the busybox root filesystem imported as *image* (``CMD ["sh"]``); *extra*
    adds files to it: ``{"./path": (content, mode)}``."""
    import io
    import tarfile

    b = scratch(base)
    tar = os.path.join(os.fspath(base), "rootfs.tar")
    with tarfile.open(tar, "w") as tf:
        tf.add(busybox_rootfs, arcname=".")
        for name, (data, mode) in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.mode, info.size = mode, len(data)
            tf.addfile(info, io.BytesIO(data))
    b("import", "-c", 'CMD ["sh"]', tar, image)
    return b
