# SPDX-License-Identifier: GPL-3.0-or-later
"""Registry traffic through a real forward proxy on loopback (tests/support/forward_proxy.py), as dockerd
honours proxies: HTTP_PROXY/HTTPS_PROXY/NO_PROXY from the environment, overridden key by key by
daemon.json's ``proxies``. The registries are reached as ``0.0.0.0:PORT`` (loopback never goes through a
proxy, as in Go's httpproxy), so the traffic stays on this machine. Also run under Debian's
``/usr/bin/python3 -S`` (python3-requests 2.28, urllib3 1.26), as bin/berth runs."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.config.daemon import DaemonConfig
from ansible_collections.berth.engine.plugins.module_utils.engine.core import oci
from ansible_collections.berth.engine.plugins.module_utils.engine.core.reference import ImageReference
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import RegistryError
from ansible_collections.berth.engine.plugins.module_utils.engine.registry.client import RegistryClient
from tests.support import images as timages
from tests.support.forward_proxy import ForwardProxy
from tests.support.registry import free_port

pytestmark = [pytest.mark.registry]

PROXY_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
DIST_PACKAGES = "/usr/lib/python3/dist-packages"
MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "plugins",
                            "module_utils")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_ENV:
        monkeypatch.delenv(name, raising=False)


def pull_manifest_and_layer(config_path: str, name: str) -> str:
    client = RegistryClient(DaemonConfig.load(config_path), timeout=10.0, backoff=0.01)
    ref = ImageReference.parse(name)
    m = client.fetch_manifest(ref)
    parsed = oci.parse_manifest(m.raw, m.media_type)
    assert isinstance(parsed, oci.ImageManifest)
    client.fetch_blob(ref, parsed.layers[0])  # verified
    client.close()
    return m.digest


def test_environment_http_proxy(registry, pushed_busybox, berth_config, monkeypatch) -> None:
    host = registry.secure_host
    with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        path = berth_config(insecure_registries=[host])
        assert pull_manifest_and_layer(path, f"{host}/library/busybox:latest") == pushed_busybox.digest
        assert f"GET http://{host}/v2/library/busybox/manifests/latest" in proxy.seen
        assert any(x.startswith(f"GET http://{host}/v2/library/busybox/blobs/") for x in proxy.seen)
        # loopback never goes through the proxy
        n = len(proxy.seen)
        assert pull_manifest_and_layer(path, pushed_busybox) == pushed_busybox.digest
        assert len(proxy.seen) == n
        # NO_PROXY names the host (lower case works as well)
        monkeypatch.setenv("no_proxy", "example.com, 0.0.0.0")
        assert pull_manifest_and_layer(path, f"{host}/library/busybox:latest") == pushed_busybox.digest
        assert len(proxy.seen) == n


def test_daemon_json_https_proxy_tunnels_tls_and_overrides_environment(
        tls_registry, busybox_layout, berth_config, monkeypatch) -> None:
    pushed = timages.push(busybox_layout, "latest", tls_registry.host, "library/busybox:proxied")
    host = tls_registry.secure_host  # verified TLS: the CA in certs.d
    dead = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("HTTPS_PROXY", dead)  # daemon.json's https-proxy wins over it
    monkeypatch.setenv("NO_PROXY", host)  # and so does its no-proxy (empty list: nothing bypassed)
    with ForwardProxy(auth=("puser", "ppw")) as proxy:
        url = proxy.url.replace("http://", "http://puser:ppw@")
        path = berth_config(certs={host: tls_registry.ca_path},
                            proxies={"https-proxy": url, "no-proxy": "example.com"})
        assert pull_manifest_and_layer(path, f"{host}/library/busybox:proxied") == pushed.digest
        assert f"CONNECT {host}" in proxy.seen

        # the environment alone: its dead proxy is used, and the error says so (without the password)
        path = berth_config(certs={host: tls_registry.ca_path}, max_download_attempts=1)
        monkeypatch.delenv("NO_PROXY")
        with pytest.raises(RegistryError) as ei:
            pull_manifest_and_layer(path, f"{host}/library/busybox:proxied")
        assert dead in str(ei.value) and "proxy" in str(ei.value)
        # a wrong proxy password: the proxy's 407 is an error naming the proxy, never the password
        bad = proxy.url.replace("http://", "http://puser:secret-wrong@")
        path = berth_config(certs={host: tls_registry.ca_path}, max_download_attempts=1, proxies={"https-proxy": bad})
        with pytest.raises(RegistryError) as ei:
            pull_manifest_and_layer(path, f"{host}/library/busybox:proxied")
        assert "127.0.0.1" in str(ei.value) and "secret-wrong" not in str(ei.value)


def test_proxy_that_wants_credentials_is_named(registry, pushed_busybox, berth_config) -> None:
    host = registry.secure_host
    with ForwardProxy(auth=("puser", "ppw")) as proxy:
        path = berth_config(insecure_registries=[host], proxies={"http-proxy": proxy.url}, max_download_attempts=1)
        with pytest.raises(RegistryError, match="407") as ei:
            pull_manifest_and_layer(path, f"{host}/library/busybox:latest")
        assert proxy.url in str(ei.value) and f"GET http://{host}/v2/library/busybox/manifests/latest" in proxy.seen


#: Loads plugins/module_utils as the package berth_engine, as bin/berth does (under -S with Debian's dist-packages).
PRELUDE = r"""
import json, sys
if sys.flags.no_site:
    sys.path.append(%(dist)r)
pkg = type(sys)("berth_engine")
pkg.__path__ = [%(mu)r]
sys.modules["berth_engine"] = pkg
""" % {"dist": DIST_PACKAGES, "mu": MODULE_UTILS}

SCRIPT = PRELUDE + r"""
import requests, urllib3
from berth_engine.engine.config.daemon import DaemonConfig
from berth_engine.engine.core import oci
from berth_engine.engine.core.reference import ImageReference
from berth_engine.engine.registry.client import RegistryClient
config, name = sys.argv[1:]
client = RegistryClient(DaemonConfig.load(config), timeout=10.0, backoff=0.01)
ref = ImageReference.parse(name)
m = client.fetch_manifest(ref)
parsed = oci.parse_manifest(m.raw, m.media_type)
sizes = [len(client.fetch_blob(ref, d)) for d in parsed.layers]
print(json.dumps({"digest": m.digest, "sizes": sizes, "requests": requests.__version__,
                  "urllib3": urllib3.__version__}))
"""


def _debian_has_requests() -> bool:
    code = f"import sys; sys.path.append({DIST_PACKAGES!r}); import requests"
    return subprocess.run(["/usr/bin/python3", "-S", "-c", code], capture_output=True, check=False).returncode == 0


@pytest.mark.parametrize("python", [
    pytest.param([sys.executable], id="venv"),
    pytest.param(["/usr/bin/python3", "-S"], id="debian",
                 marks=pytest.mark.skipif(not _debian_has_requests(), reason="python3-requests not installed")),
])
def test_client_under_both_requests(tls_registry, busybox_layout, berth_config, tmp_path, python) -> None:
    """TLS with a certs.d CA through a CONNECT proxy, and plain HTTP through the proxy."""
    pushed = timages.push(busybox_layout, "latest", tls_registry.host, "library/busybox:both")
    host = tls_registry.secure_host
    script = tmp_path / "pull.py"
    script.write_text(SCRIPT)
    with ForwardProxy() as proxy:
        path = berth_config(certs={host: tls_registry.ca_path}, proxies={"https-proxy": proxy.url})
        env = {k: v for k, v in os.environ.items() if k not in PROXY_ENV and k != "PYTHONPATH"}
        out = subprocess.run([*python, str(script), path, f"{host}/library/busybox:both"], capture_output=True,
                             text=True, check=False, env=env)
        assert out.returncode == 0, out.stderr
        res = json.loads(out.stdout)
        assert res["digest"] == pushed.digest
        assert res["sizes"] == [x["size"] for x in busybox_layout.manifest["layers"]]
        assert f"CONNECT {host}" in proxy.seen
        if python[0] == "/usr/bin/python3":
            assert res["urllib3"].startswith("1.")  # Debian 12's


HOSTNAME_SCRIPT = PRELUDE + r"""
from berth_engine.engine.config.daemon import DaemonConfig
from berth_engine.engine.core.reference import ImageReference
from berth_engine.engine.errors import RegistryError
from berth_engine.engine.registry.client import RegistryClient
config, name = sys.argv[1:]
try:
    RegistryClient(DaemonConfig.load(config), timeout=5.0, backoff=0.01).fetch_manifest(ImageReference.parse(name))
except RegistryError as exc:
    print(exc)
"""


@pytest.mark.parametrize("python", [
    pytest.param([sys.executable], id="venv"),
    pytest.param(["/usr/bin/python3", "-S"], id="debian",
                 marks=pytest.mark.skipif(not _debian_has_requests(), reason="python3-requests not installed")),
])
def test_certificate_for_another_name_is_refused(berth_config, tmp_path, python) -> None:
    """The CA is trusted, but the server's certificate names ``localhost`` only: ``0.0.0.0`` must fail
    (urllib3 checks the name itself, under both requests)."""
    import http.server
    import ssl
    import threading

    from tests.support.registry import make_tls_files

    tls = make_tls_files(str(tmp_path / "tls"), hosts=("localhost",))
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls["server_cert"], tls["server_key"])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host = f"0.0.0.0:{server.server_address[1]}"
        path = berth_config(certs={host: tls["ca_cert"]})
        script = tmp_path / "hostname.py"
        script.write_text(HOSTNAME_SCRIPT)
        env = {k: v for k, v in os.environ.items() if k not in PROXY_ENV and k != "PYTHONPATH"}
        out = subprocess.run([*python, str(script), path, f"{host}/a/b:c"], capture_output=True, text=True,
                             check=False, env=env, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "could not be verified" in out.stdout and host in out.stdout, out.stdout
    finally:
        server.shutdown()
        server.server_close()
