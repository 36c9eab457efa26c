# SPDX-License-Identifier: GPL-3.0-or-later
"""The fixed costs of the ``berth`` commands other than ``run`` (test_start_path.py holds run's): what they
import, which is most of what they cost when they have little to do.

* **a fully cached build** (issue 12's aim: at most half the time of the fastest peer, docker's classic
  builder at ~70 ms here): every step is a cache hit, so it reads the image store and the build cache and
  writes nothing. It may not load what only a step that runs needs: the layer code (store.unpack; the
  image's tree it reads through store.changes), the container service and runtime, the HTTP client of
  ``ADD URL``, threads; nor OpenSSL (hashlib): the digests it checks are of a few kB (core/digest.py
  ``hasher``).
* **berth version**: the version and this host's platform, no service, store or template engine.
* neither reads an ordinary command line with argparse (cli/flags.py ``parse_simple``: ~9 ms with its help
  formatter, shutil and locale).
* **a listing without --format** (``berth images``): tables only; the Go template engine loads for
  ``--format`` alone (and does then: the test sees it).

Imports are counted with ``python3 -S -X importtime`` as the user runs bin/berth, bytecode cached (as a
user's install has it). No wall time: that is bench/build.py's.
"""
from __future__ import annotations

import os
import subprocess

import pytest

from tests.support.cli import BERTH, scratch_with_busybox

PYTHON = "/usr/bin/python3"  # bin/berth's interpreter (its shebang)

pytestmark = [
    pytest.mark.functional,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not os.path.exists(PYTHON), reason=f"bin/berth runs {PYTHON}"),
]

#: A Dockerfile of metadata steps, a RUN and COPYs into directories (no step needs the image's files).
DOCKERFILE = """\
FROM busybox:latest
ENV APP=/app
WORKDIR /app
COPY a.txt ./
COPY src/ ./src/
RUN echo built > built.txt
LABEL purpose=fixed-costs
CMD ["cat", "built.txt"]
"""

TEMPLATE_ENGINE = frozenset({
    "berth_engine.cli.gotemplate.execute", "berth_engine.cli.gotemplate.parser", "berth_engine.cli.gotemplate.funcs",
})
#: an ordinary command line of build or version is read without argparse (cli/flags.py parse_simple)
ARGPARSE = frozenset({"argparse", "gettext", "berth_engine.cli.parser"})
CACHED_BUILD_FORBIDDEN = TEMPLATE_ENGINE | ARGPARSE | {
    "hashlib", "_hashlib", "threading", "subprocess", "urllib.parse", "urllib.request", "email.utils",
    # store.changes it may load: a COPY into a directory asks it what the image has at the destination
    "berth_engine.engine.store.unpack", "berth_engine.engine.store.decompress", "decimal",
    "berth_engine.engine.store.archive",
    "berth_engine.engine.services.containers", "berth_engine.engine.services.images",
    "berth_engine.engine.runtime", "berth_engine.engine.supervisor", "berth_engine.engine.options.container",
    "berth_engine.engine.registry",
}
VERSION_FORBIDDEN = TEMPLATE_ENGINE | ARGPARSE | {
    "platform", "hashlib", "dataclasses", "berth_engine.engine.services.system",
    "berth_engine.engine.services.images", "berth_engine.engine.store.images",
}


def imported(stderr: bytes) -> set[str]:
    out = set()
    for line in stderr.decode(errors="replace").splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "package":
                out.add(name)
    return out


class Cli:
    def __init__(self, base: str, busybox_rootfs: str) -> None:
        self.b = scratch_with_busybox(base, busybox_rootfs, "busybox:latest")

    def run(self, *args: str, cwd: str | None = None) -> tuple[str, set[str]]:
        """``bin/berth ARGS`` as the user runs it, imports timed: (stdout, names of the modules it loaded)."""
        argv = [PYTHON, "-S", "-X", "importtime", BERTH, "--root", self.b.root, "--config", self.b.config, *args]
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.b.env, cwd=cwd,
                              timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
        return proc.stdout.decode(), imported(proc.stderr)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs: str) -> Cli:
    return Cli(str(tmp_path_factory.mktemp("fixed-costs")), busybox_rootfs)


def test_a_fully_cached_build_loads_no_layer_container_or_openssl_code(cli: Cli, tmp_path: str) -> None:
    ctx = os.path.join(tmp_path, "ctx")
    os.makedirs(os.path.join(ctx, "src"))
    for name, text in (("Dockerfile", DOCKERFILE), ("a.txt", "a\n"), ("src/b.txt", "b\n")):
        with open(os.path.join(ctx, name), "w") as fh:
            fh.write(text)
    first, dummy = cli.run("build", "-q", "-t", "fixed:1", ".", cwd=ctx)
    out, loaded = cli.run("build", "-t", "fixed:1", ".", cwd=ctx)
    assert out.count(" ---> Using cache") == 7 and first.strip()[7:19] in out  # every step a hit, same image
    assert "berth_engine.engine.build.builder" in loaded  # the report covers the build
    assert sorted(loaded & CACHED_BUILD_FORBIDDEN) == []
    assert sorted(m for m in loaded if m.startswith(tuple(n + "." for n in CACHED_BUILD_FORBIDDEN))) == []


def test_version_loads_no_service_store_or_template_engine(cli: Cli) -> None:
    out, loaded = cli.run("version")
    assert out.startswith("Client:\n Version:") and "Server: Berth Engine" in out
    assert sorted(loaded & VERSION_FORBIDDEN) == []


def test_only_a_format_loads_the_template_engine(cli: Cli) -> None:
    out, loaded = cli.run("images")
    assert out.startswith("REPOSITORY") and "busybox" in out
    assert sorted(loaded & TEMPLATE_ENGINE) == []
    out, loaded = cli.run("images", "--format", "{{.Repository}}:{{.Tag}}")
    assert "busybox:latest" in out.splitlines()
    assert TEMPLATE_ENGINE <= loaded
