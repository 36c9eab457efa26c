# SPDX-License-Identifier: GPL-3.0-or-later
"""Test images built with tools we did not write: busybox-static, umoci and skopeo.

    rootfs = busybox_rootfs(tmp / "rootfs")
    img = make_oci_layout(tmp / "layout", "latest", [rootfs, {"etc/motd": b"hi\\n"}], cmd=["sh"])
    ref = push(img, "latest", registry.host, "library/busybox:latest")           # OCI manifest
    ref = push(img, "latest", registry.host, "library/busybox:v2", fmt="v2s2")   # Docker schema 2
    idx = push_index(registry.host, "multi/app:latest")                          # OCI index amd64 + arm64
    lst = push_index(registry.host, "multi/app:list", fmt="v2s2")                # Docker manifest list

``push``/``push_index`` return a :class:`Pushed` (a ``str`` "HOST/REPO:TAG" with ``.digest`` and,
for indexes, ``.manifests`` {"linux/amd64": digest, "linux/arm64/v8": digest}).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import typing as t

from . import require_tools, run

PathLike = t.Union[str, "os.PathLike[str]"]
Layer = t.Union[PathLike, t.Mapping[str, bytes]]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"

#: What ``platform_file`` says in each image that push_index builds.
PLATFORM_FILE = "etc/berth-platform"


def busybox_rootfs(directory: PathLike) -> str:
    """A minimal busybox root filesystem in *directory* (created); returns its path.

    ``/bin/busybox`` from busybox-static, every applet as a symlink (``busybox --install -s``, with the
    links rewritten to the relative ``busybox`` so they resolve inside the image), ``/etc/passwd`` and
    ``/etc/group`` with root and nobody, ``/tmp`` (1777), ``/root``.
    """
    require_tools("busybox", why="a busybox test image")
    src = "/bin/busybox" if os.path.exists("/bin/busybox") else shutil.which("busybox")
    assert src
    root = os.fspath(directory)
    bindir = os.path.join(root, "bin")
    os.makedirs(bindir, exist_ok=True)
    bb = os.path.join(bindir, "busybox")
    shutil.copy2(src, bb)
    os.chmod(bb, 0o755)
    run([bb, "--install", "-s", bindir])
    for name in os.listdir(bindir):
        path = os.path.join(bindir, name)
        if name != "busybox" and os.path.islink(path):
            os.unlink(path)
            os.symlink("busybox", path)
    etc = os.path.join(root, "etc")
    os.makedirs(etc, exist_ok=True)
    with open(os.path.join(etc, "passwd"), "w") as fh:
        fh.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    with open(os.path.join(etc, "group"), "w") as fh:
        fh.write("root:x:0:\nnobody:x:65534:\n")
    for d, mode in (("tmp", 0o1777), ("root", 0o700)):
        os.makedirs(os.path.join(root, d), exist_ok=True)
        os.chmod(os.path.join(root, d), mode)
    return root


#: What :func:`python_rootfs` leaves out of the host's standard library: the static library (24 MB), tests,
#: GUI and packaging tools nobody runs in a test container.
_PYTHON_SKIP = ("config-", "test", "idlelib", "tkinter", "turtledemo", "lib2to3", "pydoc_data", "ensurepip",
                "site-packages", "dist-packages")


def python_rootfs(directory: PathLike, python: str = "/usr/bin/python3") -> str:
    """:func:`busybox_rootfs` plus the host's Python 3 (the interpreter, its standard library with its
    bytecode, the shared libraries ``ldd`` names for both) at the host's paths, ``/usr/bin/python3``
    linked to it, ``/var/tmp`` (1777) and a user ``app`` (uid 1000, shell /bin/sh): what Ansible needs in a container, made
    offline in about a second. Returns the root's path."""
    require_tools("ldd", why="a test image with Python")
    root = busybox_rootfs(directory)
    real = os.path.realpath(python)
    version = os.path.basename(real)  # python3.11
    stdlib = os.path.join("/usr/lib", version)

    def copy_in(path: str) -> None:
        dest = os.path.join(root, path.lstrip("/"))
        if not os.path.exists(dest):
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy2(os.path.realpath(path), dest)

    copy_in(real)
    os.symlink(version, os.path.join(root, "usr/bin/python3"))
    shutil.copytree(stdlib, os.path.join(root, stdlib.lstrip("/")), symlinks=True,
                    ignore=lambda d, names: [n for n in names if n.startswith(_PYTHON_SKIP)])
    dynload = os.path.join(stdlib, "lib-dynload")
    objects = [real] + [os.path.join(dynload, n) for n in os.listdir(dynload) if n.endswith(".so")]
    for line in run(["ldd", *objects], text=True).stdout.splitlines():
        fields = line.split()
        for field in fields:
            if field.startswith("/") and not field.endswith(":") and field not in objects:
                copy_in(field)
    with open(os.path.join(root, "etc", "passwd"), "a") as fh:
        fh.write("app:x:1000:1000:app:/home/app:/bin/sh\n")
    with open(os.path.join(root, "etc", "group"), "a") as fh:
        fh.write("app:x:1000:\n")
    home = os.path.join(root, "home", "app")
    os.makedirs(home)
    os.chown(home, 1000, 1000)
    os.makedirs(os.path.join(root, "var", "tmp"))  # where Ansible puts files for an unprivileged become_user
    os.chmod(os.path.join(root, "var", "tmp"), 0o1777)
    return root


def random_layer_files(n_files: int, size: int, prefix: str = "data") -> dict[str, bytes]:
    """``{"data/f00000": <size random bytes>, ...}``: incompressible content for benchmarks."""
    return {f"{prefix}/f{i:05d}": os.urandom(size) for i in range(n_files)}


def write_files(directory: PathLike, files: t.Mapping[str, bytes]) -> str:
    """Write a path->bytes mapping below *directory* (parents created); returns the directory."""
    root = os.fspath(directory)
    for rel, data in files.items():
        rel = rel.lstrip("/")
        if not rel or ".." in rel.split("/"):
            raise ValueError(f"bad layer path {rel!r}")
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
    return root


@dataclasses.dataclass(frozen=True)
class OciLayout:
    """An OCI image layout directory; usable wherever a path is (``os.fspath``/``str``)."""

    path: str
    tag: str

    def __fspath__(self) -> str:
        return self.path

    def __str__(self) -> str:
        return self.path

    def _blob(self, digest: str) -> bytes:
        with open(os.path.join(self.path, "blobs", *digest.split(":", 1)), "rb") as fh:
            return fh.read()

    def descriptor(self, tag: str | None = None) -> dict[str, t.Any]:
        tag = tag or self.tag
        with open(os.path.join(self.path, "index.json")) as fh:
            index = json.load(fh)
        for m in index.get("manifests", []):
            if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") == tag:
                return dict(m)
        raise KeyError(f"{self.path}: no tag {tag!r}")

    @property
    def manifest_digest(self) -> str:
        return str(self.descriptor()["digest"])

    @property
    def manifest_raw(self) -> bytes:
        return self._blob(self.manifest_digest)

    @property
    def manifest(self) -> dict[str, t.Any]:
        return t.cast("dict[str, t.Any]", json.loads(self.manifest_raw))

    @property
    def config(self) -> dict[str, t.Any]:
        return t.cast("dict[str, t.Any]", json.loads(self._blob(self.manifest["config"]["digest"])))

    def blob(self, digest: str) -> bytes:
        return self._blob(digest)


def docker_archive(path: PathLike, layers: t.Sequence[bytes], tag: str, cmd: t.Sequence[str] = ("sh",)) -> str:
    """Write a docker-archive (what ``docker save`` writes) at *path*: the uncompressed layer tars *layers*
    (bottom first) as one image for this host's architecture, tagged *tag*; returns the path."""
    import io
    import tarfile

    from ansible_collections.berth.engine.plugins.module_utils.engine.core.reference import host_platform

    config = json.dumps({
        "architecture": host_platform()["architecture"], "os": "linux", "config": {"Cmd": list(cmd)},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(x).hexdigest() for x in layers]},
    }).encode()
    cfg_name = hashlib.sha256(config).hexdigest() + ".json"
    names = [f"l{i}/layer.tar" for i in range(len(layers))]
    manifest = json.dumps([{"Config": cfg_name, "RepoTags": [tag], "Layers": names}]).encode()
    with tarfile.open(os.fspath(path), "w") as tf:
        for name, data in [(cfg_name, config), *zip(names, layers), ("manifest.json", manifest)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return os.fspath(path)


def make_oci_layout(
    path: PathLike,
    tag: str,
    layers: t.Sequence[Layer],
    *,
    cmd: t.Sequence[str] | None = None,
    entrypoint: t.Sequence[str] | None = None,
    env: t.Mapping[str, str] | t.Sequence[str] | None = None,
    labels: t.Mapping[str, str] | None = None,
    workdir: str | None = None,
    user: str | None = None,
    arch: str = "amd64",
    os_name: str = "linux",
    variant: str | None = None,
) -> OciLayout:
    """Build an image with umoci in the OCI layout at *path* (created if needed) under *tag*.

    Each entry of *layers* becomes one layer (``umoci unpack``, copy, ``umoci repack`` per entry): a
    directory (e.g. a :func:`busybox_rootfs`) is copied to ``/``, a mapping path->bytes is written
    there. Config changes go through ``umoci config``. Several tags may share one layout.
    """
    require_tools("umoci", why="building test images")
    lay = os.fspath(path)
    if not os.path.exists(os.path.join(lay, "oci-layout")):
        if os.path.isdir(lay) and not os.listdir(lay):
            os.rmdir(lay)
        run(["umoci", "init", "--layout", lay])
    image = f"{lay}:{tag}"
    run(["umoci", "new", "--image", image])
    rootless = ["--rootless"] if os.geteuid() != 0 else []
    for layer in layers:
        # unpack + copy + repack: umoci 0.4.7's ``insert`` writes tars without the padding of the last
        # file and without the end-of-archive blocks, which strict readers (Python's tarfile) refuse.
        with tempfile.TemporaryDirectory(prefix="berth-bundle-") as tmp:
            bundle = os.path.join(tmp, "bundle")
            run(["umoci", "unpack", *rootless, "--image", image, bundle])
            rootfs = os.path.join(bundle, "rootfs")
            if isinstance(layer, t.Mapping):
                write_files(rootfs, layer)
            else:
                shutil.copytree(os.fspath(layer), rootfs, symlinks=True, dirs_exist_ok=True)
            run(["umoci", "repack", "--image", image, bundle])
    argv = ["umoci", "config", "--image", image, f"--architecture={arch}", f"--os={os_name}"]
    if cmd is not None:
        argv += [f"--config.cmd={c}" for c in cmd] if cmd else ["--clear=config.cmd"]
    if entrypoint is not None:
        argv += [f"--config.entrypoint={c}" for c in entrypoint] if entrypoint else ["--clear=config.entrypoint"]
    if env:
        items = [f"{k}={v}" for k, v in env.items()] if isinstance(env, t.Mapping) else list(env)
        argv += [f"--config.env={e}" for e in items]
    for k, v in (labels or {}).items():
        argv.append(f"--config.label={k}={v}")
    if workdir:
        argv.append(f"--config.workingdir={workdir}")
    if user:
        argv.append(f"--config.user={user}")
    run(argv)
    if variant:
        _set_variant(lay, tag, variant)
    run(["umoci", "gc", "--layout", lay])
    return OciLayout(lay, tag)


def _set_variant(layout: str, tag: str, variant: str) -> None:
    """umoci has no --variant: rewrite the config and manifest blobs, then the tag."""
    img = OciLayout(layout, tag)
    desc = img.descriptor()
    manifest = img.manifest
    config = img.config
    config["variant"] = variant
    cfg_raw = json.dumps(config, separators=(",", ":")).encode()
    manifest["config"]["digest"] = _put_blob(layout, cfg_raw)
    manifest["config"]["size"] = len(cfg_raw)
    man_raw = json.dumps(manifest, separators=(",", ":")).encode()
    desc["digest"] = _put_blob(layout, man_raw)
    desc["size"] = len(man_raw)
    _set_tag(layout, tag, desc)


def _put_blob(layout: str, data: bytes) -> str:
    hexd = hashlib.sha256(data).hexdigest()
    path = os.path.join(layout, "blobs", "sha256", hexd)
    if not os.path.exists(path):
        with open(path, "wb") as fh:
            fh.write(data)
    return "sha256:" + hexd


def _set_tag(layout: str, tag: str, desc: t.Mapping[str, t.Any]) -> None:
    index_path = os.path.join(layout, "index.json")
    with open(index_path) as fh:
        index = json.load(fh)
    entries = [m for m in index.get("manifests", [])
               if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") != tag]
    new = dict(desc)
    new["annotations"] = dict(new.get("annotations") or {}, **{"org.opencontainers.image.ref.name": tag})
    entries.append(new)
    index["manifests"] = entries
    with open(index_path, "w") as fh:
        json.dump(index, fh)


class Pushed(str):
    """``"HOST/REPO:TAG"`` plus what was pushed: ``digest`` (manifest or index) and, for indexes,
    ``manifests`` (platform string -> manifest digest) and ``media_type``."""

    digest: str
    media_type: str
    manifests: dict[str, str]

    def __new__(cls, ref: str, digest: str, media_type: str = "",
                manifests: t.Mapping[str, str] | None = None) -> "Pushed":
        obj = super().__new__(cls, ref)
        obj.digest = digest
        obj.media_type = media_type
        obj.manifests = dict(manifests or {})
        return obj

    @property
    def by_digest(self) -> str:
        """``HOST/REPO@sha256:...``."""
        repo = self.rsplit(":", 1)[0] if self.rfind(":") > self.rfind("/") else str(self)
        return f"{repo}@{self.digest}"


def _skopeo_dest_args(creds: tuple[str, str] | None) -> list[str]:
    # tls-verify=false: https without verification, or plain http, as the registry offers
    argv = ["--dest-tls-verify=false"]
    if creds:
        argv.append(f"--dest-creds={creds[0]}:{creds[1]}")
    return argv


def push(
    layout: PathLike,
    tag: str,
    registry_host: str,
    repo_tag: str,
    fmt: str = "oci",
    creds: tuple[str, str] | None = None,
) -> Pushed:
    """``skopeo copy [--format v2s2] oci:LAYOUT:TAG docker://HOST/REPO:TAG``; returns the reference."""
    require_tools("skopeo", why="pushing test images")
    if fmt not in ("oci", "v2s2"):
        raise ValueError(f"fmt must be 'oci' or 'v2s2', not {fmt!r}")
    ref = f"{registry_host}/{repo_tag}"
    with tempfile.NamedTemporaryFile(prefix="berth-digest-") as df:
        argv = ["skopeo", "--insecure-policy", "copy", "--quiet", "--digestfile", df.name, "--format", fmt,
                *_skopeo_dest_args(creds), f"oci:{os.fspath(layout)}:{tag}", f"docker://{ref}"]
        run(argv)
        with open(df.name) as fh:
            digest = fh.read().strip()
    return Pushed(ref, digest, OCI_MANIFEST if fmt == "oci" else DOCKER_MANIFEST)


def platform_layouts(
    directory: PathLike,
    base_layers: t.Sequence[Layer] = (),
) -> dict[str, OciLayout]:
    """Two images in one layout: tags ``amd64`` and ``arm64`` (variant v8).

    Each has ``/etc/berth-platform`` saying ``linux/amd64`` or ``linux/arm64/v8`` (and ``/arm64-only``
    exists only in the arm64 one), on top of *base_layers*.
    """
    lay = os.fspath(directory)
    out = {}
    for arch, variant in (("amd64", None), ("arm64", "v8")):
        plat = f"linux/{arch}" + (f"/{variant}" if variant else "")
        files = {PLATFORM_FILE: (plat + "\n").encode()}
        if arch == "arm64":
            files["arm64-only"] = b"yes\n"
        out[plat] = make_oci_layout(lay, arch, [*base_layers, files], arch=arch, variant=variant,
                                    cmd=["cat", "/" + PLATFORM_FILE])
    return out


def push_index(
    registry_host: str,
    repo_tag: str,
    fmt: str = "oci",
    workdir: PathLike | None = None,
    base_layers: t.Sequence[Layer] = (),
    creds: tuple[str, str] | None = None,
) -> Pushed:
    """Push a multi-platform image (linux/amd64 and linux/arm64/v8) as HOST/REPO:TAG.

    ``fmt="oci"``: an OCI image index, with ``skopeo copy --all``. ``fmt="v2s2"``: a Docker manifest
    list, with ``skopeo copy --all --format v2s2`` (skopeo 1.9 converts); should skopeo refuse, each
    platform image is pushed as schema 2 and the list is PUT by hand. The returned ``manifests`` are
    the per-platform digests as the registry has them.
    """
    require_tools("skopeo", "umoci", why="pushing a multi-platform test image")
    if fmt not in ("oci", "v2s2"):
        raise ValueError(f"fmt must be 'oci' or 'v2s2', not {fmt!r}")
    tmp = None
    if workdir is None:
        tmp = tempfile.mkdtemp(prefix="berth-index-")
        workdir = tmp
    try:
        lay = os.path.join(os.fspath(workdir), "layout")
        images = platform_layouts(lay, base_layers)
        repo, dummy, tag = repo_tag.rpartition(":")
        ref = f"{registry_host}/{repo_tag}"
        entries = []
        for plat, img in images.items():
            parts = plat.split("/")
            desc = {k: v for k, v in img.descriptor().items() if k != "annotations"}
            desc["platform"] = {"architecture": parts[1], "os": parts[0]}
            if len(parts) > 2:
                desc["platform"]["variant"] = parts[2]
            entries.append(desc)
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        raw = json.dumps(index, separators=(",", ":")).encode()
        _set_tag(lay, tag, {"mediaType": OCI_INDEX, "digest": _put_blob(lay, raw), "size": len(raw)})
        argv = ["skopeo", "--insecure-policy", "copy", "--quiet", "--all", "--format", fmt,
                *_skopeo_dest_args(creds), f"oci:{lay}:{tag}", f"docker://{ref}"]
        try:
            with tempfile.NamedTemporaryFile(prefix="berth-digest-") as df:
                run([*argv[:4], "--digestfile", df.name, *argv[4:]])
                with open(df.name) as fh:
                    digest = fh.read().strip()
        except RuntimeError:
            if fmt == "oci":
                raise
            return _push_list_by_hand(images, registry_host, repo, tag, creds)
        # the registry's copy of the list/index tells the per-platform digests (converted for v2s2)
        _s, _h, body = _http(registry_host, "GET", f"/v2/{repo}/manifests/{digest}", None,
                             {"Accept": f"{OCI_INDEX}, {DOCKER_LIST}"}, creds)
        doc = json.loads(body)
        manifests = {}
        for m in doc["manifests"]:
            pl = m.get("platform") or {}
            key = "/".join(x for x in (pl.get("os"), pl.get("architecture"), pl.get("variant")) if x)
            manifests[key] = m["digest"]
        return Pushed(ref, digest, doc.get("mediaType") or OCI_INDEX, manifests)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _push_list_by_hand(
    images: t.Mapping[str, OciLayout], registry_host: str, repo: str, tag: str, creds: tuple[str, str] | None,
) -> Pushed:
    """Fallback for a skopeo that cannot convert an index: push each platform as schema 2, PUT the list."""
    entries = []
    manifests = {}
    for plat, img in images.items():
        parts = plat.split("/")
        one = push(img, img.tag, registry_host, f"{repo}:{tag}-{parts[1]}", fmt="v2s2", creds=creds)
        size = _manifest_size(registry_host, repo, one.digest, creds)
        platform = {"architecture": parts[1], "os": parts[0]}
        if len(parts) > 2:
            platform["variant"] = parts[2]
        entries.append({"mediaType": DOCKER_MANIFEST, "digest": one.digest, "size": size, "platform": platform})
        manifests[plat] = one.digest
    mlist = {"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": entries}
    raw = json.dumps(mlist, indent=3).encode()
    _http(registry_host, "PUT", f"/v2/{repo}/manifests/{tag}", raw, {"Content-Type": DOCKER_LIST}, creds)
    return Pushed(f"{registry_host}/{repo}:{tag}", "sha256:" + hashlib.sha256(raw).hexdigest(), DOCKER_LIST,
                  manifests)


def _manifest_size(host: str, repo: str, digest: str, creds: tuple[str, str] | None) -> int:
    _status, _headers, body = _http(host, "GET", f"/v2/{repo}/manifests/{digest}", None,
                                    {"Accept": DOCKER_MANIFEST}, creds)
    return len(body)


def _http(
    host: str,
    method: str,
    path: str,
    body: bytes | None,
    headers: t.Mapping[str, str],
    creds: tuple[str, str] | None,
) -> tuple[int, dict[str, str], bytes]:
    """A request to a test registry: HTTPS without verification first, then plain HTTP."""
    import base64
    import http.client
    import ssl

    hdrs = dict(headers)
    if creds:
        hdrs["Authorization"] = "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    last: Exception | None = None
    conns = (http.client.HTTPSConnection(host, timeout=10, context=ctx), http.client.HTTPConnection(host, timeout=10))
    for conn in conns:
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
        except (ssl.SSLError, ConnectionError, http.client.HTTPException) as exc:
            last = exc
            continue
        finally:
            conn.close()
        if resp.status >= 300:
            raise RuntimeError(f"{method} {host}{path}: {resp.status} {data[:300]!r}")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    raise RuntimeError(f"{method} {host}{path}: {last}")


def skopeo_inspect_raw(ref: str, creds: tuple[str, str] | None = None) -> bytes:
    """The manifest bytes as skopeo sees them (``skopeo inspect --raw``), for cross-checking."""
    argv = ["skopeo", "inspect", "--raw", "--tls-verify=false"]
    if creds:
        argv.append(f"--creds={creds[0]}:{creds[1]}")
    return t.cast(bytes, run([*argv, f"docker://{ref}"]).stdout)


__all__ = [
    "OciLayout", "PLATFORM_FILE", "Pushed", "busybox_rootfs", "make_oci_layout", "platform_layouts", "push",
    "push_index", "random_layer_files", "skopeo_inspect_raw", "write_files",
]


def zstd_variant(layout: OciLayout, tag: str) -> OciLayout:
    """The image *layout* again under *tag*, with every layer recompressed as ``tar+zstd`` (by the ``zstd``
    command); config and diff IDs unchanged."""
    import gzip

    require_tools("zstd", why="building zstd-compressed test images")
    manifest = layout.manifest
    for desc in manifest["layers"]:
        plain = layout.blob(desc["digest"])
        if plain[:2] == b"\x1f\x8b":
            plain = gzip.decompress(plain)
        packed = subprocess.run(["zstd", "-q", "-c", "-3"], input=plain, stdout=subprocess.PIPE, check=True).stdout
        desc.update(mediaType=OCI_LAYER_ZSTD, digest=_put_blob(layout.path, packed), size=len(packed))
    man_raw = json.dumps(manifest, separators=(",", ":")).encode()
    _set_tag(layout.path, tag, {"mediaType": OCI_MANIFEST, "digest": _put_blob(layout.path, man_raw),
                                "size": len(man_raw)})
    return OciLayout(layout.path, tag)
