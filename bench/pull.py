#!/usr/bin/env python
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/pull: pull a ~200 MB, 5-layer image from a loopback registry with Berth and its peers.

Layers: four of incompressible random data and one of ~20k small files, gzip-compressed, as
Docker images usually are. Every pull gets a *fresh variant* of the image (different content,
so different digests): no tool ever finds a layer it already has, and no extraction is timed
right after a mass delete (see shared/PEERS.md). Tools run in alternating order in each round.

    .venv/bin/python bench/pull.py [--rounds 3] [--mb 200] [--files 20000] [--tools berth,skopeo,podman,docker]
        [--baseline DIR]

Prints each tool's median wall time and its ratio to Berth's (>1 means Berth is faster), and the median
processor time (user + system of the tool's processes, which a busy host inflates less than wall time). ``--baseline DIR`` adds
``berth-base``: the ``bin/berth`` of another checkout (``git archive REV | tar -x -C DIR``), so a change is
compared with what it changes, against the same peers, in one run.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import typing as t
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

from tests.support.registry import Registry  # noqa: E402
from tests.support.cleanup import remove_tree  # noqa: E402

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


# ---------------------------------------------------------------- image making
def _tar_bytes(members: t.Iterable[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        dirs: set[str] = set()
        for name, data in members:
            parent = os.path.dirname(name)
            if parent and parent not in dirs:
                dirs.add(parent)
                ti = tarfile.TarInfo(parent)
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                ti.mtime = 1700000000
                tf.addfile(ti)
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o644
            ti.mtime = 1700000000
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def make_layers(seed: str, total_mb: int, n_files: int) -> list[bytes]:
    """Five uncompressed layer tars: four random blobs and one of many small files."""
    small_total = n_files * 1024
    big_each = max(1, (total_mb * 1_000_000 - small_total) // 4)
    layers = []
    for i in range(4):
        chunks = [(f"data/{seed}/big{i}/part{j}.bin", os.urandom(min(8 << 20, big_each - j * (8 << 20))))
                  for j in range((big_each + (8 << 20) - 1) // (8 << 20))]
        layers.append(_tar_bytes(chunks))
    rnd = os.urandom(n_files * 64)
    small = ((f"srv/{seed}/d{k // 500}/f{k}.txt", rnd[k * 64:(k + 1) * 64] * 16) for k in range(n_files))
    layers.append(_tar_bytes(small))
    return layers


def push_variant(reg: Registry, repo: str, tag: str, seed: str, total_mb: int, n_files: int) -> str:
    layers = make_layers(seed, total_mb, n_files)
    descs, diff_ids = [], []
    for raw in layers:
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        gz = gzip.compress(raw, compresslevel=1, mtime=0)
        descs.append({"mediaType": OCI_LAYER_GZIP, "digest": _upload(reg, repo, gz), "size": len(gz)})
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"bench layer {i}"} for i in range(5)],
    }).encode()
    cdesc = {"mediaType": OCI_CONFIG, "digest": _upload(reg, repo, config), "size": len(config)}
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cdesc, "layers": descs}).encode()
    reg.put_manifest(repo, tag, manifest, OCI_MANIFEST)
    return f"{reg.host}/{repo}:{tag}"


def _upload(reg: Registry, repo: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    req = urllib.request.Request(f"{reg.url}/v2/{repo}/blobs/uploads/", method="POST", data=b"")
    with urllib.request.urlopen(req) as resp:
        loc = resp.headers["Location"]
    if loc.startswith("/"):
        loc = reg.url + loc
    sep = "&" if "?" in loc else "?"
    req = urllib.request.Request(f"{loc}{sep}digest={digest}", method="PUT", data=data,
                                 headers={"Content-Type": "application/octet-stream"})
    urllib.request.urlopen(req).close()
    return digest


# ---------------------------------------------------------------- tools
class Tool:
    name = ""

    def available(self) -> bool:
        return True

    def setup(self, work: str, reg: Registry) -> None:
        pass

    def pull(self, ref: str, work: str) -> None:
        raise NotImplementedError

    def teardown(self) -> None:
        pass


def _run(argv: list[str], **kw: t.Any) -> None:
    res = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kw, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({res.returncode}): {res.stderr.strip()[-2000:]}")


class Berth(Tool):
    name = "berth"

    def setup(self, work: str, reg: Registry) -> None:
        self.config = os.path.join(work, "berth-daemon.json")
        with open(self.config, "w") as fh:
            json.dump({"insecure-registries": [reg.host]}, fh)

    def pull(self, ref: str, work: str) -> None:
        root = os.path.join(work, "berth-root")
        _run([os.path.join(REPO, "bin", "berth"), "--root", root, "--config", self.config, "pull", "-q", ref])


class BerthBaseline(Berth):
    """Another checkout's bin/berth (``--baseline``), with its own data root."""

    name = "berth-base"
    checkout = ""

    def available(self) -> bool:
        return os.path.exists(os.path.join(self.checkout, "bin", "berth"))

    def pull(self, ref: str, work: str) -> None:
        root = os.path.join(work, "berth-base-root")
        _run([os.path.join(self.checkout, "bin", "berth"), "--root", root, "--config", self.config, "pull", "-q", ref])


class Skopeo(Tool):
    name = "skopeo"

    def available(self) -> bool:
        return shutil.which("skopeo") is not None

    def pull(self, ref: str, work: str) -> None:
        # Copies blobs into an OCI layout without unpacking them: a floor, not a peer.
        _run(["skopeo", "--insecure-policy", "copy", "--quiet", "--src-tls-verify=false",
              f"docker://{ref}", f"oci:{os.path.join(work, 'skopeo-oci')}:x"])


class Podman(Tool):
    name = "podman"

    def available(self) -> bool:
        return shutil.which("podman") is not None

    def pull(self, ref: str, work: str) -> None:
        _run(["podman", "--root", os.path.join(work, "podman-root"), "--runroot", os.path.join(work, "podman-run"),
              "--cgroup-manager=cgroupfs", "--events-backend=file", "pull", "-q", "--tls-verify=false", ref])


class Docker(Tool):
    name = "docker"
    proc: subprocess.Popen | None = None

    def available(self) -> bool:
        return shutil.which("dockerd") is not None and shutil.which("docker") is not None

    def setup(self, work: str, reg: Registry) -> None:
        d = os.path.join(work, "docker")
        os.makedirs(d, exist_ok=True)
        self.sock = os.path.join(d, "docker.sock")
        cfg = os.path.join(d, "daemon.json")
        with open(cfg, "w") as fh:
            json.dump({"insecure-registries": [reg.host], "data-root": os.path.join(d, "root"),
                       "exec-root": os.path.join(d, "exec"), "pidfile": os.path.join(d, "docker.pid"),
                       "hosts": [f"unix://{self.sock}"], "bridge": "none", "iptables": False}, fh)
        self.log = open(os.path.join(d, "dockerd.log"), "w")
        self.proc = subprocess.Popen(["dockerd", "--config-file", cfg], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if subprocess.run(["docker", "-H", f"unix://{self.sock}", "version"], capture_output=True, check=False).returncode == 0:
                return
            time.sleep(0.3)
        raise RuntimeError("dockerd did not start; see " + self.log.name)

    def pull(self, ref: str, work: str) -> None:
        _run(["docker", "-H", f"unix://{self.sock}", "pull", "-q", ref])

    def teardown(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None


def _children_cpu() -> float:
    """User + system time of the waited-for child processes so far (dockerd's work is not counted)."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


TOOLS = {c.name: c for c in (Berth, BerthBaseline, Skopeo, Podman, Docker)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--tools", default="berth,skopeo,podman,docker")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--baseline", help="a checkout of another revision: its bin/berth runs as berth-base")
    args = ap.parse_args(argv)
    if args.baseline:
        BerthBaseline.checkout = os.path.abspath(args.baseline)
        if "berth-base" not in args.tools.split(","):
            args.tools += ",berth-base"

    tools: list[Tool] = []
    for name in args.tools.split(","):
        tool = TOOLS[name]()
        if tool.available():
            tools.append(tool)
        else:
            print(f"# {name}: not installed, skipped")
    work = tempfile.mkdtemp(prefix="berth-bench-pull-", dir="/var/tmp")
    times: dict[str, list[float]] = {x.name: [] for x in tools}
    cpu: dict[str, list[float]] = {x.name: [] for x in tools}
    try:
        with Registry() as reg:
            for tool in tools:
                tool.setup(work, reg)
            print(f"# registry {reg.host}; image {args.mb} MB in 5 layers (one with {args.files} files); "
                  f"{args.rounds} rounds; a fresh variant per pull")
            for rnd in range(args.rounds):
                order = tools[rnd % len(tools):] + tools[:rnd % len(tools)]
                for tool in order:
                    ref = push_variant(reg, f"bench/{tool.name}", f"r{rnd}", f"{tool.name}{rnd}{os.urandom(4).hex()}",
                                       args.mb, args.files)
                    subprocess.run(["sync"], check=False)
                    before = _children_cpu()
                    start = time.monotonic()
                    tool.pull(ref, work)
                    elapsed = time.monotonic() - start
                    used = _children_cpu() - before
                    times[tool.name].append(elapsed)
                    cpu[tool.name].append(used)
                    print(f"round {rnd + 1} {tool.name:10s} {elapsed:6.2f} s  cpu {used:6.2f} s", flush=True)
    finally:
        for tool in tools:
            tool.teardown()
        remove_tree(work)  # podman leaves its overlay directory bound

    med = {k: statistics.median(v) for k, v in times.items() if v}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items() if v}
    base, base_cpu = med.get("berth"), med_cpu.get("berth")
    print("\ntool        median   ratio to berth (>1: berth faster)   cpu median   cpu ratio")
    for name, m in med.items():
        ratio = f"{m / base:5.2f}x" if base else "-"
        c = med_cpu[name]
        cratio = f"{c / base_cpu:5.2f}x" if base_cpu else "-"
        print(f"{name:10s} {m:6.2f} s  {ratio:>34s}   {c:8.2f} s   {cratio}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"times": times, "median": med, "cpu": cpu, "median_cpu": med_cpu}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
