# SPDX-License-Identifier: GPL-3.0-or-later
"""A store that heals itself: what a killed ``bin/berth pull``/``load`` leaves behind is counted, reclaimed
and reused; damaged blobs are named and repaired. Real SIGKILLs of real ``bin/berth`` processes against the
loopback registry; the tests measure bytes and files left, never time."""
from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from tests.support import images as timages
from tests.support.cli import Berth, pycache_env
from tests.support.registry import FlakyProxy

pytestmark = [pytest.mark.functional]

#: Enough staged bytes that the kill lands mid-work (the content is incompressible).
STAGED = 2 << 20


def _sizes(directory: str) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(directory):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except FileNotFoundError:
                pass
    return total


def _entries(root: str, sub: str) -> list[str]:
    d = os.path.join(root, *sub.split("/"))
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def _left_behind(root: str) -> int:
    """Bytes in tmp/ and in layers/ (no image is recorded, so every layer is unreferenced)."""
    return _sizes(os.path.join(root, "tmp")) + _sizes(os.path.join(root, "layers"))


def _kill_when_staged(berth: Berth, *args: str) -> None:
    """Start ``bin/berth ARGS`` and SIGKILL it once STAGED bytes are in tmp/ (the work is under way)."""
    proc = subprocess.Popen(berth.argv(*args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=berth.env)
    tmp = os.path.join(berth.root, "tmp")
    try:
        while proc.poll() is None and _sizes(tmp) < STAGED:
            time.sleep(0.001)
    finally:
        proc.kill()
        _out, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, f"berth {' '.join(args)} ended by itself first: {err.decode()}"


def _scratch(base, *insecure: str) -> Berth:
    root, etc, cache = (str(base / n) for n in ("root", "etc", "pycache"))
    for d in (root, etc, cache):
        os.makedirs(d)
    config = os.path.join(etc, "daemon.json")
    with open(config, "w", encoding="utf-8") as fh:
        json.dump({"data-root": root, "insecure-registries": list(insecure)}, fh)
    return Berth(root, config, pycache_env(cache))


@pytest.fixture
def berth(tmp_path, registry) -> Berth:
    return _scratch(tmp_path, registry.host)


@pytest.fixture(scope="module")
def big_image(registry, busybox_rootfs, tmp_path_factory) -> timages.Pushed:
    """busybox + a 24 MB incompressible layer, so that a pull is under way long enough to be killed."""
    lay = tmp_path_factory.mktemp("heal-big") / "layout"
    img = timages.make_oci_layout(lay, "1", [busybox_rootfs, timages.random_layer_files(6, 4 << 20)], cmd=["sh"])
    return timages.push(img, "1", registry.host, "heal/big:1")


@pytest.fixture(scope="module")
def big_archive(tmp_path_factory) -> str:
    """A gzip-compressed docker-archive of a 24 MB layer (load spools it into tmp/ first)."""
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in timages.random_layer_files(6, 4 << 20).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    d = tmp_path_factory.mktemp("heal-archive")
    plain = timages.docker_archive(d / "big.tar", [buf.getvalue()], "heal/loaded:1")
    with open(plain, "rb") as src, gzip.open(str(d / "big.tar.gz"), "wb", compresslevel=1) as dst:
        shutil.copyfileobj(src, dst)
    return str(d / "big.tar.gz")


def _bytes(human: str) -> float:
    """``25.17MB`` (render.human_size, base 1000) -> bytes."""
    units = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}
    unit = human.lstrip("0123456789.")
    return float(human[: len(human) - len(unit)]) * units[unit]


def test_killed_pull_is_counted_by_df_and_prune_reports_the_bytes_it_frees(berth, big_image) -> None:
    _kill_when_staged(berth, "pull", big_image)
    left = _left_behind(berth.root)
    assert left >= STAGED
    # Before: df counted only the layers of images (none), and prune said it freed 0B.
    usage = json.loads(berth("system", "df", "-v", "--format", "json").out)
    assert usage["LayersSize"] >= left
    out = berth("image", "prune", "-f").out
    reclaimed = out.rsplit("Total reclaimed space: ", 1)[1].strip()
    assert _bytes(reclaimed) >= left * 0.999  # 4 significant digits
    assert _entries(berth.root, "tmp") == [] and _entries(berth.root, "layers/sha256") == []
    assert _entries(berth.root, "blobs/sha256") == []
    assert json.loads(berth("system", "df", "-v", "--format", "json").out)["LayersSize"] == 0


def test_next_pull_reclaims_the_staging_of_a_killed_pull(berth, big_image) -> None:
    _kill_when_staged(berth, "pull", big_image)
    assert _sizes(os.path.join(berth.root, "tmp")) >= STAGED
    berth("pull", big_image)
    assert _entries(berth.root, "tmp") == []
    assert len(_entries(berth.root, "layers/sha256")) == 2


def test_a_killed_pull_resumes_its_download_with_range(tmp_path, registry, big_image) -> None:
    with FlakyProxy(registry.host) as proxy:
        berth = _scratch(tmp_path, registry.host, proxy.host)
        _kill_when_staged(berth, "pull", big_image)
        partials = {n: os.path.getsize(os.path.join(berth.root, "tmp", n))
                    for n in _entries(berth.root, "tmp") if n.startswith("partial-")}
        partials = {n: size for n, size in partials.items() if size}
        assert partials  # what the killed pull had downloaded
        berth("pull", big_image.replace(registry.host, proxy.host))
        ranges = {r.path.rsplit("/", 1)[1]: r.headers.get("range") for r in proxy.requests
                  if r.method == "GET" and "/blobs/" in r.path}
        for name, size in partials.items():
            digest = name[len("partial-"):].replace("-", ":", 1)
            assert ranges[digest] == f"bytes={size}-"  # only the rest was asked for
        assert _entries(berth.root, "tmp") == []
        assert berth("system", "check").out.strip() == "No problems found"


def test_next_load_reclaims_the_spool_of_a_killed_load(berth, big_archive, busybox_rootfs, tmp_path) -> None:
    _kill_when_staged(berth, "load", "-i", big_archive)
    assert _sizes(os.path.join(berth.root, "tmp")) >= STAGED
    berth("load", "-i", big_archive)
    assert _entries(berth.root, "tmp") == []
    assert "heal/loaded " in berth("images").out


def _blob(root: str, digest: str) -> str:
    return os.path.join(root, "blobs", "sha256", digest.split(":", 1)[1])


def _image_id(berth: Berth, ref: str) -> str:
    return berth("image", "inspect", "--format", "{{.Id}}", ref).out.strip()


def _truncate(path: str, size: int) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(size)


def _edit(path: str) -> None:
    with open(path, "r+b") as fh:
        first = fh.read(1)
        fh.seek(0)
        fh.write(bytes([first[0] ^ 0x20]))


@pytest.mark.parametrize("damage", ["truncated", "edited"])
def test_a_damaged_config_is_listed_as_damaged_and_inspect_names_it(berth, pushed_busybox, big_image,
                                                                    damage) -> None:
    berth("pull", pushed_busybox)
    berth("pull", big_image)
    image_id = _image_id(berth, pushed_busybox)
    config = _blob(berth.root, image_id)
    if damage == "truncated":
        _truncate(config, 40)
    else:  # still JSON: only the digest tells
        with open(config, "rb") as fh:
            doc = json.load(fh)
        doc["config"]["Cmd"] = ["sh", "-c", "evil"]
        with open(config, "wb") as fh:
            fh.write(json.dumps(doc).encode())
    listed = berth("images", "--no-trunc")
    assert image_id in listed.out and "(damaged)" in listed.out
    assert "heal/big" in listed.out  # the other image is unaffected
    assert f"image config {image_id} is damaged" in listed.err
    failed = berth("image", "inspect", pushed_busybox, rc=None)
    assert failed.returncode != 0 and f"image config {image_id} is damaged" in failed.err
    assert "Traceback" not in failed.err
    for verb in ("run", "create"):  # the start path checks the config's digest too: no "evil" command runs
        failed = berth(verb, "--rm" if verb == "run" else "--init", pushed_busybox, rc=None)
        assert failed.returncode != 0 and f"image config {image_id} is damaged" in failed.err, failed.err
    assert berth("ps", "-aq").out.strip() == ""
    # A re-pull repairs it, and says it downloaded.
    again = berth("pull", pushed_busybox)
    assert "Image is up to date" not in again.out and "Downloaded newer image" in again.out
    assert _image_id(berth, pushed_busybox) == image_id
    assert "(damaged)" not in berth("images").out


def test_system_check_names_damage_repair_removes_it_and_a_pull_restores_it(berth, pushed_busybox) -> None:
    berth("pull", pushed_busybox)
    assert berth("system", "check").out.strip() == "No problems found"
    info = json.loads(berth("image", "inspect", pushed_busybox).out)[0]
    diff_id = info["RootFS"]["Layers"][0]
    manifest = json.loads(open(_blob(berth.root, info["Descriptor"]["digest"]), "rb").read())
    layer_blob = manifest["layers"][0]["digest"]
    _edit(_blob(berth.root, layer_blob))
    busybox = os.path.join(berth.root, "layers", "sha256", diff_id.split(":", 1)[1], "diff", "bin", "busybox")
    _truncate(busybox, 1000)

    found = berth("system", "check", rc=1).out
    assert f"blob {layer_blob}: its content has the digest sha256:" in found
    assert f"layer {diff_id}: its files hold" in found
    assert f"image {info['Id']}: its layer blob {layer_blob} is damaged; its layer {diff_id} is damaged" in found

    repaired = berth("system", "check", "--repair").out
    assert "(removed)" in repaired
    assert not os.path.exists(_blob(berth.root, layer_blob))
    assert not os.path.exists(os.path.dirname(os.path.dirname(busybox)))
    left = berth("system", "check", rc=1).out  # the image record is kept, with its tag: it names what to pull
    assert f"image {info['Id']}: its layer blob {layer_blob} is missing; its layer {diff_id} is missing" in left

    again = berth("pull", pushed_busybox)
    assert "Downloaded newer image" in again.out
    assert berth("system", "check").out.strip() == "No problems found"
    assert os.path.getsize(busybox) > 1000


def test_a_wrong_partial_download_is_dropped_and_the_blob_fetched_whole(berth, big_image) -> None:
    """A partial download whose bytes are not the blob's (a disk error, an edit) costs one more download,
    never a wrong layer nor a failed pull."""
    _kill_when_staged(berth, "pull", big_image)
    partials = [n for n in _entries(berth.root, "tmp") if n.startswith("partial-")]
    for name in partials:
        path = os.path.join(berth.root, "tmp", name)
        with open(path, "wb") as fh:
            fh.write(os.urandom(100_000))
    berth("pull", big_image)
    assert _entries(berth.root, "tmp") == []
    assert berth("system", "check").out.strip() == "No problems found"


# ---------------------------------------------------------------- zstd with the stock bin/berth
STOCK_PYTHON = "/usr/bin/python3"  # bin/berth's shebang: Debian's Python, without the zstandard module


class StockBerth(Berth):
    """``bin/berth`` run by its shebang, as a user runs it (not the test venv's Python)."""

    def argv(self, *args: str) -> list[str]:
        from tests.support.cli import BERTH

        return [BERTH, "--root", self.root, "--config", self.config, *args]


@pytest.fixture(scope="module")
def pushed_zstd(registry, busybox_layout, tmp_path_factory) -> timages.Pushed:
    copy = tmp_path_factory.mktemp("heal-zstd") / "layout"
    shutil.copytree(busybox_layout.path, copy)
    img = timages.zstd_variant(timages.OciLayout(str(copy), busybox_layout.tag), "zstd")
    return timages.push(img, "zstd", registry.host, "heal/zstd:1")


@pytest.mark.skipif(not os.path.exists(STOCK_PYTHON), reason=f"bin/berth runs {STOCK_PYTHON}")
def test_zstd_image_pull_run_and_save_with_the_stock_berth(tmp_path, registry, pushed_zstd) -> None:
    import hashlib
    import tarfile

    plain = _scratch(tmp_path, registry.host)
    b = StockBerth(plain.root, plain.config, plain.env)
    b("pull", pushed_zstd)
    info = json.loads(b("image", "inspect", pushed_zstd).out)[0]
    manifest = json.loads(open(_blob(b.root, info["Descriptor"]["digest"]), "rb").read())
    assert {x["mediaType"] for x in manifest["layers"]} == {timages.OCI_LAYER_ZSTD}
    ran = b("run", "--rm", "--network", "none", pushed_zstd, "cat", "/etc/passwd")
    assert ran.out.startswith("root:x:0:0:")
    saved = str(tmp_path / "saved.tar")
    b("save", "-o", saved, pushed_zstd)  # docker-archive: the layers decompressed, checked against diff IDs
    with tarfile.open(saved) as tf:
        layers = json.load(tf.extractfile("manifest.json"))[0]["Layers"]
        got = ["sha256:" + hashlib.sha256(tf.extractfile(name).read()).hexdigest() for name in layers]
    assert got == info["RootFS"]["Layers"]
