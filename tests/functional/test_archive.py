# SPDX-License-Identifier: GPL-3.0-or-later
"""docker load / save / import against a real store, checked with umoci and skopeo (tools we did not write)."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import lzma
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.core import events, oci
from ansible_collections.berth.engine.plugins.module_utils.engine.core.layout import Layout
from ansible_collections.berth.engine.plugins.module_utils.engine.core.timefmt import format_rfc3339
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import (
    ArchiveError,
    DigestMismatch,
    InvalidOption,
    StoreError,
)
from ansible_collections.berth.engine.plugins.module_utils.engine.store import archive
from ansible_collections.berth.engine.plugins.module_utils.engine.store.images import ImageStore
from ansible_collections.berth.engine.plugins.module_utils.engine.core.reference import host_platform
from tests.support import require_tools, run
from tests.support.images import OciLayout

pytestmark = [pytest.mark.functional]

BUSYBOX = "docker.io/library/busybox:latest"
BASE_MTIME = 1_600_000_000
NEWEST_MTIME = 1_700_000_000
CHANGES = [
    'CMD ["sh", "-c", "echo hi"]',
    "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin GREETING=hello",
    "EXPOSE 8080 53/udp",
    'LABEL org.example.name="berth test"',
    "WORKDIR /srv",
    "USER nobody",
    "STOPSIGNAL SIGQUIT",
]


# --------------------------------------------------------------------------- helpers


def new_store(path: t.Any) -> ImageStore:
    store = ImageStore(Layout(str(path)), lock_timeout=30)
    store.ensure()
    return store


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def file_digest(path: t.Any) -> str:
    with open(path, "rb") as fh:
        return sha256(fh.read())


def store_is_empty(store: ImageStore) -> bool:
    """No image, no layer, no staging leftovers (blobs of a half-loaded image may stay for gc)."""
    return not store.ids() and not store.layers.all() and not os.listdir(store.layout.tmp_dir)


def tar_bytes(files: t.Mapping[str, bytes | None], mtime: int = BASE_MTIME) -> bytes:
    """An uncompressed tar: name -> content (None: a directory)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.mtime = mtime
            if data is None:
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(ti)
            else:
                ti.size, ti.mode = len(data), 0o644
                tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def write_tar(path: t.Any, members: t.Sequence[tuple[tarfile.TarInfo, bytes | None]]) -> str:
    with tarfile.open(str(path), "w") as tf:
        for ti, data in members:
            if data is not None:
                ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return str(path)


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.linkname = linkname
    ti.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return ti


def config_for(layers: t.Sequence[bytes]) -> bytes:
    cfg = {
        "architecture": host_platform()["architecture"],
        "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256(x) for x in layers]},
    }
    return json.dumps(cfg).encode()


def docker_archive(path: t.Any, layers: t.Sequence[bytes], tags: t.Sequence[str] = (),
                   config: bytes | None = None, extra: t.Sequence[tuple[tarfile.TarInfo, bytes | None]] = (),
                   entry: t.Mapping[str, t.Any] | None = None) -> tuple[str, str]:
    """A hand-made docker-archive; returns (path, image ID)."""
    config = config if config is not None else config_for(layers)
    cfg_name = hashlib.sha256(config).hexdigest() + ".json"
    members: list[tuple[tarfile.TarInfo, bytes | None]] = [(member(cfg_name), config)]
    names = []
    for i, data in enumerate(layers):
        members.append((member(f"l{i}/layer.tar"), data))
        names.append(f"l{i}/layer.tar")
    doc = [dict({"Config": cfg_name, "RepoTags": list(tags), "Layers": names}, **(entry or {}))]
    members.append((member("manifest.json"), json.dumps(doc).encode()))
    members.extend(extra)
    return write_tar(path, members), sha256(config)


def layout_config_digest(layout: OciLayout) -> str:
    return str(layout.manifest["config"]["digest"])


def tar_dir(src: t.Any, dest: t.Any) -> str:
    """A directory as a tar with ``./`` names (like ``tar -C src -cf dest .``)."""
    with tarfile.open(str(dest), "w") as tf:
        tf.add(str(src), arcname=".")
    return str(dest)


def diff_dir(store: ImageStore, image_id: str) -> str:
    return store.layers.diff_dir(store.get(image_id).layers[-1].diff_id)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def rootfs_tars(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs: str) -> dict[str, str]:
    """The busybox rootfs as plain, gzip and xz tarballs; every mtime BASE_MTIME except /etc/passwd."""
    d = tmp_path_factory.mktemp("rootfs-tars")

    def fixed(ti: tarfile.TarInfo) -> tarfile.TarInfo:
        ti.mtime = NEWEST_MTIME if ti.name == "./etc/passwd" else BASE_MTIME
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = "root"
        return ti

    plain = d / "rootfs.tar"
    with tarfile.open(str(plain), "w") as tf:
        tf.add(busybox_rootfs, arcname=".", filter=fixed)
    data = plain.read_bytes()
    (d / "rootfs.tar.gz").write_bytes(gzip.compress(data, mtime=0))
    (d / "rootfs.tar.xz").write_bytes(lzma.compress(data, preset=1))
    return {"plain": str(plain), "gzip": str(d / "rootfs.tar.gz"), "xz": str(d / "rootfs.tar.xz")}


@pytest.fixture(scope="module")
def skopeo_docker_archive(tmp_path_factory: pytest.TempPathFactory, busybox_layout: OciLayout) -> str:
    require_tools("skopeo", why="writing a docker-archive")
    path = str(tmp_path_factory.mktemp("skopeo") / "busybox-docker.tar")
    run(["skopeo", "--insecure-policy", "copy", "--quiet", f"oci:{busybox_layout.path}:latest",
         f"docker-archive:{path}:busybox:latest"])
    return path


# --------------------------------------------------------------------------- import


@pytest.mark.parametrize("kind", ["plain", "gzip", "xz"])
def test_import_rootfs_applies_changes_and_is_idempotent(tmp_path: t.Any, rootfs_tars: dict[str, str],
                                                         kind: str) -> None:
    store = new_store(tmp_path / "store")
    path = rootfs_tars[kind]
    plat = {"os": "linux", "architecture": "arm64", "variant": "v8"}
    image_id = archive.import_rootfs(store, path, CHANGES, "from a tarball", plat)

    assert store.complete(image_id)
    rec = store.get(image_id)
    (layer,) = rec.layers
    with open(rootfs_tars["plain"], "rb") as fh:
        assert layer.diff_id == sha256(fh.read())
    if kind == "gzip":  # the gzip tarball is kept as the blob, the others uncompressed
        assert (layer.blob, layer.media_type) == (file_digest(path), oci.DOCKER_LAYER)
    else:
        assert (layer.blob, layer.media_type) == (layer.diff_id, archive.DOCKER_LAYER_TAR)
    assert store.blobs.has(layer.blob)
    diff = store.layers.diff_dir(layer.diff_id)
    assert os.path.isfile(os.path.join(diff, "bin", "busybox"))
    assert os.readlink(os.path.join(diff, "bin", "sh")) == "busybox"

    cfg = store.config(image_id)
    assert (cfg["architecture"], cfg["os"], cfg["variant"]) == ("arm64", "linux", "v8")
    assert cfg["created"] == format_rfc3339(NEWEST_MTIME)  # newest member, not the time of the import
    assert cfg["rootfs"] == {"type": "layers", "diff_ids": [layer.diff_id]}
    assert cfg["history"] == [{"created": cfg["created"], "created_by": f"berth import {path}",
                               "comment": "from a tarball"}]
    assert cfg["config"] == {
        "Cmd": ["sh", "-c", "echo hi"],
        "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hello"],
        "ExposedPorts": {"8080/tcp": {}, "53/udp": {}},
        "Labels": {"org.example.name": "berth test"},
        "WorkingDir": "/srv",
        "User": "nobody",
        "StopSignal": "SIGQUIT",
    }
    manifest = json.loads(store.blobs.read(rec.manifest_digest))
    assert rec.manifest_media_type == oci.DOCKER_MANIFEST
    assert manifest["config"]["digest"] == image_id
    assert [x["digest"] for x in manifest["layers"]] == [layer.blob]

    # The same tarball with the same changes: the same image, nothing written.
    assert archive.import_rootfs(store, path, CHANGES, "from a tarball", plat) == image_id
    assert store.get(image_id).loaded_at == rec.loaded_at
    assert store.ids() == [image_id]
    # Other changes: another image over the same layer.
    other = archive.import_rootfs(store, path, ["CMD sh"], "from a tarball", plat)
    assert other != image_id
    assert [x.diff_id for x in store.get(other).layers] == [layer.diff_id]
    assert not os.listdir(store.layout.tmp_dir)


def test_import_from_a_pipe(tmp_path: t.Any, rootfs_tars: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    store = new_store(tmp_path / "store")

    def import_via_pipe(src: str) -> str:
        r, w = os.pipe()

        def feed() -> None:
            with open(src, "rb") as fh, os.fdopen(w, "wb") as out:
                shutil.copyfileobj(fh, out, 65536)

        feeder = threading.Thread(target=feed)
        feeder.start()
        with os.fdopen(r, "rb") as reader:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(t.cast(t.Any, reader)))
            try:
                return archive.import_rootfs(store, "-", ["CMD sh"], "", host_platform())
            finally:
                feeder.join()

    from_gzip = import_via_pipe(rootfs_tars["gzip"])
    cfg = store.config(from_gzip)
    assert cfg["created"] == format_rfc3339(NEWEST_MTIME)  # headers watched while extracting
    assert cfg["history"][0]["created_by"] == "berth import -"
    assert "comment" not in cfg["history"][0]
    assert os.path.isfile(os.path.join(diff_dir(store, from_gzip), "bin", "busybox"))
    # The same bytes through a pipe again, and the plain tar (same content): one image.
    assert import_via_pipe(rootfs_tars["gzip"]) == from_gzip
    assert import_via_pipe(rootfs_tars["plain"]) == from_gzip


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_import_created_is_the_newest_member_mtime(tmp_path: t.Any, fmt: int) -> None:
    """Long names, pax records and fractional pax mtimes are followed by the header scanner."""
    store = new_store(tmp_path / "store")
    path = tmp_path / "small.tar"
    long_name = "d/" + "x" * 120 if fmt != tarfile.USTAR_FORMAT else "d/" + "x" * 60
    with tarfile.open(str(path), "w", format=fmt) as tf:
        for name, mtime, data in (("d", 2000, None), (long_name, 3000.5, b"z" * 700), ("d/late", 1000, b"q")):
            ti = tarfile.TarInfo(name)
            ti.mtime = mtime
            if data is None:
                ti.type = tarfile.DIRTYPE
                tf.addfile(ti)
            else:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    image_id = archive.import_rootfs(store, str(path), [], "", host_platform())
    created = store.config(image_id)["created"]
    newest = 3000.5 if fmt == tarfile.PAX_FORMAT else 3000
    assert created == format_rfc3339(newest)
    with open(os.path.join(diff_dir(store, image_id), long_name), "rb") as fh:
        assert fh.read() == b"z" * 700


@pytest.mark.parametrize("content", [b"not a tar at all, just text\n" * 40, b"\x1f\x8bnot really gzip", b""])
def test_import_refuses_what_is_not_a_tarball(tmp_path: t.Any, content: bytes) -> None:
    store = new_store(tmp_path / "store")
    path = tmp_path / "junk.tar"
    path.write_bytes(content)
    with pytest.raises(ArchiveError):
        archive.import_rootfs(store, str(path), [], "", host_platform())
    with pytest.raises(ArchiveError):
        archive.import_rootfs(store, str(tmp_path / "missing.tar"), [], "", host_platform())
    assert store_is_empty(store)
    assert not store.blobs.all()


def test_import_refuses_bad_changes_before_reading(tmp_path: t.Any) -> None:
    store = new_store(tmp_path / "store")
    with pytest.raises(InvalidOption) as info:
        archive.import_rootfs(store, str(tmp_path / "does-not-matter.tar"), ["RUN rm -rf /"], "", host_platform())
    assert (info.value.field, info.value.value) == ("changes", "RUN rm -rf /")


# --------------------------------------------------------------------------- load


def test_load_oci_layout_directory_and_tar(tmp_path: t.Any, busybox_layout: OciLayout) -> None:
    store = new_store(tmp_path / "store")
    seen: list[events.Event] = []
    (res,) = archive.load(store, busybox_layout.path, on_event=seen.append)
    # umoci's ref.name is a bare tag and there is no image name: loaded untagged.
    assert res == archive.LoadResult(layout_config_digest(busybox_layout), (), True)
    rec = store.get(res.image_id)
    assert rec.manifest_digest == busybox_layout.manifest_digest
    assert [x.blob for x in rec.layers] == [x["digest"] for x in busybox_layout.manifest["layers"]]
    assert os.path.isfile(os.path.join(diff_dir(store, res.image_id), "bin", "busybox"))
    assert store.repositories().tags == {}
    kinds = [e.kind for e in seen]
    assert kinds[-2:] == ["layer.done", "image.done"] and "Loaded image ID: sha256:" in seen[-1].message
    # Again: nothing changes, nothing is extracted.
    seen.clear()
    assert archive.load(store, busybox_layout.path, on_event=seen.append) == [
        archive.LoadResult(res.image_id, (), False)]
    assert [e.kind for e in seen] == ["layer.exists", "image.done"]

    # The same layout as a tar (with ./ names), into a fresh store.
    tarred = tar_dir(busybox_layout.path, tmp_path / "layout.tar")
    other = new_store(tmp_path / "other")
    assert archive.load(other, tarred) == [archive.LoadResult(res.image_id, (), True)]
    assert other.get(res.image_id) == dataclass_replace_loaded(rec, other.get(res.image_id).loaded_at)
    assert not os.listdir(other.layout.tmp_dir)


def dataclass_replace_loaded(rec: t.Any, loaded_at: float) -> t.Any:
    import dataclasses

    return dataclasses.replace(rec, loaded_at=loaded_at)


def test_load_oci_layout_tags_and_nested_index(tmp_path: t.Any, busybox_layout: OciLayout) -> None:
    lay = tmp_path / "layout"
    shutil.copytree(busybox_layout.path, lay)
    desc = busybox_layout.descriptor()
    # A nested index: the host's platform -> the real manifest; another platform -> a missing blob.
    plat = host_platform()
    missing = "sha256:" + "0" * 64
    nested = {"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": [
        {"mediaType": oci.OCI_MANIFEST, "digest": missing, "size": 10,
         "platform": {"os": "linux", "architecture": "s390x"}},
        {"mediaType": oci.OCI_MANIFEST, "digest": desc["digest"], "size": desc["size"], "platform": dict(plat)},
        {"mediaType": oci.OCI_MANIFEST, "digest": missing, "size": 10,
         "platform": {"os": "unknown", "architecture": "unknown"}},
    ]}
    raw = json.dumps(nested).encode()
    (lay / "blobs" / "sha256" / hashlib.sha256(raw).hexdigest()).write_bytes(raw)
    index = {"schemaVersion": 2, "manifests": [
        {"mediaType": oci.OCI_INDEX, "digest": sha256(raw), "size": len(raw),
         "annotations": {"io.containerd.image.name": BUSYBOX, "org.opencontainers.image.ref.name": "latest"}},
        dict(desc, annotations={"org.opencontainers.image.ref.name": "localhost:5000/team/app:v1"}),
    ]}
    (lay / "index.json").write_text(json.dumps(index))
    store = new_store(tmp_path / "store")
    (res,) = archive.load(store, str(lay))
    assert res == archive.LoadResult(layout_config_digest(busybox_layout),
                                     (BUSYBOX, "localhost:5000/team/app:v1"), True)
    assert store.repositories().tags == {BUSYBOX: res.image_id, "localhost:5000/team/app:v1": res.image_id}
    # Moving nothing is no change; moving a tag is one.
    assert archive.load(store, str(lay)) == [archive.LoadResult(res.image_id, res.tags, False)]
    store.remove_refs([BUSYBOX])
    assert archive.load(store, str(lay))[0].changed


def test_load_oci_layout_skips_an_index_without_the_host_platform(tmp_path: t.Any, busybox_layout: OciLayout) -> None:
    lay = tmp_path / "layout"
    shutil.copytree(busybox_layout.path, lay)
    desc = busybox_layout.descriptor()
    foreign = {"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": [
        {"mediaType": oci.OCI_MANIFEST, "digest": "sha256:" + "0" * 64, "size": 10,
         "platform": {"os": "linux", "architecture": "s390x"}},
    ]}
    raw = json.dumps(foreign).encode()
    (lay / "blobs" / "sha256" / hashlib.sha256(raw).hexdigest()).write_bytes(raw)
    only_foreign = {"mediaType": oci.OCI_INDEX, "digest": sha256(raw), "size": len(raw),
                    "annotations": {"io.containerd.image.name": "docker.io/library/mainframe:1"}}
    index = {"schemaVersion": 2, "manifests": [
        only_foreign, dict(desc, annotations={"io.containerd.image.name": BUSYBOX}),
    ]}
    (lay / "index.json").write_text(json.dumps(index))
    store = new_store(tmp_path / "store")
    seen: list[events.Event] = []
    (res,) = archive.load(store, str(lay), on_event=seen.append)
    assert res.tags == (BUSYBOX,) and res.changed
    (warning,) = [e.message for e in seen if e.kind == "warning"]
    assert warning.startswith("skipped mainframe:1: ") and "s390x" in warning
    # Nothing left for this host: an error that says why.
    (lay / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [only_foreign]}))
    with pytest.raises(ArchiveError, match="no image for this host's platform: mainframe:1: .*s390x"):
        archive.load(new_store(tmp_path / "other"), str(lay))


def test_load_oci_layout_verifies_blobs(tmp_path: t.Any, busybox_layout: OciLayout) -> None:
    store = new_store(tmp_path / "store")
    # A config that is not what the manifest says (same size, valid JSON): a digest mismatch.
    lay = tmp_path / "bad-config"
    shutil.copytree(busybox_layout.path, lay)
    cfg_blob = lay / "blobs" / "sha256" / layout_config_digest(busybox_layout).split(":")[1]
    cfg_blob.write_bytes(cfg_blob.read_bytes().replace(b'"os":"linux"', b'"os":"LINUX"'))
    with pytest.raises(DigestMismatch):
        archive.load(store, str(lay))
    assert store_is_empty(store)
    # A damaged gzip layer: refused (its CRC or the digest catches it), nothing stays.
    lay = tmp_path / "bad-layer"
    shutil.copytree(busybox_layout.path, lay)
    blob = lay / "blobs" / "sha256" / busybox_layout.manifest["layers"][0]["digest"].split(":")[1]
    data = bytearray(blob.read_bytes())
    data[-100] ^= 0xFF
    blob.write_bytes(bytes(data))
    with pytest.raises(StoreError):
        archive.load(store, str(lay))
    assert store_is_empty(store)


@pytest.mark.parametrize("compression", ["none", "gzip", "xz"])
def test_load_skopeo_docker_archive(tmp_path: t.Any, busybox_layout: OciLayout, skopeo_docker_archive: str,
                                    compression: str) -> None:
    path = skopeo_docker_archive
    if compression != "none":  # `docker save | gzip` is accepted too
        data = open(path, "rb").read()
        path = str(tmp_path / f"busybox.tar.{compression}")
        with open(path, "wb") as fh:
            fh.write(gzip.compress(data, 1) if compression == "gzip" else lzma.compress(data, preset=1))
    store = new_store(tmp_path / "store")
    (res,) = archive.load(store, path)
    assert res == archive.LoadResult(layout_config_digest(busybox_layout), (BUSYBOX,), True)
    rec = store.get(res.image_id)
    # No registry manifest in a docker-archive: a schema 2 one over the uncompressed layer blobs.
    assert rec.manifest_media_type == oci.DOCKER_MANIFEST
    manifest = json.loads(store.blobs.read(rec.manifest_digest))
    assert [(x["mediaType"], x["digest"]) for x in manifest["layers"]] == \
        [(archive.DOCKER_LAYER_TAR, x.diff_id) for x in rec.layers]
    assert [x.blob for x in rec.layers] == [x.diff_id for x in rec.layers]
    assert os.path.isfile(os.path.join(diff_dir(store, res.image_id), "bin", "busybox"))
    assert not os.listdir(store.layout.tmp_dir)  # the decompressed copy is gone


def test_load_docker_archive_reuses_stored_layers(tmp_path: t.Any, busybox_layout: OciLayout,
                                                  skopeo_docker_archive: str) -> None:
    """An image over a layer the store has (from an OCI load) is recorded without extracting it again."""
    store = new_store(tmp_path / "store")
    (first,) = archive.load(store, busybox_layout.path)
    layer_dir = diff_dir(store, first.image_id)
    inode = os.stat(layer_dir).st_ino
    # Same layer, another config: a second image.
    with open(skopeo_docker_archive, "rb") as fh:
        src = tarfile.open(fileobj=fh)
        names = json.loads(src.extractfile("manifest.json").read())[0]  # type: ignore[union-attr]
        layer = src.extractfile(names["Layers"][0]).read()  # type: ignore[union-attr]
        cfg = json.loads(src.extractfile(names["Config"]).read())  # type: ignore[union-attr]
    cfg["config"]["Cmd"] = ["echo", "other"]
    path, image_id = docker_archive(tmp_path / "other.tar", [layer], ["other:1"], json.dumps(cfg).encode())
    seen: list[events.Event] = []
    assert archive.load(store, path, on_event=seen.append) == [
        archive.LoadResult(image_id, ("docker.io/library/other:1",), True)]
    assert [e.kind for e in seen] == ["layer.exists", "image.done"]
    assert os.stat(layer_dir).st_ino == inode
    # The stored (gzip) blob of the layer serves the new image too.
    assert [x.blob for x in store.get(image_id).layers] == [x.blob for x in store.get(first.image_id).layers]


def test_load_docker25_style_archive(tmp_path: t.Any, busybox_layout: OciLayout) -> None:
    """Docker 25 writes an OCI layout plus manifest.json naming blobs/sha256/<hex>; layers may be gzip."""
    lay = tmp_path / "layout"
    shutil.copytree(busybox_layout.path, lay)
    man = busybox_layout.manifest
    entry = {"Config": "blobs/sha256/" + man["config"]["digest"].split(":")[1], "RepoTags": ["busybox:latest"],
             "Layers": ["blobs/sha256/" + x["digest"].split(":")[1] for x in man["layers"]]}
    (lay / "manifest.json").write_text(json.dumps([entry]))
    path = tar_dir(lay, tmp_path / "docker25.tar")
    store = new_store(tmp_path / "store")
    assert archive.load(store, path) == [archive.LoadResult(layout_config_digest(busybox_layout), (BUSYBOX,), True)]
    (layer,) = store.get(layout_config_digest(busybox_layout)).layers
    assert (layer.blob, layer.media_type) == (man["layers"][0]["digest"], oci.DOCKER_LAYER)  # kept as gzip


def test_load_docker_archive_layer_compressions(tmp_path: t.Any) -> None:
    layers = [tar_bytes({"a": b"plain\n"}), tar_bytes({"b": b"gzip\n"}), tar_bytes({"c": b"xz\n"})]
    gz, xz = gzip.compress(layers[1], mtime=0), lzma.compress(layers[2])
    config = config_for(layers)
    members = [(member("c.json"), config), (member("0.tar"), layers[0]), (member("1.tar"), gz), (member("2.tar"), xz),
               (member("manifest.json"), json.dumps([{"Config": "c.json", "RepoTags": None,
                                                      "Layers": ["0.tar", "1.tar", "2.tar"]}]).encode())]
    path = write_tar(tmp_path / "mixed.tar", members)
    store = new_store(tmp_path / "store")
    (res,) = archive.load(store, path)
    assert res == archive.LoadResult(sha256(config), (), True)
    refs = store.get(res.image_id).layers
    assert [x.diff_id for x in refs] == [sha256(x) for x in layers]
    # plain and xz are stored uncompressed (blob == diff ID); gzip is kept as it came
    assert [x.blob for x in refs] == [sha256(layers[0]), sha256(gz), sha256(layers[2])]
    assert [x.media_type for x in refs] == [archive.DOCKER_LAYER_TAR, oci.DOCKER_LAYER, archive.DOCKER_LAYER_TAR]
    for x, name in zip(refs, "abc"):
        assert os.path.isfile(os.path.join(store.layers.diff_dir(x.diff_id), name))
        with store.blobs.open(t.cast(str, x.blob)) as fh:  # every blob is as the manifest says
            assert sha256(fh.read()) == x.blob


# --------------------------------------------------------------------------- save


@pytest.mark.parametrize("fmt", archive.SAVE_FORMATS)
def test_save_load_round_trip_is_deterministic(tmp_path: t.Any, busybox_layout: OciLayout, fmt: str) -> None:
    store = new_store(tmp_path / "store")
    (res,) = archive.load(store, busybox_layout.path)
    store.set_refs(res.image_id, [BUSYBOX, "localhost:5000/app:1"])
    items = [(res.image_id, [BUSYBOX, "localhost:5000/app:1"])]
    first, second = str(tmp_path / "one.tar"), str(tmp_path / "two.tar")
    archive.save(store, items, first, format=fmt)
    archive.save(store, items, second, format=fmt)
    assert open(first, "rb").read() == open(second, "rb").read()
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]

    other = new_store(tmp_path / "other")
    assert archive.load(other, first) == [archive.LoadResult(res.image_id, (BUSYBOX, "localhost:5000/app:1"), True)]
    assert os.path.isfile(os.path.join(diff_dir(other, res.image_id), "bin", "busybox"))
    # What the round trip stored saves to the same bytes again.
    third = str(tmp_path / "three.tar")
    archive.save(other, items, third, format=fmt)
    assert open(third, "rb").read() == open(first, "rb").read()

    with tarfile.open(first) as tf:
        names = tf.getnames()
        assert names == sorted(names)
        assert {m.mtime for m in tf.getmembers()} == {0}
        if fmt == "docker-archive":
            (entry,) = json.loads(tf.extractfile("manifest.json").read())  # type: ignore[union-attr]
            assert entry["RepoTags"] == ["busybox:latest", "localhost:5000/app:1"]
            layer = tf.extractfile(entry["Layers"][0]).read()  # type: ignore[union-attr]
            assert sha256(layer) == store.get(res.image_id).layers[0].diff_id  # uncompressed
        else:
            index = json.loads(tf.extractfile("index.json").read())  # type: ignore[union-attr]
            assert [m["annotations"] for m in index["manifests"]] == [
                {"io.containerd.image.name": BUSYBOX, "org.opencontainers.image.ref.name": "latest"},
                {"io.containerd.image.name": "localhost:5000/app:1", "org.opencontainers.image.ref.name": "1"},
            ]
            assert index["manifests"][0]["digest"] == busybox_layout.manifest_digest  # the manifest as pulled


def test_saved_archives_are_read_by_skopeo_and_umoci(tmp_path: t.Any, skopeo_docker_archive: str) -> None:
    """Saved from an image that came with a Docker manifest: the oci-archive gets an OCI one."""
    require_tools("skopeo", "umoci", why="checking saved archives")
    store = new_store(tmp_path / "store")
    (res,) = archive.load(store, skopeo_docker_archive)
    diff_ids = [x.diff_id for x in store.get(res.image_id).layers]
    docker_tar, oci_tar = str(tmp_path / "d.tar"), str(tmp_path / "o.tar")
    archive.save(store, [(res.image_id, [BUSYBOX])], docker_tar, format="docker-archive")
    archive.save(store, [(res.image_id, [BUSYBOX])], oci_tar, format="oci-archive")

    info = json.loads(run(["skopeo", "inspect", f"docker-archive:{docker_tar}"]).stdout)
    assert info["Layers"] == diff_ids
    cfg = json.loads(run(["skopeo", "inspect", "--config", f"docker-archive:{docker_tar}"]).stdout)
    assert cfg["rootfs"]["diff_ids"] == diff_ids

    copied = tmp_path / "copied"
    run(["skopeo", "--insecure-policy", "copy", "--quiet", f"oci-archive:{oci_tar}", f"oci:{copied}:latest"])
    copied_layout = OciLayout(str(copied), "latest")
    assert copied_layout.manifest["config"]["digest"] == res.image_id

    extracted = tmp_path / "extracted"
    extracted.mkdir()
    with tarfile.open(oci_tar) as tf:
        if hasattr(tarfile, "data_filter"):
            tf.extractall(str(extracted), filter="data")
        else:
            tf.extractall(str(extracted))
    bundle = tmp_path / "bundle"
    run(["umoci", "unpack", "--image", f"{extracted}:latest", str(bundle)])
    assert os.path.isfile(bundle / "rootfs" / "bin" / "busybox")


def test_save_refuses_bad_arguments(tmp_path: t.Any, rootfs_tars: dict[str, str]) -> None:
    store = new_store(tmp_path / "store")
    image_id = archive.import_rootfs(store, rootfs_tars["gzip"], [], "", host_platform())
    with pytest.raises(InvalidOption):
        archive.save(store, [(image_id, [])], str(tmp_path / "x.tar"), format="tarball")
    with pytest.raises(InvalidOption):
        archive.save(store, [(image_id, [])], str(tmp_path))
    with pytest.raises(InvalidOption):
        archive.save(store, [(image_id, [])], str(tmp_path / "no" / "such" / "dir.tar"))
    # An untagged image saves and loads untagged.
    archive.save(store, [(image_id, [])], str(tmp_path / "untagged.tar"), format="oci-archive")
    other = new_store(tmp_path / "other")
    assert archive.load(other, str(tmp_path / "untagged.tar")) == [archive.LoadResult(image_id, (), True)]


def test_save_several_images_sharing_a_layer(tmp_path: t.Any, rootfs_tars: dict[str, str]) -> None:
    store = new_store(tmp_path / "store")
    one = archive.import_rootfs(store, rootfs_tars["gzip"], ["CMD sh"], "", host_platform())
    two = archive.import_rootfs(store, rootfs_tars["gzip"], ["USER nobody"], "", host_platform())
    path = str(tmp_path / "both.tar")
    archive.save(store, [(one, ["app:1"]), (two, ["app:2"]), (one, ["docker.io/library/app:1"])], path)
    with tarfile.open(path) as tf:
        assert len([n for n in tf.getnames() if n.endswith("/layer.tar")]) == 1
        doc = json.loads(tf.extractfile("manifest.json").read())  # type: ignore[union-attr]
        assert [e["RepoTags"] for e in doc] == [["app:1"], ["app:2"]]
        assert json.loads(tf.extractfile("repositories").read()) == {  # type: ignore[union-attr]
            "app": {"1": doc[0]["Layers"][0].split("/")[0], "2": doc[1]["Layers"][0].split("/")[0]}}
    other = new_store(tmp_path / "other")
    assert archive.load(other, path) == [
        archive.LoadResult(one, ("docker.io/library/app:1",), True),
        archive.LoadResult(two, ("docker.io/library/app:2",), True),
    ]
    assert len(other.layers.all()) == 1


# --------------------------------------------------------------------------- hostile archives


LAYER = tar_bytes({"etc": None, "etc/hello": b"hi\n"})


def _hostile(tmp_path: t.Any, case: str) -> str:
    path = tmp_path / f"{case}.tar"
    if case == "dotdot-member":
        return docker_archive(path, [LAYER], extra=[(member("../evil"), b"x")])[0]
    if case == "absolute-member":
        return docker_archive(path, [LAYER], extra=[(member("/tmp/berth-evil"), b"x")])[0]
    if case == "config-escapes":
        return docker_archive(path, [LAYER], entry={"Config": "../../etc/passwd"})[0]
    if case == "layer-escapes":
        return docker_archive(path, [LAYER], entry={"Layers": ["../../../etc/passwd"]})[0]
    if case == "layer-absolute":
        return docker_archive(path, [LAYER], entry={"Layers": ["/etc/passwd"]})[0]
    if case == "symlink-escapes":
        link = (member("ln/layer.tar", tarfile.SYMTYPE, "../../../../etc/passwd"), None)
        return docker_archive(path, [LAYER], extra=[link], entry={"Layers": ["ln/layer.tar"]})[0]
    if case == "hardlink-escapes":
        link = (member("ln/layer.tar", tarfile.LNKTYPE, "../etc/passwd"), None)
        return docker_archive(path, [LAYER], extra=[link], entry={"Layers": ["ln/layer.tar"]})[0]
    if case == "layer-missing":
        return docker_archive(path, [LAYER], entry={"Layers": ["nope/layer.tar"]})[0]
    if case == "oci-bad-ref-name":
        entry = {"mediaType": oci.OCI_MANIFEST, "digest": "sha256:" + "1" * 64, "size": 1,
                 "annotations": {"io.containerd.image.name": "UP/Case"}}
        index = {"schemaVersion": 2, "manifests": [entry]}
        return write_tar(path, [(member("index.json"), json.dumps(index).encode())])
    raise AssertionError(case)


HOSTILE = ["dotdot-member", "absolute-member", "config-escapes", "layer-escapes", "layer-absolute",
           "symlink-escapes", "hardlink-escapes", "layer-missing", "oci-bad-ref-name"]


@pytest.mark.parametrize("case", HOSTILE)
def test_load_refuses_hostile_archives(tmp_path: t.Any, case: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    path = _hostile(work, case)
    store = new_store(tmp_path / "store")
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(ArchiveError):
        archive.load(store, path)
    assert store_is_empty(store)
    assert sorted(os.listdir(tmp_path)) == before
    assert not os.path.exists("/tmp/berth-evil")


def test_load_refuses_layer_not_matching_its_diff_id(tmp_path: t.Any) -> None:
    other = tar_bytes({"etc": None, "etc/hello": b"something else\n"})
    path, _image_id = docker_archive(tmp_path / "bad.tar", [other], ["bad:1"], config=config_for([LAYER]))
    store = new_store(tmp_path / "store")
    with pytest.raises(DigestMismatch):
        archive.load(store, path)
    assert store_is_empty(store)
    assert store.repositories().tags == {}
    # A config that is not what its name says.
    good, image_id = docker_archive(tmp_path / "good.tar", [LAYER])
    renamed = tmp_path / "renamed.tar"
    with tarfile.open(good) as src, tarfile.open(str(renamed), "w") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read() if m.isreg() else None  # type: ignore[union-attr]
            if m.name == "manifest.json":
                doc = json.loads(data or b"")
                doc[0]["Config"] = "f" * 64 + ".json"
                data = json.dumps(doc).encode()
            if m.name.endswith(".json") and m.name != "manifest.json":
                m = member("f" * 64 + ".json")
            write_member(dst, m, data)
    with pytest.raises(DigestMismatch):
        archive.load(store, str(renamed))
    assert store_is_empty(store)


def write_member(tf: tarfile.TarFile, ti: tarfile.TarInfo, data: bytes | None) -> None:
    if data is not None:
        ti.size = len(data)
    tf.addfile(ti, io.BytesIO(data) if data is not None else None)


def test_load_refuses_non_archives(tmp_path: t.Any) -> None:
    store = new_store(tmp_path / "store")
    junk = tmp_path / "junk"
    junk.write_bytes(b"hello\n" * 100)
    empty_dir = tmp_path / "emptydir"
    empty_dir.mkdir()
    plain = tmp_path / "plain.tar"
    plain.write_bytes(tar_bytes({"hello": b"x"}))
    for path in (junk, empty_dir, plain, tmp_path / "missing.tar"):
        with pytest.raises(ArchiveError):
            archive.load(store, str(path))
    assert store_is_empty(store)


def test_load_accepts_a_pipe_as_the_archive(tmp_path: t.Any, skopeo_docker_archive: str) -> None:
    """A non-seekable source (``berth load < file`` through /dev/stdin) is spooled, then read."""
    store = new_store(tmp_path / "store")
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    feeder = subprocess.Popen(["sh", "-c", 'cat "$1" > "$2"', "sh", skopeo_docker_archive, fifo])
    try:
        (res,) = archive.load(store, fifo)
    finally:
        feeder.wait(30)
    assert res.tags == (BUSYBOX,)
    assert not os.listdir(store.layout.tmp_dir)
