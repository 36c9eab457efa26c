# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared fixtures: loopback registries, a busybox test image, a throw-away engine root and config.

Session-scoped (built once, shared):
    registry        tests.support.registry.Registry, plain HTTP
    auth_registry   Registry with basic auth; user "berth", password "s3cret-pw" (.username/.password)
    tls_registry    Registry over HTTPS with a throw-away CA (.ca_path)
    python_rootfs_tar  a tar of busybox + the host's Python 3 + a user "app" (uid 1000), for ``berth import``
    busybox_layout  tests.support.images.OciLayout of a busybox rootfs, tag "latest", CMD ["sh"]
    pushed_busybox  "127.0.0.1:PORT/library/busybox:latest" on ``registry`` (a str with .digest)

Per test, needing berth_config:
    registry_image  "localhost/berth/registry:2", the offline registry:2 built by scripts/registry-image.sh
                    from Debian's docker-registry and imported into the test's engine

Per test:
    berth_root      a temporary, empty engine data root (str)
    berth_config    factory writing <tmp>/etc/berth/daemon.json (data-root = berth_root) and returning its
                    path. Loopback (127.0.0.0/8, ::1/128) is insecure by default, as in dockerd;
                    a registry's ``secure_host`` (0.0.0.0:PORT) is not: use it to test TLS verification.

When docker-registry, skopeo, umoci, busybox, htpasswd or openssl is missing, tests that need it are
skipped with the reason, except in CI (CI=true), where they fail.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import typing as t

import pytest

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)  # so tests can say `from tests.support.registry import Registry`

from tests.support import images as _images  # noqa: E402
from tests.support.registry import Registry  # noqa: E402

AUTH_USER = "berth"
AUTH_PASSWORD = "s3cret-pw"


@pytest.fixture(scope="session")
def registry() -> t.Iterator[Registry]:
    with Registry() as reg:
        yield reg


@pytest.fixture(scope="session")
def auth_registry() -> t.Iterator[Registry]:
    with Registry(htpasswd={AUTH_USER: AUTH_PASSWORD}) as reg:
        yield reg


@pytest.fixture(scope="session")
def tls_registry() -> t.Iterator[Registry]:
    with Registry(tls=True) as reg:
        yield reg


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _images.busybox_rootfs(tmp_path_factory.mktemp("busybox") / "rootfs")


@pytest.fixture(scope="session")
def rootfs_tar(busybox_rootfs: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The busybox root filesystem as a plain tar (what ``import`` takes)."""
    import tarfile

    path = str(tmp_path_factory.mktemp("busybox-tar") / "rootfs.tar")
    with tarfile.open(path, "w") as tf:
        tf.add(busybox_rootfs, arcname=".")
    return path


@pytest.fixture(scope="session")
def python_rootfs_tar(tmp_path_factory: pytest.TempPathFactory) -> str:
    """busybox plus the host's Python 3 and a user ``app`` (images.python_rootfs) as a plain tar, for
    ``berth import``: a container Ansible can run modules in, made offline."""
    import tarfile

    top = tmp_path_factory.mktemp("python-rootfs")
    path = str(top / "rootfs.tar")
    with tarfile.open(path, "w") as tf:
        tf.add(_images.python_rootfs(top / "rootfs"), arcname=".")
    return path


@pytest.fixture(scope="session")
def busybox_layout(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs: str) -> _images.OciLayout:
    path = tmp_path_factory.mktemp("busybox-layout") / "layout"
    return _images.make_oci_layout(path, "latest", [busybox_rootfs], cmd=["sh"])


@pytest.fixture(scope="session")
def pushed_busybox(registry: Registry, busybox_layout: _images.OciLayout) -> _images.Pushed:
    return _images.push(busybox_layout, "latest", registry.host, "library/busybox:latest")


@pytest.fixture
def registry_image(berth_config: t.Callable[..., str]) -> str:
    """The offline registry image, imported into the test's engine by the script the demo uses too."""
    import subprocess

    from tests.support import REPO, require_tools

    require_tools("docker-registry", "tar", why="building the offline registry image")
    ref = "localhost/berth/registry:2"
    env = dict(os.environ, BERTH_CONFIG=berth_config(), BERTH=os.path.join(REPO, "bin", "berth"))
    subprocess.run([os.path.join(REPO, "scripts", "registry-image.sh"), ref], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return ref


@pytest.fixture
def berth_root(tmp_path: t.Any) -> str:
    root = tmp_path / "berth-root"
    root.mkdir()
    return str(root)


@pytest.fixture
def berth_config(tmp_path: t.Any, berth_root: str) -> t.Callable[..., str]:
    """``berth_config(insecure_registries=[reg.host], registry_mirrors=[...], certs={host: {...}},
    auths={host: (user, password)}, **other_daemon_keys) -> path of daemon.json``.

    * Keyword names use ``_`` for ``-`` (``max_download_attempts=2``); ``data-root`` defaults to berth_root.
    * ``certs={"127.0.0.1:PORT": ca_path}`` or ``{host: {"ca.crt": path, "client.cert": path, "client.key": path}}``
      copies the files into ``certs.d/<host>/`` beside daemon.json (Docker's layout).
    * ``auths={host: (user, password)}`` writes ``auth.json`` beside it (docker config.json format, 0600).
    Calling it again rewrites the files.
    """
    etc = tmp_path / "etc" / "berth"

    def make(
        insecure_registries: t.Sequence[str] = (),
        registry_mirrors: t.Sequence[str] = (),
        certs: t.Mapping[str, t.Any] | None = None,
        auths: t.Mapping[str, tuple[str, str]] | None = None,
        **keys: t.Any,
    ) -> str:
        etc.mkdir(parents=True, exist_ok=True)
        doc: dict[str, t.Any] = {"data-root": berth_root}
        if insecure_registries:
            doc["insecure-registries"] = list(insecure_registries)
        if registry_mirrors:
            doc["registry-mirrors"] = list(registry_mirrors)
        for k, v in keys.items():
            doc[k.replace("_", "-")] = v
        path = etc / "daemon.json"
        path.write_text(json.dumps(doc, indent=2) + "\n")
        certs_d = etc / "certs.d"
        if certs:
            for host, files in certs.items():
                d = certs_d / host
                d.mkdir(parents=True, exist_ok=True)
                if isinstance(files, (str, os.PathLike)):
                    files = {"ca.crt": files}
                for name, src in files.items():
                    shutil.copyfile(src, d / name)
        if auths:
            import base64

            entries = {
                h: {"auth": base64.b64encode(f"{u}:{p}".encode()).decode()} for h, (u, p) in auths.items()
            }
            auth_path = etc / "auth.json"
            fd = os.open(str(auth_path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump({"auths": entries}, fh)
        return str(path)

    return make
