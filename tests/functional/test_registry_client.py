# SPDX-License-Identifier: GPL-3.0-or-later
"""RegistryClient against a real docker-registry (images pushed by skopeo), with faults injected by FlakyProxy."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import threading
import time
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.config.daemon import DaemonConfig
from ansible_collections.berth.engine.plugins.module_utils.engine.core import oci
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import (
    AuthError,
    DigestMismatch,
    ManifestUnknown,
    RegistryError,
    UnsupportedManifest,
)
from ansible_collections.berth.engine.plugins.module_utils.engine.registry.auth import Credentials
from ansible_collections.berth.engine.plugins.module_utils.engine.registry.client import RegistryClient
from ansible_collections.berth.engine.plugins.module_utils.engine.core.reference import ImageReference
from tests.support import images as timages
from tests.support.registry import FlakyProxy, Registry, free_port

pytestmark = [pytest.mark.registry]


# ---------------------------------------------------------------------- helpers
def make_client(berth_config: t.Callable[..., str], creds: Credentials | None = None, timeout: float = 10.0,
                **cfg: t.Any) -> RegistryClient:
    config = DaemonConfig.load(berth_config(**cfg))
    return RegistryClient(config, creds, timeout=timeout, backoff=0.05)


def ref_of(s: str) -> ImageReference:
    return ImageReference.parse(s)


def read_all(stream: t.Any, chunk: int = 65536) -> bytes:
    out = []
    while True:
        data = stream.read(chunk)
        if not data:
            return b"".join(out)
        out.append(data)


def layer_files(blob: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as tf:
        return {m.name.lstrip("./"): tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}  # type: ignore


@pytest.fixture(scope="module")
def big_image(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> timages.Pushed:
    """One ~1.5 MiB incompressible layer: big enough to cut mid-body."""
    lay = timages.make_oci_layout(tmp_path_factory.mktemp("big") / "layout", "latest",
                                  [timages.random_layer_files(3, 512 << 10)])
    return timages.push(lay, "latest", registry.host, "test/big:latest")


@pytest.fixture(scope="module")
def v2s2_busybox(registry: Registry, busybox_layout: timages.OciLayout) -> timages.Pushed:
    return timages.push(busybox_layout, "latest", registry.host, "library/busybox:v2s2", fmt="v2s2")


@pytest.fixture(scope="module")
def multi_oci(registry: Registry) -> timages.Pushed:
    return timages.push_index(registry.host, "test/multi:oci")


@pytest.fixture(scope="module")
def multi_list(registry: Registry) -> timages.Pushed:
    return timages.push_index(registry.host, "test/multi:list", fmt="v2s2")


def layer_desc(client: RegistryClient, ref: ImageReference) -> tuple[oci.ImageManifest, oci.Descriptor]:
    m = client.fetch_manifest(ref)
    parsed = oci.parse_manifest(m.raw, m.media_type)
    assert isinstance(parsed, oci.ImageManifest)
    return parsed, parsed.layers[-1]


# ---------------------------------------------------------------------- manifests
def test_fetch_manifest_by_tag_and_digest_oci(registry, pushed_busybox, berth_config) -> None:
    client = make_client(berth_config)
    ref = ref_of(pushed_busybox)
    m = client.fetch_manifest(ref)
    assert m.media_type == oci.OCI_MANIFEST
    assert m.digest == pushed_busybox.digest
    assert m.endpoint == f"http://{registry.host}"
    assert m.raw == timages.skopeo_inspect_raw(pushed_busybox)
    by_digest = client.fetch_manifest(ref, pushed_busybox.digest)
    assert by_digest.raw == m.raw and by_digest.digest == m.digest
    pinned = client.fetch_manifest(ref_of(pushed_busybox.by_digest))
    assert pinned.digest == pushed_busybox.digest
    assert client.head_manifest(ref) == pushed_busybox.digest


def test_fetch_manifest_v2s2(registry, v2s2_busybox, berth_config) -> None:
    client = make_client(berth_config)
    ref = ref_of(v2s2_busybox)
    m = client.fetch_manifest(ref)
    assert m.media_type == oci.DOCKER_MANIFEST
    assert m.digest == v2s2_busybox.digest
    assert client.fetch_manifest(ref, v2s2_busybox.digest).raw == m.raw
    parsed = oci.parse_manifest(m.raw, m.media_type)
    assert isinstance(parsed, oci.ImageManifest)
    config = client.fetch_blob(ref, parsed.config)
    assert json.loads(config)["config"]["Cmd"] == ["sh"]


@pytest.mark.parametrize("which", ["multi_oci", "multi_list"])
def test_multi_platform_index(registry, berth_config, request, which) -> None:
    pushed = request.getfixturevalue(which)
    client = make_client(berth_config)
    ref = ref_of(pushed)
    top = client.fetch_manifest(ref)
    assert top.digest == pushed.digest
    assert top.media_type == (oci.OCI_INDEX if which == "multi_oci" else oci.DOCKER_LIST)
    index = oci.parse_manifest(top.raw, top.media_type)
    assert isinstance(index, oci.ImageIndex)
    for plat, want in (({"os": "linux", "architecture": "arm64", "variant": "v8"}, "linux/arm64/v8"),
                       ({"os": "linux", "architecture": "amd64"}, "linux/amd64")):
        desc = oci.select_platform(index, plat)
        assert desc.digest == pushed.manifests[want]
        sub = client.fetch_manifest(ref, desc.digest)
        assert sub.digest == desc.digest
        manifest = oci.parse_manifest(sub.raw, sub.media_type)
        assert isinstance(manifest, oci.ImageManifest)
        files = layer_files(client.fetch_blob(ref, manifest.layers[-1]))
        assert files[timages.PLATFORM_FILE] == (want + "\n").encode()
        assert ("arm64-only" in files) == (want == "linux/arm64/v8")


def test_unknown_tag_and_digest(registry, pushed_busybox, berth_config) -> None:
    client = make_client(berth_config)
    with pytest.raises(ManifestUnknown) as ei:
        client.fetch_manifest(ref_of(f"{registry.host}/library/busybox:nope"))
    msg = str(ei.value)
    assert registry.host in msg and "library/busybox" in msg and "'nope'" in msg
    missing = "sha256:" + "0" * 64
    with pytest.raises(ManifestUnknown) as ei:
        client.fetch_manifest(ref_of(pushed_busybox), missing)
    assert missing in str(ei.value)
    with pytest.raises(ManifestUnknown):
        client.head_manifest(ref_of(f"{registry.host}/no/such:thing"))


def test_schema1_and_digest_mismatches(registry, pushed_busybox, berth_config) -> None:
    good = registry.request("GET", f"/v2/library/busybox/manifests/{pushed_busybox.digest}",
                            headers={"Accept": oci.ACCEPT})[2]
    with FlakyProxy(registry.host) as proxy:
        client = make_client(berth_config)
        base = f"{proxy.host}/library/busybox"
        schema1 = json.dumps({"schemaVersion": 1, "name": "library/busybox", "tag": "old", "fsLayers": []}).encode()
        proxy.canned[("GET", "/v2/library/busybox/manifests/old")] = (
            200, {"Content-Type": oci.DOCKER_SCHEMA1_SIGNED}, schema1)
        with pytest.raises(UnsupportedManifest, match="schema 1"):
            client.fetch_manifest(ref_of(f"{base}:old"))
        # by tag: the registry's Docker-Content-Digest disagrees with the bytes
        wrong = "sha256:" + "1" * 64
        proxy.canned[("GET", "/v2/library/busybox/manifests/liar")] = (
            200, {"Content-Type": oci.OCI_MANIFEST, "Docker-Content-Digest": wrong}, good)
        with pytest.raises(DigestMismatch):
            client.fetch_manifest(ref_of(f"{base}:liar"))
        # by digest: other bytes than asked for
        other = "sha256:" + hashlib.sha256(b"x").hexdigest()
        proxy.canned[("GET", f"/v2/library/busybox/manifests/{other}")] = (
            200, {"Content-Type": oci.OCI_MANIFEST}, good)
        with pytest.raises(DigestMismatch):
            client.fetch_manifest(ref_of(f"{base}@{other}"))
        # a blob whose bytes do not match its descriptor
        manifest = oci.parse_manifest(good)
        assert isinstance(manifest, oci.ImageManifest)
        cfg = manifest.config
        proxy.canned[("GET", f"/v2/library/busybox/blobs/{cfg.digest}")] = (200, {}, b"y" * cfg.size)
        with pytest.raises(DigestMismatch):
            client.fetch_blob(ref_of(f"{base}:latest"), cfg)


# ---------------------------------------------------------------------- blobs
def test_blob_streaming_verifies(registry, big_image, berth_config) -> None:
    client = make_client(berth_config)
    ref = ref_of(big_image)
    manifest, desc = layer_desc(client, ref)
    h = hashlib.sha256()
    total = 0
    with client.open_blob(ref, desc) as stream:
        while True:
            chunk = stream.read(100_000)
            if not chunk:
                break
            total += len(chunk)
            h.update(chunk)
        assert stream.read(10) == b""
    assert total == desc.size
    assert "sha256:" + h.hexdigest() == desc.digest
    # from an offset
    whole = client.fetch_blob(ref, desc)
    with client.open_blob(ref, desc, offset=desc.size - 1000) as stream:
        assert read_all(stream) == whole[-1000:]
    config = json.loads(client.fetch_blob(ref, manifest.config))
    assert config["rootfs"]["diff_ids"]


def test_concurrent_blob_streams_share_one_client(registry, big_image, pushed_busybox, berth_config) -> None:
    client = make_client(berth_config)
    jobs = []
    for s in (big_image, pushed_busybox):
        ref = ref_of(s)
        manifest, dummy = layer_desc(client, ref)
        jobs += [(ref, d) for d in (*manifest.layers, manifest.config)]
    jobs = jobs * 3
    errors: list[BaseException] = []

    def work(ref: ImageReference, desc: oci.Descriptor) -> None:
        try:
            with client.open_blob(ref, desc) as stream:
                data = read_all(stream, 32768)
            assert "sha256:" + hashlib.sha256(data).hexdigest() == desc.digest
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=j) for j in jobs]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors


def test_cut_blob_is_resumed_with_range(registry, big_image, berth_config) -> None:
    with FlakyProxy(registry.host, cut_blob_after_bytes=300_000) as proxy:
        client = make_client(berth_config)
        ref = ref_of(big_image.replace(registry.host, proxy.host))
        _m, desc = layer_desc(client, ref)
        with client.open_blob(ref, desc) as stream:
            data = read_all(stream)
            assert stream.resumes == 1
        assert len(data) == desc.size
        assert "sha256:" + hashlib.sha256(data).hexdigest() == desc.digest
        blob_gets = [r for r in proxy.requests if "/blobs/" in r.path]
        assert [r.outcome for r in blob_gets] == ["cut", "forwarded"]
        assert blob_gets[1].headers.get("range") == "bytes=300000-"


def test_cut_blob_resumed_when_server_ignores_range(registry, big_image, berth_config) -> None:
    with FlakyProxy(registry.host, cut_blob_after_bytes=200_000, ignore_range=True) as proxy:
        client = make_client(berth_config)
        ref = ref_of(big_image.replace(registry.host, proxy.host))
        _m, desc = layer_desc(client, ref)
        data = client.fetch_blob(ref, desc)  # verifies
        assert len(data) == desc.size
        assert [r.outcome for r in proxy.requests if "/blobs/" in r.path] == ["cut", "forwarded"]


def test_blob_always_cut_gives_up(registry, big_image, berth_config) -> None:
    with FlakyProxy(registry.host, cut_blob_after_bytes=1000, cut_times=100) as proxy:
        client = make_client(berth_config, max_download_attempts=3)
        ref = ref_of(big_image.replace(registry.host, proxy.host))
        _m, desc = layer_desc(client, ref)
        with pytest.raises(RegistryError) as ei:
            with client.open_blob(ref, desc) as stream:
                read_all(stream)
        msg = str(ei.value)
        assert desc.digest in msg and "test/big" in msg and proxy.host in msg and "3 attempts" in msg
        assert sum(1 for r in proxy.requests if "/blobs/" in r.path) == 3


def test_stream_never_returns_more_than_size_and_detects_short(registry, pushed_busybox, berth_config) -> None:
    client = make_client(berth_config, max_download_attempts=2)
    ref = ref_of(pushed_busybox)
    manifest, desc = layer_desc(client, ref)
    # the descriptor claims less than the registry has: we stop at desc.size (and the registry's
    # Content-Length disagreeing is an error), never more
    short_desc = oci.Descriptor(desc.media_type, desc.digest, desc.size - 10)
    got = b""
    try:
        with client.open_blob(ref, short_desc) as stream:
            got = read_all(stream)
    except RegistryError as exc:
        assert "bytes" in str(exc)
    assert len(got) <= short_desc.size
    # the descriptor claims more than the registry sends: the stream must fail, not end quietly
    long_desc = oci.Descriptor(manifest.config.media_type, manifest.config.digest, manifest.config.size + 10)
    with pytest.raises(RegistryError):
        with client.open_blob(ref, long_desc) as stream:
            read_all(stream)


def test_unknown_blob(registry, pushed_busybox, berth_config) -> None:
    client = make_client(berth_config)
    missing = oci.Descriptor(oci.OCI_LAYER_GZIP, "sha256:" + "2" * 64, 10)
    with pytest.raises(RegistryError, match="blob unknown") as ei:
        client.open_blob(ref_of(pushed_busybox), missing)
    assert missing.digest in str(ei.value)


# ---------------------------------------------------------------------- retries and outages
def test_503_then_success_is_retried(registry, pushed_busybox, berth_config) -> None:
    with FlakyProxy(registry.host, status_5xx_first_n=2) as proxy:
        client = make_client(berth_config)
        m = client.fetch_manifest(ref_of(pushed_busybox.replace(registry.host, proxy.host)))
        assert m.digest == pushed_busybox.digest
        assert proxy.outcomes()[:3] == ["503", "503", "forwarded"]


def test_dropped_connections_are_retried(registry, pushed_busybox, berth_config) -> None:
    with FlakyProxy(registry.host, fail_first_n=2) as proxy:
        client = make_client(berth_config)
        ref = ref_of(pushed_busybox.replace(registry.host, proxy.host))
        assert client.fetch_manifest(ref).digest == pushed_busybox.digest
        assert proxy.outcomes()[:3] == ["dropped", "dropped", "forwarded"]


def test_registry_down_fails_in_bounded_time(registry, pushed_busybox, berth_config) -> None:
    port = free_port()  # nothing listens there
    host = f"127.0.0.1:{port}"
    client = make_client(berth_config, insecure_registries=[host], max_download_attempts=4)
    start = time.monotonic()
    with pytest.raises(RegistryError) as ei:
        client.fetch_manifest(ref_of(f"{host}/library/busybox:latest"))
    assert time.monotonic() - start < 5
    msg = str(ei.value)
    assert host in msg and "library/busybox" in msg and "refused" in msg and "4 attempts" in msg
    with FlakyProxy(registry.host, status_5xx_first_n=10**6) as proxy:
        client = make_client(berth_config, max_download_attempts=3)
        start = time.monotonic()
        with pytest.raises(RegistryError, match="503") as ei:
            client.fetch_manifest(ref_of(pushed_busybox.replace(registry.host, proxy.host)))
        assert time.monotonic() - start < 5
        assert len(proxy.requests) == 3
    with pytest.raises(RegistryError):
        client.ping(host)


def test_timeout_is_bounded(berth_config) -> None:
    import socket

    # accepts connections but never answers
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    host = f"127.0.0.1:{srv.getsockname()[1]}"
    try:
        client = make_client(berth_config, insecure_registries=[host], max_download_attempts=2, timeout=0.3)
        start = time.monotonic()
        with pytest.raises(RegistryError, match="timed out"):
            client.fetch_manifest(ref_of(f"{host}/a/b:c"))
        assert time.monotonic() - start < 5
    finally:
        srv.close()


def test_redirected_blob_does_not_leak_authorization(registry, pushed_busybox, berth_config) -> None:
    # client -> front (Bearer auth, redirects blobs) -> back (records) -> registry
    with FlakyProxy(registry.host) as back, FlakyProxy(back.host, token_auth={}, redirect_blobs=True) as front:
        client = make_client(berth_config)
        ref = ref_of(pushed_busybox.replace(registry.host, front.host))
        manifest, desc = layer_desc(client, ref)
        data = client.fetch_blob(ref, desc)
        assert len(data) == desc.size
        assert "redirected" in front.outcomes()
        direct = [r for r in back.requests if "/blobs/" in r.path]
        assert direct and all("authorization" not in r.headers for r in direct)
        assert any(r.headers.get("authorization", "").startswith("Bearer ") for r in front.requests
                   if "/manifests/" in r.path)


# ---------------------------------------------------------------------- auth
def test_basic_auth_registry(auth_registry, busybox_layout, berth_config) -> None:
    pushed = timages.push(busybox_layout, "latest", auth_registry.host, "private/busybox:latest",
                          creds=(auth_registry.username, auth_registry.password))
    ref = ref_of(pushed)
    good = Credentials({auth_registry.host: (auth_registry.username, auth_registry.password)})
    client = make_client(berth_config, good)
    m = client.fetch_manifest(ref)
    assert m.digest == pushed.digest
    parsed = oci.parse_manifest(m.raw, m.media_type)
    assert isinstance(parsed, oci.ImageManifest)
    client.fetch_blob(ref, parsed.config)

    bad = Credentials({auth_registry.host: (auth_registry.username, "wrong-pw")})
    client = make_client(berth_config, bad)
    with pytest.raises(AuthError) as ei:
        client.fetch_manifest(ref)
    msg = str(ei.value)
    assert auth_registry.host in msg and "'berth'" in msg and "rejected" in msg and "private/busybox" in msg
    assert "wrong-pw" not in msg and auth_registry.password not in msg

    path = berth_config()
    client = RegistryClient(DaemonConfig.load(path), Credentials.load(DaemonConfig.load(path).auth_path))
    with pytest.raises(AuthError, match="authentication required") as ei:
        client.fetch_manifest(ref)
    # what to run, and where the credentials go
    auth_json = os.path.join(os.path.dirname(path), "auth.json")
    assert f"log in first: berth login {auth_registry.host} (the credentials go to {auth_json})" in str(ei.value)


def test_credentials_file_is_used(auth_registry, busybox_layout, berth_config) -> None:
    pushed = timages.push(busybox_layout, "latest", auth_registry.host, "private/file:latest",
                          creds=(auth_registry.username, auth_registry.password))
    path = berth_config(auths={auth_registry.host: (auth_registry.username, auth_registry.password)})
    config = DaemonConfig.load(path)
    client = RegistryClient(config, Credentials.load(config.auth_path))
    assert client.fetch_manifest(ref_of(pushed)).digest == pushed.digest


def test_check_login_basic_and_token(auth_registry, registry, berth_config) -> None:
    client = make_client(berth_config)
    client.check_login(auth_registry.host, auth_registry.username, auth_registry.password)
    with pytest.raises(AuthError, match="the credentials for user 'berth' were rejected") as ei:
        client.check_login(auth_registry.host, auth_registry.username, "wrong-pw")
    assert "wrong-pw" not in str(ei.value)
    with FlakyProxy(registry.host, token_auth={"berth": "tok-pw"}) as proxy:
        client.check_login(proxy.host, "berth", "tok-pw")
        assert proxy.token_requests == 1
        with pytest.raises(AuthError, match="rejected the credentials for user 'berth'"):
            client.check_login(proxy.host, "berth", "nope")


@pytest.mark.parametrize("field", ["token", "access_token"])
def test_bearer_token_flow_and_cache(registry, pushed_busybox, berth_config, field) -> None:
    with FlakyProxy(registry.host, token_auth={"berth": "tok-pw"}, token_field=field) as proxy:
        ref = ref_of(pushed_busybox.replace(registry.host, proxy.host))
        creds = Credentials({proxy.host: ("berth", "tok-pw")})
        client = make_client(berth_config, creds)
        manifest, desc = layer_desc(client, ref)
        client.fetch_blob(ref, manifest.config)
        client.fetch_blob(ref, desc)
        assert client.head_manifest(ref) == pushed_busybox.digest
        assert proxy.token_requests == 1  # cached per (host, scope)
        token_req = [r for r in proxy.requests if r.path.startswith("/token")][0]
        assert "scope=repository%3Alibrary%2Fbusybox%3Apull" in token_req.path
        assert "service=berth-test" in token_req.path

        bad = make_client(berth_config, Credentials({proxy.host: ("berth", "nope")}))
        with pytest.raises(AuthError) as ei:
            bad.fetch_manifest(ref)
        assert "'berth'" in str(ei.value) and "nope" not in str(ei.value)
        anon = make_client(berth_config, None)
        with pytest.raises(AuthError, match="authentication required") as ei:
            anon.fetch_manifest(ref)
        assert f"log in first: berth login {proxy.host}" in str(ei.value)


def test_bearer_anonymous_and_expiry(registry, pushed_busybox, berth_config) -> None:
    with FlakyProxy(registry.host, token_auth={}, token_ttl=1) as proxy:
        ref = ref_of(pushed_busybox.replace(registry.host, proxy.host))
        client = make_client(berth_config, None)
        assert client.fetch_manifest(ref).digest == pushed_busybox.digest
        assert proxy.token_requests == 1
        time.sleep(1.2)  # the proxy's token expired; the client's cache kept it (min TTL): re-challenge
        assert client.fetch_manifest(ref).digest == pushed_busybox.digest
        assert proxy.token_requests == 2


# ---------------------------------------------------------------------- TLS and insecure registries
def test_tls_registry(tls_registry, busybox_layout, berth_config) -> None:
    pushed = timages.push(busybox_layout, "latest", tls_registry.host, "library/busybox:latest")
    host = tls_registry.secure_host  # not loopback by name: secure by default
    ref = ref_of(f"{host}/library/busybox:latest")
    client = make_client(berth_config)  # nothing trusted, nothing insecure
    with pytest.raises(RegistryError) as ei:
        client.fetch_manifest(ref)
    msg = str(ei.value)
    assert "could not be verified" in msg and host in msg
    assert "certs.d" in msg and "insecure-registries" in msg
    client = make_client(berth_config, certs={host: tls_registry.ca_path})
    m = client.fetch_manifest(ref)
    assert m.digest == pushed.digest and m.endpoint == f"https://{host}"
    client = make_client(berth_config, insecure_registries=[host])
    m = client.fetch_manifest(ref)
    assert m.digest == pushed.digest and m.endpoint == f"https://{host}"
    client.ping(host)


def test_loopback_tls_registry_is_insecure_by_default(tls_registry, busybox_layout, berth_config) -> None:
    pushed = timages.push(busybox_layout, "latest", tls_registry.host, "library/busybox:latest")
    client = make_client(berth_config)  # no CA, no insecure-registries: 127.0.0.0/8 is insecure, as in dockerd
    m = client.fetch_manifest(ref_of(pushed))
    assert m.digest == pushed.digest and m.endpoint == f"https://{tls_registry.host}"


def test_tls_client_certificate(busybox_layout, berth_config) -> None:
    with Registry(tls=True, client_auth=True) as reg:
        # skopeo would need the client cert too: PUT the image through the client-cert context instead
        ref = ref_of(f"{reg.secure_host}/library/busybox:latest")
        manifest = busybox_layout.manifest
        for digest in [manifest["config"]["digest"], *[x["digest"] for x in manifest["layers"]]]:
            _upload_blob(reg, "library/busybox", digest, busybox_layout.blob(digest))
        reg.put_manifest("library/busybox", "latest", busybox_layout.manifest_raw, oci.OCI_MANIFEST)
        client = make_client(berth_config, certs={reg.secure_host: {"ca.crt": reg.ca_path}})
        with pytest.raises(RegistryError):
            client.fetch_manifest(ref)
        client = make_client(berth_config, certs={reg.secure_host: {
            "ca.crt": reg.ca_path, "client.cert": reg.client_cert, "client.key": reg.client_key}})
        assert client.fetch_manifest(ref).digest == busybox_layout.manifest_digest


def _upload_blob(reg: Registry, repo: str, digest: str, data: bytes) -> None:
    status, headers, body = reg.request("POST", f"/v2/{repo}/blobs/uploads/")
    assert status == 202, body
    loc = headers["location"]
    path = loc.split(reg.host, 1)[1] if "://" in loc else loc
    path += ("&" if "?" in path else "?") + f"digest={digest}"
    status, _h, body = reg.request("PUT", path, body=data, headers={"Content-Type": "application/octet-stream"})
    assert status == 201, body


def test_plain_http_registry_not_insecure_is_refused_clearly(registry, pushed_busybox, berth_config) -> None:
    client = make_client(berth_config)  # default: HTTPS, verified
    host = registry.secure_host
    with pytest.raises(RegistryError) as ei:
        client.fetch_manifest(ref_of(f"{host}/library/busybox:latest"))
    msg = str(ei.value)
    assert host in msg and "insecure-registries" in msg and "plain HTTP" in msg
    with pytest.raises(RegistryError, match="insecure-registries"):
        client.ping(host)


def test_loopback_plain_http_registry_needs_no_configuration(registry, pushed_busybox, berth_config) -> None:
    client = make_client(berth_config)
    m = client.fetch_manifest(ref_of(pushed_busybox))
    assert m.digest == pushed_busybox.digest and m.endpoint == f"http://{registry.host}"
    client.ping(registry.host)


def test_insecure_by_cidr_falls_back_to_http(registry, pushed_busybox, berth_config) -> None:
    client = make_client(berth_config, insecure_registries=["0.0.0.0/32"])
    m = client.fetch_manifest(ref_of(f"{registry.secure_host}/library/busybox:latest"))
    assert m.endpoint == f"http://{registry.secure_host}"
    client.ping(registry.secure_host)


# ---------------------------------------------------------------------- mirrors
def test_mirror_serves_docker_hub_reference(busybox_layout, berth_config) -> None:
    with Registry() as empty, Registry() as mirror:
        pushed = timages.push(busybox_layout, "latest", mirror.host, "library/busybox:latest")
        down = f"127.0.0.1:{free_port()}"
        client = make_client(berth_config, registry_mirrors=[f"http://{down}", f"http://{empty.host}",
                                                             f"http://{mirror.host}"])
        ref = ref_of("docker.io/library/busybox:latest")
        assert ref_of("busybox") == ref
        m = client.fetch_manifest(ref)
        assert m.digest == pushed.digest
        assert m.endpoint == f"http://{mirror.host}"
        parsed = oci.parse_manifest(m.raw, m.media_type)
        assert isinstance(parsed, oci.ImageManifest)
        data = client.fetch_blob(ref, parsed.layers[0])
        assert "sha256:" + hashlib.sha256(data).hexdigest() == parsed.layers[0].digest
        assert client.head_manifest(ref) == pushed.digest


def test_mirror_down_falls_back_to_the_origin(busybox_layout, berth_config) -> None:
    """A pull-through cache in registry-mirrors that is down (refuses, or dies mid-blob): the origin serves."""
    with Registry() as hub:
        pushed = timages.push(busybox_layout, "latest", hub.host, "library/busybox:latest")
        with FlakyProxy(hub.host, cut_blob_after_bytes=100, cut_times=100) as flaky:
            down = f"127.0.0.1:{free_port()}"
            config = DaemonConfig.load(berth_config(registry_mirrors=[f"http://{down}", f"http://{flaky.host}"]))
            client = RegistryClient(config, timeout=10.0, backoff=0.01, docker_hub=hub.host)
            ref = ref_of("busybox")
            m = client.fetch_manifest(ref)  # the down mirror is skipped; the flaky one serves manifests
            assert m.digest == pushed.digest and m.endpoint == f"http://{flaky.host}"
            parsed = oci.parse_manifest(m.raw, m.media_type)
            assert isinstance(parsed, oci.ImageManifest)
            # its blobs are cut every time: after one attempt at the mirror, the origin serves the blob
            data = client.fetch_blob(ref, parsed.layers[0])
            assert "sha256:" + hashlib.sha256(data).hexdigest() == parsed.layers[0].digest
            assert [r.outcome for r in flaky.requests if "/blobs/" in r.path] == ["cut"]
        # the mirror is gone altogether now: manifests and blobs come from the origin
        m = client.fetch_manifest(ref)
        assert m.digest == pushed.digest and m.endpoint == f"http://{hub.host}"


def test_import_does_not_load_requests_http_or_ssl() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from ansible_collections.berth.engine.plugins.module_utils.engine.registry import client, auth\n"
        "print('ssl' in sys.modules, 'http.client' in sys.modules, 'requests' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    assert out.stdout.split() == ["False", "False", "False"]
