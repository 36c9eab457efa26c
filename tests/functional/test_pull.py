# SPDX-License-Identifier: GPL-3.0-or-later
"""Pull into a real store from a real registry; Docker's tag/rmi/prune semantics; crash and concurrency."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.api import Engine
from ansible_collections.berth.engine.plugins.module_utils.engine.core import events
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import (
    Conflict,
    DigestMismatch,
    ImageNotFound,
    InvalidOption,
    ManifestUnknown,
)
from tests.support import images as timages
from tests.support.registry import FlakyProxy

pytestmark = [pytest.mark.functional, pytest.mark.registry]

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def open_engine(berth_root: str, config: str) -> Engine:
    return Engine.open(data_root=berth_root, config_path=config, lock_timeout=60)


def layer_dirs(root: str) -> list[str]:
    d = os.path.join(root, "layers", "sha256")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def blob_names(root: str) -> list[str]:
    d = os.path.join(root, "blobs", "sha256")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def test_pull_stores_verified_image_and_is_idempotent(registry, pushed_busybox, berth_root, berth_config) -> None:
    with FlakyProxy(registry.host) as proxy:
        ref = pushed_busybox.replace(registry.host, proxy.host)
        eng = open_engine(berth_root, berth_config())
        seen: list[events.Event] = []
        res = eng.images.pull(ref, on_event=seen.append)
        assert res.changed
        assert res.reference == ref
        assert res.repo_digest == f"{proxy.host}/library/busybox@{pushed_busybox.digest}"
        info = eng.images.inspect(ref)
        assert info["Id"] == res.image_id
        assert info["RepoTags"] == [ref]
        assert info["RepoDigests"] == [res.repo_digest]
        assert info["Config"]["Cmd"] == ["sh"]
        assert info["Os"] == "linux"
        assert info["Size"] > 500_000
        lower = info["GraphDriver"]["Data"]["LowerDir"].split(":")
        assert any(os.path.isfile(os.path.join(d, "bin", "busybox")) for d in lower)
        assert any(e.kind == "layer.done" for e in seen)
        assert ("latest", "Pulling from library/busybox") in [(e.ident, e.message) for e in seen if e.kind == "resolve"]
        assert seen[-1].kind == "image.done"

        # The second pull: one manifest request, no blob download, nothing changed.
        before = len(proxy.requests)
        again = eng.images.pull(ref)
        assert not again.changed
        assert again.image_id == res.image_id
        new = [r for r in proxy.requests[before:] if r.path != "/v2/"]
        assert [(r.method, "/manifests/" in r.path) for r in new] == [("GET", True)]


def test_pull_by_digest_and_v2s2(registry, busybox_layout, berth_root, berth_config) -> None:
    pushed = timages.push(busybox_layout, "latest", registry.host, "v2s2/busybox:1", fmt="v2s2")
    eng = open_engine(berth_root, berth_config())
    res = eng.images.pull(pushed.by_digest)
    assert res.changed
    info = eng.images.inspect(pushed.by_digest)
    assert info["RepoTags"] == []
    assert info["RepoDigests"] == [pushed.by_digest]
    assert info["Descriptor"]["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    # Pulling the same digest again needs no registry at all.
    assert not eng.images.pull(pushed.by_digest).changed


def test_pull_selects_platform_from_index(registry, berth_root, berth_config, tmp_path) -> None:
    pushed = timages.push_index(registry.host, "multi/app:1", fmt="oci", workdir=tmp_path)
    eng = open_engine(berth_root, berth_config())
    arm = eng.images.pull(str(pushed), platform="linux/arm64")
    info = eng.images.inspect(arm.image_id)
    assert info["Architecture"] == "arm64"
    lower = info["GraphDriver"]["Data"]["LowerDir"].split(":")
    assert any(os.path.exists(os.path.join(d, "arm64-only")) for d in lower)
    amd = eng.images.pull(str(pushed), platform="linux/amd64")
    assert amd.image_id != arm.image_id
    # The tag follows the last pull, like docker; the repo digest is the index's.
    assert eng.images.resolve(str(pushed)) == amd.image_id
    assert amd.repo_digest.endswith(pushed.digest)
    with pytest.raises(Exception, match="no manifest for platform linux/s390x"):
        eng.images.pull(str(pushed), platform="linux/s390x")


def test_pull_docker_manifest_list(registry, berth_root, berth_config, tmp_path) -> None:
    pushed = timages.push_index(registry.host, "multi/list:1", fmt="v2s2", workdir=tmp_path)
    eng = open_engine(berth_root, berth_config())
    res = eng.images.pull(str(pushed), platform="linux/arm64/v8")
    assert eng.images.inspect(res.image_id)["Variant"] == "v8"


def _foreign_image(registry, tmp_path, repo_tag: str) -> tuple[timages.Pushed, str]:
    """Push the test image whose platform is not the host's, alone (no index); returns it and its platform."""
    from ansible_collections.berth.engine.plugins.module_utils.engine.core.reference import (
        format_platform,
        host_platform,
    )

    layouts = timages.platform_layouts(tmp_path / "layout")
    host_arch = host_platform()["architecture"]
    plat = next(p for p in layouts if p.split("/")[1] != host_arch)
    return timages.push(layouts[plat], layouts[plat].tag, registry.host, repo_tag), format_platform(host_platform())


def test_pull_single_platform_image_for_another_arch_warns(registry, berth_root, berth_config, tmp_path) -> None:
    pushed, host = _foreign_image(registry, tmp_path, "foreign/app:1")
    eng = open_engine(berth_root, berth_config())
    seen: list[events.Event] = []
    res = eng.images.pull(str(pushed), on_event=seen.append)  # by tag, no platform asked: docker 20.10 pulls
    foreign = eng.images.inspect(res.image_id)["Architecture"]
    assert res.changed and foreign != host.split("/")[1]
    assert len(res.warnings) == 1
    assert f"does not match the detected host platform ({host})" in res.warnings[0]
    assert f"linux/{foreign}" in res.warnings[0]
    assert [e.message for e in seen if e.kind == "warning"] == list(res.warnings)


def test_pull_single_platform_image_for_another_arch_fails_when_platform_asked(
    registry, berth_root, berth_config, tmp_path
) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.engine.errors import RegistryError

    pushed, host = _foreign_image(registry, tmp_path, "foreign/app:2")
    eng = open_engine(berth_root, berth_config())
    with pytest.raises(RegistryError, match=f"not the requested platform {host}"):
        eng.images.pull(str(pushed), platform=host)
    assert layer_dirs(berth_root) == []


def test_unknown_tag_and_bad_platform(registry, pushed_busybox, berth_root, berth_config) -> None:
    eng = open_engine(berth_root, berth_config())
    with pytest.raises(ManifestUnknown) as err:
        eng.images.pull(f"{registry.host}/library/busybox:nope")
    assert "nope" in str(err.value) and "library/busybox" in str(err.value)
    with pytest.raises(InvalidOption, match="platform"):
        eng.images.pull(pushed_busybox, platform="linux//")
    assert layer_dirs(berth_root) == []


def test_corrupt_blob_never_becomes_visible(registry, busybox_layout, berth_root, berth_config) -> None:
    pushed = timages.push(busybox_layout, "latest", registry.host, "corrupt/busybox:1")
    manifest = json.loads(busybox_layout.manifest_raw)
    layer = manifest["layers"][0]["digest"]
    with FlakyProxy(registry.host) as proxy:
        good = registry.request("GET", f"/v2/corrupt/busybox/blobs/{layer}")[2]
        bad = bytearray(good)
        bad[len(bad) // 2] ^= 0xFF
        proxy.canned[("GET", f"/v2/corrupt/busybox/blobs/{layer}")] = (
            200,
            {"Content-Type": "application/octet-stream", "Content-Length": str(len(bad))},
            bytes(bad),
        )
        eng = open_engine(berth_root, berth_config())
        with pytest.raises(Exception) as err:
            eng.images.pull(pushed.replace(registry.host, proxy.host))
        assert isinstance(err.value, (DigestMismatch,)) or "digest" in str(err.value).lower() or "gzip" in str(
            err.value
        ).lower()
    assert layer_dirs(berth_root) == []
    assert layer[7:] not in blob_names(berth_root)
    assert eng.images.list() == []


PULL_SCRIPT = textwrap.dedent(
    """
    import sys
    from ansible_collections.berth.engine.plugins.module_utils.engine.api import Engine
    eng = Engine.open(data_root=sys.argv[1], config_path=sys.argv[2], lock_timeout=120)
    res = eng.images.pull(sys.argv[3])
    print(res.image_id, flush=True)
    """
)


def _spawn_pull(root: str, config: str, ref: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", PULL_SCRIPT, root, config, ref],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def big_image(registry, busybox_rootfs, tmp_path_factory) -> timages.Pushed:
    """busybox + a 24 MB incompressible layer, so a pull takes long enough to interrupt."""
    lay = tmp_path_factory.mktemp("big") / "layout"
    img = timages.make_oci_layout(
        lay, "1", [busybox_rootfs, timages.random_layer_files(6, 4 << 20)], cmd=["sh"]
    )
    return timages.push(img, "1", registry.host, "big/image:1")


def test_sigkill_during_pull_leaves_a_consistent_store(registry, big_image, berth_root, berth_config) -> None:
    config = berth_config()
    proc = _spawn_pull(berth_root, config, big_image)
    tmp_dir = os.path.join(berth_root, "tmp")
    deadline = time.monotonic() + 30
    # Kill it once staging has started (some layer data is on disk, nothing committed yet).
    while time.monotonic() < deadline:
        if os.path.isdir(tmp_dir) and os.listdir(tmp_dir):
            break
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    eng = open_engine(berth_root, config)
    assert eng.images.list() == []  # no half image is ever visible
    res = eng.images.pull(big_image)
    assert res.changed
    assert eng.images.inspect(big_image)["Id"] == res.image_id
    # Staging garbage from the killed run is removed by the next prune.
    eng.images.prune()
    assert os.listdir(tmp_dir) == []
    assert len(layer_dirs(berth_root)) == 2


def test_two_concurrent_pulls_share_one_download(registry, big_image, berth_root, berth_config) -> None:
    config = berth_config()
    procs = [_spawn_pull(berth_root, config, big_image) for dummy in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    ids = {o[0].strip() for o in outs}
    assert len(ids) == 1
    assert len(layer_dirs(berth_root)) == 2
    eng = open_engine(berth_root, config)
    assert [x["RepoTags"] for x in eng.images.list()] == [[big_image]]
    assert os.listdir(os.path.join(berth_root, "tmp")) == []


def _import_variant(eng: Engine, busybox_tar: str, name: str, label: str) -> str:
    return eng.images.import_(busybox_tar, name, changes=[f"LABEL variant={label}"])


@pytest.fixture
def busybox_tar(busybox_rootfs, tmp_path) -> str:
    import tarfile

    path = str(tmp_path / "rootfs.tar")
    with tarfile.open(path, "w") as tf:
        tf.add(busybox_rootfs, arcname=".")
    return path


def test_rmi_untags_then_deletes(busybox_tar, berth_root, berth_config) -> None:
    eng = open_engine(berth_root, berth_config())
    image_id = eng.images.import_(busybox_tar, "app:1")
    assert eng.images.tag("app:1", "app:2")
    assert not eng.images.tag("app:1", "app:2")
    assert eng.images.remove("app:1") == [{"Untagged": "app:1"}]
    assert eng.images.inspect(image_id)["RepoTags"] == ["app:2"]
    report = eng.images.remove("app:2")
    assert report[0] == {"Untagged": "app:2"}
    assert {"Deleted": image_id} in report
    assert len(report) == 3  # the image and its one layer
    assert layer_dirs(berth_root) == [] and blob_names(berth_root) == []
    with pytest.raises(ImageNotFound, match="No such image: app:2"):
        eng.images.remove("app:2")


def test_rmi_by_id_across_repositories_needs_force(busybox_tar, berth_root, berth_config) -> None:
    eng = open_engine(berth_root, berth_config())
    image_id = eng.images.import_(busybox_tar, "one:1")
    eng.images.tag(image_id, "two:1")
    with pytest.raises(Conflict, match="must be forced"):
        eng.images.remove(image_id[7:19])
    report = eng.images.remove(image_id[7:19], force=True)
    assert {"Untagged": "one:1"} in report and {"Untagged": "two:1"} in report
    assert {"Deleted": image_id} in report


def test_image_in_use_needs_force(busybox_tar, berth_root, berth_config) -> None:
    eng = open_engine(berth_root, berth_config())
    image_id = eng.images.import_(busybox_tar, "used:1")
    eng.images._image_users = lambda i: ["c0ffee" * 10] if i == image_id else []
    with pytest.raises(Conflict, match="container c0ffeec0ffee is using"):
        eng.images.remove("used:1")
    assert eng.images.prune(all=True)["ImagesDeleted"] == []
    assert eng.images.remove("used:1", force=True)[-1]["Deleted"]


def test_dangling_prune_and_df_count_shared_layers_once(busybox_tar, berth_root, berth_config) -> None:
    eng = open_engine(berth_root, berth_config())
    first = _import_variant(eng, busybox_tar, "app:latest", "a")
    second = _import_variant(eng, busybox_tar, "app:latest", "b")  # moves the tag: first is dangling
    assert first != second
    assert [x["Id"] for x in eng.images.list({"dangling": ["true"]})] == [first]
    assert [x["Id"] for x in eng.images.list({"reference": ["app"]})] == [second]
    assert [x["Id"] for x in eng.images.list({"label": ["variant=b"]})] == [second]
    with pytest.raises(InvalidOption, match="filters"):
        eng.images.list({"colour": ["red"]})

    df = eng.system.df()
    sizes = {x["Id"]: x for x in df["Images"]}
    assert sizes[first]["SharedSize"] == sizes[first]["Size"] > 0
    assert df["LayersSize"] == sizes[first]["Size"]  # one layer shared by both images, counted once

    pruned = eng.images.prune()
    assert pruned["ImagesDeleted"] == [{"Deleted": first}]
    assert pruned["SpaceReclaimed"] > 0  # the config blob
    assert len(layer_dirs(berth_root)) == 1  # still used by the second image
    everything = eng.images.prune(all=True)
    assert {"Deleted": second} in everything["ImagesDeleted"]
    assert layer_dirs(berth_root) == []


def test_read_only_calls_on_a_fresh_host_create_nothing(tmp_path) -> None:
    root = str(tmp_path / "never")
    eng = Engine.open(data_root=root, config_path=str(tmp_path / "none.json"))
    assert eng.images.list() == []
    assert eng.images.resolve("busybox") is None
    assert eng.system.df()["LayersSize"] == 0
    with pytest.raises(ImageNotFound):
        eng.images.inspect("busybox")
    assert not os.path.exists(root)
