# SPDX-License-Identifier: GPL-3.0-or-later
"""Push to a real docker-registry: only missing blobs (HEAD first), cross-repository mounts, monolithic
and chunked uploads, parallel uploads, then the manifest; what Berth pushed is read back by skopeo and
pulled by podman (tools we did not write)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import threading
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.api import Engine
from ansible_collections.berth.engine.plugins.module_utils.engine.config.daemon import DaemonConfig
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import AuthError, InvalidOption, RegistryError
from ansible_collections.berth.engine.plugins.module_utils.engine.registry.auth import Credentials
from ansible_collections.berth.engine.plugins.module_utils.engine.registry.client import RegistryClient
from tests.support import images as timages
from tests.support.registry import FlakyProxy, Registry

pytestmark = [pytest.mark.registry]


def open_engine(berth_root: str, config: str, chunk: int | None = None) -> Engine:
    eng = Engine.open(data_root=berth_root, config_path=config, lock_timeout=60)
    if chunk is not None:  # the client's upload chunk size, injected
        cfg = DaemonConfig.load(config)
        eng.images._registry_factory = lambda: RegistryClient(
            cfg, Credentials.load(cfg.auth_path), upload_chunk_size=chunk, backoff=0.01)
    return eng


def skopeo(*args: str) -> str:
    return subprocess.run(["skopeo", *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def three_layers(registry: Registry, busybox_rootfs: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """busybox plus two layers of incompressible data (~300 KiB each), pushed by skopeo."""
    lay = timages.make_oci_layout(tmp_path_factory.mktemp("three") / "layout", "latest", [
        busybox_rootfs, timages.random_layer_files(3, 100 << 10, "a"), timages.random_layer_files(3, 100 << 10, "b")])
    return timages.push(lay, "latest", registry.host, "src/three:latest")


def test_push_uploads_missing_blobs_chunked_in_parallel(registry, three_layers, berth_root, berth_config) -> None:
    eng = open_engine(berth_root, berth_config(max_concurrent_uploads=3), chunk=64 << 10)
    pulled = eng.images.pull(three_layers)
    with Registry() as target, FlakyProxy(target.host) as proxy:
        name = f"{proxy.host}/team/three:v1"
        eng.images.tag(three_layers, name)
        # every layer's upload waits until another layer's upload has started: only parallel uploads pass
        barrier = threading.Barrier(2, timeout=20)
        first: set[str] = set()
        seen: list[tuple[str, str, int, int]] = []

        def on_event(ev: t.Any) -> None:
            seen.append((ev.kind, ev.ident, ev.current, ev.total))
            if ev.kind == "layer.upload" and ev.ident not in first and len(first) < 2:
                first.add(ev.ident)
                barrier.wait()

        res = eng.images.push(name, on_event=on_event)
        assert res.changed and res.image_id == pulled.image_id
        assert sorted(how for _d, how in res.blobs) == ["pushed"] * 4  # config + 3 layers
        reqs = [(r.method, r.path.split("?")[0], r.headers) for r in proxy.requests]
        for digest, _how in res.blobs:  # HEAD before any upload
            heads = [i for i, r in enumerate(reqs) if r[0] == "HEAD" and r[1].endswith(f"/blobs/{digest}")]
            assert heads and heads[0] < max(i for i, r in enumerate(reqs) if r[0] == "PUT" and "/uploads/" in r[1])
        patches = [r for r in reqs if r[0] == "PATCH"]
        assert patches and all("content-range" in r[2] for r in patches)  # the big layers went in chunks
        assert [k for k, *_x in seen].count("layer.done") == 3
        assert any(k == "layer.upload" for k, *_x in seen)
        assert reqs[-1][0] == "PUT" and reqs[-1][1] == "/v2/team/three/manifests/v1"  # the manifest last
        # what Berth pushed is the manifest it pulled: same digest, readable by skopeo
        raw = timages.skopeo_inspect_raw(f"{target.host}/team/three:v1")
        assert res.digest == three_layers.digest == "sha256:" + hashlib.sha256(raw).hexdigest()
        assert f"{target.host}/team/three@{res.digest}" in eng.images.inspect(name)["RepoDigests"] or \
            f"{proxy.host}/team/three@{res.digest}" in eng.images.inspect(name)["RepoDigests"]
        # again: nothing is uploaded, nothing changes
        n = len(proxy.requests)
        again = eng.images.push(name)
        assert not again.changed and sorted(how for _d, how in again.blobs) == ["exists"] * 4
        assert not [r for r in proxy.requests[n:] if r.method in ("POST", "PATCH")]
        # check mode: a HEAD of the manifest only
        n = len(proxy.requests)
        assert not eng.images.push(name, dry_run=True).changed
        assert [r.method for r in proxy.requests[n:]] == ["HEAD"]


def test_push_mounts_blobs_from_another_repository(registry, three_layers, berth_root, berth_config) -> None:
    eng = open_engine(berth_root, berth_config(max_concurrent_uploads=1))
    eng.images.pull(three_layers)
    with FlakyProxy(registry.host) as proxy:
        # the same registry under the proxy's name: pull there first, then push to a new repository
        src = three_layers.replace(registry.host, proxy.host)
        eng.images.pull(src)
        name = f"{proxy.host}/copies/three:latest"
        eng.images.tag(src, name)
        res = eng.images.push(name)
        assert sorted(how for _d, how in res.blobs) == ["mounted"] * 4
        mounts = [r.path for r in proxy.requests if r.method == "POST"]
        assert mounts and all("mount=sha256" in p and "from=src%2Fthree" in p for p in mounts)
        assert not [r for r in proxy.requests if r.method in ("PATCH", "PUT") and "/uploads/" in r.path]
    assert json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{registry.host}/copies/three:latest"))[
        "Digest"] == three_layers.digest


def test_imported_image_pushed_monolithic_is_read_by_skopeo_and_podman(registry, busybox_rootfs, berth_root,
                                                                       berth_config, tmp_path) -> None:
    import tarfile

    tar = tmp_path / "rootfs.tar"
    with tarfile.open(tar, "w") as tf:
        tf.add(busybox_rootfs, arcname=".")
    eng = open_engine(berth_root, berth_config())
    name = f"{registry.host}/imported/busybox:1"
    image_id = eng.images.import_(str(tar), reference=name, changes=['CMD ["sh"]'])
    res = eng.images.push(name)
    assert res.changed and res.image_id == image_id
    assert sorted(how for _d, how in res.blobs) == ["pushed", "pushed"]
    info = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{name}"))
    assert info["Digest"] == res.digest
    config = json.loads(skopeo("inspect", "--config", "--tls-verify=false", f"docker://{name}"))
    assert config["config"]["Cmd"] == ["sh"]
    out = tmp_path / "copy"
    skopeo("copy", "--src-tls-verify=false", f"docker://{name}", f"oci:{out}:x")
    assert (out / "index.json").exists()
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    import tempfile

    short = tempfile.mkdtemp(prefix="bpod-")  # podman wants a runroot under 50 characters
    proot, prun = tmp_path / "podman-root", os.path.join(short, "run")
    podman = ["podman", "--root", str(proot), "--runroot", prun, "--cgroup-manager=cgroupfs",
              "--events-backend=file"]
    try:
        subprocess.run([*podman, "pull", "-q", "--tls-verify=false", name], check=True, capture_output=True)
        got = subprocess.run([*podman, "image", "inspect", "--format", "{{.Id}}", name], check=True,
                             capture_output=True, text=True).stdout.strip()
        assert "sha256:" + got == image_id
    finally:
        subprocess.run([*podman, "system", "reset", "-f"], capture_output=True, check=False)
        subprocess.run(["umount", "-R", str(proot)], capture_output=True, check=False)
        shutil.rmtree(short, ignore_errors=True)


def test_push_round_trip_with_htpasswd_and_tls(busybox_layout, berth_root, berth_config, tmp_path) -> None:
    with Registry(htpasswd={"berth": "s3cret-pw"}, tls=True) as reg:
        src = timages.push(busybox_layout, "latest", reg.host, "library/busybox:latest", creds=("berth", "s3cret-pw"))
        host = reg.secure_host  # verified TLS: the CA in certs.d
        path = berth_config(certs={host: reg.ca_path})
        eng = open_engine(berth_root, path)
        with pytest.raises(AuthError, match="authentication required"):
            eng.images.pull(src.replace(reg.host, host))
        eng.images.login(host, "berth", "s3cret-pw")
        eng.images.pull(src.replace(reg.host, host))
        name = f"{host}/pushed/busybox:1"
        eng.images.tag(src.replace(reg.host, host), name)
        res = eng.images.push(name)
        assert res.digest == src.digest
        info = json.loads(skopeo("inspect", "--tls-verify=false", "--creds", "berth:s3cret-pw",
                                 f"docker://{reg.host}/pushed/busybox:1"))
        assert info["Digest"] == src.digest
        # and back: a fresh store pulls what was pushed
        other = open_engine(str(tmp_path / "other-root"), path)
        assert other.images.pull(name).repo_digest == f"{host}/pushed/busybox@{src.digest}"


def test_push_refusals(registry, pushed_busybox, berth_root, berth_config) -> None:
    eng = open_engine(berth_root, berth_config())
    with pytest.raises(InvalidOption, match="digest"):
        eng.images.push(f"{registry.host}/library/busybox@{pushed_busybox.digest}")
    with pytest.raises(Exception, match="no-such"):
        eng.images.push(f"{registry.host}/no-such:1")


def test_image_task_tags_and_pushes_with_honest_check_mode(registry, pushed_busybox, berth_root, berth_config) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.engine.options.image import IMAGE_OPTIONS
    from ansible_collections.berth.engine.plugins.module_utils.glue import image_task
    from ansible_collections.berth.engine.plugins.module_utils.glue.runner import TaskContext

    eng = open_engine(berth_root, berth_config())
    target = f"{registry.host}/mod/busybox:2"
    params = dict(IMAGE_OPTIONS.defaults(), name=str(pushed_busybox), repository=target, push=True)

    def run(check: bool) -> dict[str, t.Any]:
        return image_task.image(TaskContext(engine=eng, params=params, check_mode=check, diff_mode=True))

    predicted = run(True)  # not even pulled yet: pull, tag and push are all predicted
    assert predicted["changed"] and eng.images.resolve(target) is None and eng.images.resolve(pushed_busybox) is None
    assert [a.split(" ", 1)[0] for a in predicted["actions"]] == ["Pulled", "Tagged", "Pushed"]
    accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
    status, _h, _b = registry.request("HEAD", "/v2/mod/busybox/manifests/2", headers=accept)
    assert status == 404  # check mode pushed nothing
    applied = run(False)
    assert applied["changed"] and applied["diff"] == predicted["diff"]
    assert applied["actions"] == predicted["actions"]
    assert applied["push"]["digest"] == pushed_busybox.digest and applied["push"]["name"] == target
    assert target in applied["diff"]["after"]["repo_tags"]
    assert registry.request("HEAD", "/v2/mod/busybox/manifests/2", headers=accept)[0] == 200
    # again: nothing to do, in check mode and for real
    for check in (True, False):
        res = run(check)
        assert not res["changed"] and res["actions"] == [], res
    # the tag in the registry moved elsewhere: the push is a change again, predicted by check mode
    registry.delete_manifest("mod/busybox", pushed_busybox.digest)
    assert run(True)["changed"] and run(False)["changed"]
    with pytest.raises(InvalidOption, match="repository"):
        image_task.image(TaskContext(engine=eng, params=dict(params, repository=f"{target}@{pushed_busybox.digest}")))


@pytest.mark.parametrize("fault, chunk", [("status_5xx_first_n", None), ("fail_first_n", 64 << 10)])
def test_failed_upload_starts_again(registry, three_layers, berth_root, berth_config, fault, chunk) -> None:
    """A 503 on an upload's closing PUT, or a PATCH whose connection is cut: the blob's upload starts again
    from its POST, and the push succeeds."""
    eng = open_engine(berth_root, berth_config(max_concurrent_uploads=1, max_download_attempts=3), chunk=chunk)
    eng.images.pull(three_layers)
    method = "PATCH" if chunk else "PUT"
    with Registry() as target, FlakyProxy(target.host, faults_for=f"{method} /v2/retry/three/blobs/uploads/",
                                          **{fault: 1}) as proxy:
        name = f"{proxy.host}/retry/three:1"
        eng.images.tag(three_layers, name)
        res = eng.images.push(name)
        assert sorted(how for _d, how in res.blobs) == ["pushed"] * 4
        assert [r.outcome for r in proxy.requests if r.method == method].count(
            "503" if fault == "status_5xx_first_n" else "dropped") == 1
        assert len([r for r in proxy.requests if r.method == "POST"]) == 5  # 4 blobs, one of them twice
        assert res.digest == three_layers.digest
    with Registry() as target, FlakyProxy(target.host, faults_for="PUT /v2/retry/three/blobs/uploads/",
                                          status_5xx_first_n=100) as proxy:
        name = f"{proxy.host}/retry/three:2"
        eng.images.tag(three_layers, name)
        with pytest.raises(RegistryError, match="gave up after 3 attempts"):
            eng.images.push(name)


def test_push_asks_a_token_for_pull_and_push(registry, pushed_busybox, berth_root, berth_config) -> None:
    with FlakyProxy(registry.host, token_auth={"berth": "tok-pw"}) as proxy:
        eng = open_engine(berth_root, berth_config(auths={proxy.host: ("berth", "tok-pw")}))
        src = pushed_busybox.replace(registry.host, proxy.host)
        eng.images.pull(src)
        name = f"{proxy.host}/tok/busybox:1"
        eng.images.tag(src, name)
        assert eng.images.push(name).digest == pushed_busybox.digest
        scopes = [r.path for r in proxy.requests if r.path.startswith("/token")]
        assert any("scope=repository%3Atok%2Fbusybox%3Apull%2Cpush" in p for p in scopes), scopes
        assert all("authorization" in r.headers for r in proxy.requests if r.method in ("POST", "PUT", "PATCH"))
