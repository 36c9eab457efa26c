# SPDX-License-Identifier: GPL-3.0-or-later
"""The registry side of the image service: logins, pulls and pushes (:class:`RegistryOps`, a mixin of
``ImageService``: the store and the registry client meet only in ``services/``)."""
from __future__ import annotations

import dataclasses
import typing as t

from ..config.daemon import DaemonConfig
from ..core import events, oci
from ..core.digest import Digest, sha256_bytes
from ..errors import EngineError, InvalidOption, ManifestUnknown, RegistryError, StoreError
from ..store.images import ImageRecord, ImageStore, LayerRef
from ..core.reference import (
    ImageReference,
    familiar,
    format_platform,
    host_platform,
    image_platform,
    parse_platform,
    platform_mismatch,
)

if t.TYPE_CHECKING:
    from ..registry.client import RegistryClient

ImageUsers = t.Callable[[str], t.List[str]]


@dataclasses.dataclass(frozen=True)
class PullResult:
    image_id: str
    reference: str  # normalised, e.g. docker.io/library/busybox:latest
    repo_digest: str | None  # repo@sha256:... of what the tag pointed at
    changed: bool
    #: what the user should know but did not stop the pull (e.g. an image for another platform)
    warnings: tuple[str, ...] = ()

    @property
    def familiar(self) -> str:
        """The reference as docker prints it (``busybox:latest``)."""
        return familiar(self.reference)


@dataclasses.dataclass(frozen=True)
class PushResult:
    reference: str  # normalised target, e.g. 127.0.0.1:5000/library/busybox:latest
    image_id: str
    digest: str  # the manifest's digest in the registry
    size: int  # the manifest's size
    #: (blob digest, what happened: ``exists``, ``mounted`` or ``pushed``), config first; empty in a dry run
    blobs: tuple[tuple[str, str], ...]
    changed: bool  # the tag in the registry did not point at this manifest before

    @property
    def familiar(self) -> str:
        return familiar(self.reference)


class RegistryOps:
    """Logins and pulls; ``ImageService`` supplies ``store``, ``config``, ``_registry``,
    ``_registry_factory``."""

    store: ImageStore
    config: DaemonConfig
    _registry: RegistryClient | None
    _registry_factory: t.Callable[[], "RegistryClient"] | None

    # ------------------------------------------------------------------ helpers
    def registry(self) -> "RegistryClient":
        if self._registry is None:
            if self._registry_factory is not None:
                self._registry = self._registry_factory()
            else:
                from ..registry.auth import Credentials
                from ..registry.client import RegistryClient

                self._registry = RegistryClient(self.config, Credentials.load(self.config.auth_path))
        return self._registry

    def _record_and_config(self, image_id: str) -> tuple[ImageRecord, dict[str, t.Any]]:
        return self.store.get(image_id), self.store.verified_config(image_id)

    def _config_or_damage(self, image_id: str) -> tuple[dict[str, t.Any], str | None]:
        """(config, None), or ({}, what is wrong) for an image whose config is damaged or missing: one such
        image must not break a listing of all of them."""
        try:
            return self.store.verified_config(image_id), None
        except StoreError as exc:
            return {}, str(exc)

    # ------------------------------------------------------------------ logins
    def login(self, server: str | None, username: str, password: str) -> str:
        """``docker login``: check the credentials against *server* (Docker Hub when None), then store them
        in the credentials file (``auth.json`` beside the configuration, mode 0600). Returns the host."""
        host, _changed = self.ensure_login(server, username, password, reauthorize=True)
        return host

    def ensure_login(self, server: str | None, username: str, password: str, reauthorize: bool = False,
                     dry_run: bool = False) -> tuple[str, bool]:
        """The ``registry_login`` module: check the credentials against the registry's ``/v2/`` (a wrong
        password raises ``AuthError`` and stores nothing), then store them unless they are stored already
        (*reauthorize* stores them again all the same; *dry_run* stores nothing). Returns (host, whether the
        stored credentials change)."""
        from ..registry.auth import Credentials, Login

        host = self._login_host(server)
        if not username:
            raise InvalidOption("username", username, "must not be empty")
        if not password:
            raise InvalidOption("password", "", "must not be empty")
        stored = Credentials.load(self.config.auth_path).get(host)
        same = stored == Login(username, password)
        self.registry().check_login(host, username, password)
        if (same and not reauthorize) or dry_run:
            return host, not same
        with Credentials.update(self.config.auth_path) as creds:
            creds.set(host, username, password)
        self._forget_registry()
        return host, not same

    def logout(self, server: str | None, dry_run: bool = False) -> tuple[str, bool]:
        """``docker logout``: drop the stored credentials for *server*; (host, whether there were any)."""
        from ..registry.auth import Credentials

        host = self._login_host(server)
        if dry_run:
            return host, Credentials.load(self.config.auth_path).get(host) is not None
        with Credentials.update(self.config.auth_path) as creds:
            removed = creds.remove(host)
        if removed:
            self._forget_registry()
        return host, removed

    def stored_login(self, server: str | None) -> tuple[str, str | None]:
        """(host, the user name stored for it or None): never the password."""
        from ..registry.auth import Credentials

        host = self._login_host(server)
        login = Credentials.load(self.config.auth_path).get(host)
        return host, login.username if login else None

    @staticmethod
    def _login_host(server: str | None) -> str:
        from ..registry.auth import normalize_host

        host = normalize_host(server or "docker.io")
        if not host:
            raise InvalidOption("server", server, "give a registry host[:port]")
        return host

    def _forget_registry(self) -> None:
        """The next registry call reads the credentials file again."""
        if self._registry is not None:
            self._registry.close()
            self._registry = None

    # ------------------------------------------------------------------ pull
    def _resolve_remote(
        self, ref: ImageReference, platform: t.Mapping[str, str]
    ) -> tuple[str, oci.ImageManifest, bytes, str]:
        """(repo digest, platform manifest, manifest bytes, manifest media type) as the registry has them."""
        client = self.registry()
        top = client.fetch_manifest(ref)
        try:
            parsed = oci.parse_manifest(top.raw, top.media_type, what=f"manifest {ref}")
        except oci.FormatError as exc:
            raise RegistryError(ref.api_host, str(exc), ref.path, top.digest) from None
        raw, media_type = top.raw, top.media_type
        if isinstance(parsed, oci.ImageIndex):
            try:
                desc = oci.select_platform(parsed, platform, what=f"image {ref.familiar}")
            except oci.FormatError as exc:
                raise RegistryError(ref.api_host, str(exc), ref.path, top.digest) from None
            sub = client.fetch_manifest(ref, desc.digest)
            try:
                parsed = oci.parse_manifest(sub.raw, sub.media_type, what=f"manifest {desc.digest}")
            except oci.FormatError as exc:
                raise RegistryError(ref.api_host, str(exc), ref.path, desc.digest) from None
            if not isinstance(parsed, oci.ImageManifest):
                raise RegistryError(ref.api_host, "nested image index is not supported", ref.path, desc.digest)
            raw, media_type = sub.raw, sub.media_type
        return top.digest, parsed, raw, oci.detect_media_type(raw, media_type)

    @staticmethod
    def default_platform() -> str:
        """``os/arch[/variant]`` that pull, import and load use when no platform is given: this host's."""
        return format_platform(host_platform())

    def remote_digest(self, name: str, platform: str | None = None) -> tuple[str, str]:
        """(``repo@digest``, image ID) that a pull of *name* would produce now; downloads no layer."""
        ref = ImageReference.parse(name)
        plat = parse_platform(platform) if platform else host_platform()
        repo_digest, manifest, _raw, _mt = self._resolve_remote(ref, plat)
        return f"{ref.repository}@{repo_digest}", manifest.config.digest

    def pull(
        self, name: str, platform: str | None = None, on_event: events.Callback = events.ignore
    ) -> PullResult:
        ref = ImageReference.parse(name)
        plat = parse_platform(platform) if platform else host_platform()
        self.store.ensure()
        with self.store.gc_lock(shared=True):
            repo_digest = None
            # A pull by digest we already have needs no request at all.
            if ref.digest:
                known = self.store.lookup(str(ref))
                if known and self.store.complete(known):
                    on_event(events.Event("image.done", ref.familiar, message="up to date"))
                    return PullResult(known, str(ref), f"{ref.repository}@{ref.digest}", False)
            repo_digest, manifest, manifest_raw, manifest_mt = self._resolve_remote(ref, plat)
            on_event(events.Event("resolve", ref.digest or ref.tag or "latest", message=f"Pulling from {ref.path}"))
            image_id = manifest.config.digest
            created = False
            warnings: list[str] = []
            if not self.store.complete(image_id):
                repair = self.store.has(image_id)  # recorded, but content is missing or damaged
                created = self._download(ref, manifest, manifest_raw, manifest_mt, plat, platform is not None,
                                         warnings, on_event) or repair
            else:
                for desc in manifest.layers:
                    on_event(events.Event("layer.exists", Digest(desc.digest).short, desc.size, desc.size))
            tags = [ref.tagged] if ref.tagged and not ref.digest else []
            digests = [f"{ref.repository}@{repo_digest}"]
            moved = self.store.set_refs(image_id, tags, digests)
        changed = created or bool(moved)
        on_event(events.Event("image.done", ref.familiar, message="downloaded" if changed else "up to date"))
        return PullResult(image_id, str(ref), f"{ref.repository}@{repo_digest}", changed, tuple(warnings))

    def _download(
        self,
        ref: ImageReference,
        manifest: oci.ImageManifest,
        manifest_raw: bytes,
        manifest_mt: str,
        plat: t.Mapping[str, str],
        explicit: bool,
        warnings: list[str],
        on_event: events.Callback,
    ) -> bool:
        client = self.registry()
        image_id = manifest.config.digest
        if self.store.blobs.has(image_id) and self.store.blobs.damage(image_id) is None:
            config_raw = self.store.blobs.read(image_id)
        else:
            config_raw = client.fetch_blob(ref, manifest.config)  # verified; replaces a damaged copy
        try:
            config = oci.parse_config(config_raw, what=f"image config {image_id}")
        except oci.FormatError as exc:
            raise RegistryError(ref.api_host, str(exc), ref.path, image_id) from None
        warning = self._check_platform(ref, config, plat, explicit)
        if warning:
            warnings.append(warning)
            on_event(events.Event("warning", ref.familiar, message=warning))
        diff_ids = config["rootfs"]["diff_ids"]
        if len(diff_ids) != len(manifest.layers):
            raise RegistryError(
                ref.api_host,
                f"manifest lists {len(manifest.layers)} layers but the config has {len(diff_ids)} diff IDs",
                ref.path,
                image_id,
            )
        for desc in manifest.layers:
            if desc.media_type and desc.media_type not in oci.LAYER_TYPES:
                raise RegistryError(ref.api_host, f"unsupported layer media type {desc.media_type!r}", ref.path, desc.digest)
        layer_refs = self._fetch_layers(ref, manifest.layers, diff_ids, on_event)
        _image, created = self.store.commit(config_raw, layer_refs, manifest_raw, manifest_mt)
        return created

    @staticmethod
    def _check_platform(
        ref: ImageReference, config: t.Mapping[str, t.Any], plat: t.Mapping[str, str], explicit: bool
    ) -> str | None:
        """Docker's rule for a single-platform image: for another architecture it is an error when the
        platform was asked for, and a warning (returned) when the host's platform was assumed."""
        warning = platform_mismatch(config, plat)
        if warning and explicit:
            raise RegistryError(
                ref.api_host, f"image is for {image_platform(config)}, not the requested platform "
                f"{format_platform(plat)}", ref.path,
            )
        return warning

    def _fetch_layers(
        self,
        ref: ImageReference,
        descs: t.Sequence[oci.Descriptor],
        diff_ids: t.Sequence[str],
        on_event: events.Callback,
    ) -> list[LayerRef]:
        """Download, verify and unpack the missing layers, in parallel."""
        client = self.registry()
        layers = self.store.layers
        results: dict[int, LayerRef] = {}
        todo = []
        for i, (desc, diff_id) in enumerate(zip(descs, diff_ids)):
            short = Digest(desc.digest).short
            if layers.has(diff_id) and self.store.blobs.has(desc.digest):
                results[i] = LayerRef(diff_id, desc.digest, desc.media_type, desc.size)
                on_event(events.Event("layer.exists", short, desc.size, desc.size))
            else:
                todo.append(i)
                on_event(events.Event("layer.waiting", short, 0, desc.size))

        def fetch(i: int) -> LayerRef:
            desc, diff_id = descs[i], diff_ids[i]
            short = Digest(desc.digest).short

            def progress(n: int) -> None:
                on_event(events.Event("layer.download", short, n, desc.size))

            info = layers.fetch(  # resumes what a killed pull of this blob downloaded
                lambda offset: client.open_blob(ref, desc, offset),
                media_type=desc.media_type,
                blob_digest=desc.digest,
                diff_id=diff_id,
                blob_size=desc.size,
                progress=progress,
            )
            on_event(events.Event("layer.done", short, desc.size, desc.size))
            return LayerRef(info.diff_id, info.blob or desc.digest, desc.media_type, desc.size)

        workers = max(1, min(self.config.max_concurrent_downloads, len(todo)))
        if workers == 1:
            for i in todo:
                results[i] = fetch(i)
        elif todo:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="berth-pull") as pool:
                futures = {i: pool.submit(fetch, i) for i in todo}
                errors = []
                for i, fut in futures.items():
                    try:
                        results[i] = fut.result()
                    except BaseException as exc:  # keep waiting for the others, then raise the first
                        errors.append(exc)
                if errors:
                    raise errors[0]
        return [results[i] for i in range(len(descs))]

    # ------------------------------------------------------------------ push
    def push(self, name: str, on_event: events.Callback = events.ignore, dry_run: bool = False,
             image_id: str | None = None) -> PushResult:
        """``docker push``: the blobs the registry lacks (HEAD first; a mount from another repository of
        the same registry when one has the blob), up to ``max-concurrent-uploads`` at a time, then the
        manifest. *dry_run* only asks the registry which manifest the tag has (check mode), for the image
        *name* points at, or *image_id* (a tag that check mode has not made yet)."""
        ref = ImageReference.parse(name)
        if ref.digest:
            raise InvalidOption("name", name, "push a tag, not a digest reference")
        tag = ref.tag or "latest"
        if image_id is None or not dry_run:
            image_id = self.store.require(str(ref) if ref.tag else f"{ref.repository}:{tag}")
        client = self.registry()
        with self.store.gc_lock(shared=True):
            raw, media_type, descs = self._push_manifest(image_id)
            digest = str(sha256_bytes(raw))
            try:
                before: str | None = client.origin_manifest_digest(ref, tag)
            except ManifestUnknown:
                before = None
            result = PushResult(f"{ref.repository}:{tag}", image_id, digest, len(raw), (), before != digest)
            if dry_run:
                return result
            on_event(events.Event("resolve", tag, message=f"The push refers to repository [{ref.repository}]"))
            done = self._push_blobs(ref, descs, on_event)
            pushed = client.put_manifest(ref, tag, raw, media_type)
            self.store.set_refs(image_id, [], [f"{ref.repository}@{pushed}"])
        on_event(events.Event("image.done", ref.familiar, message=f"{tag}: digest: {pushed} size: {len(raw)}"))
        return dataclasses.replace(result, blobs=tuple(done))

    def _push_manifest(self, image_id: str) -> tuple[bytes, str, list[oci.Descriptor]]:
        """(manifest, media type, [config, layers...]): the manifest the image was pulled with, when the
        store has it, else an OCI manifest over the stored blobs."""
        from ..store.archive.save import oci_manifest

        rec = self.store.get(image_id)
        if rec.manifest_digest and rec.manifest_media_type and self.store.blobs.has(rec.manifest_digest):
            raw = self.store.blobs.read_verified(rec.manifest_digest, what="manifest")
            try:
                parsed = oci.parse_manifest(raw, rec.manifest_media_type)
            except oci.FormatError:
                parsed = None
            if isinstance(parsed, oci.ImageManifest) and parsed.config.digest == image_id:
                return raw, rec.manifest_media_type, [parsed.config, *parsed.layers]
        config = self.store.config_bytes(image_id)
        raw, layers = oci_manifest(self.store, rec, config)
        return raw, oci.OCI_MANIFEST, [oci.Descriptor(oci.OCI_CONFIG, image_id, len(config)), *layers]

    def _mount_sources(self, ref: ImageReference) -> dict[str, list[str]]:
        """blob digest -> other repositories of *ref*'s registry that have it (their images were pulled
        from or pushed there), for cross-repository mounts."""
        repos = self.store.repositories()
        out: dict[str, list[str]] = {}
        for name, image_id in [*repos.tags.items(), *repos.digests.items()]:
            try:
                other = ImageReference.parse(name)
            except EngineError:
                continue
            if other.domain != ref.domain or other.path == ref.path or not self.store.has(image_id):
                continue
            rec = self.store.get(image_id)
            for blob in [image_id, *(x.blob for x in rec.layers if x.blob)]:
                if other.path not in out.setdefault(blob, []):
                    out[blob].append(other.path)
        return out

    def _push_blobs(self, ref: ImageReference, descs: t.Sequence[oci.Descriptor],
                    on_event: events.Callback) -> list[tuple[str, str]]:
        client = self.registry()
        sources = self._mount_sources(ref)
        for desc in descs:
            if not self.store.blobs.has(desc.digest):
                raise StoreError(f"blob {desc.digest} of the image is not in the store (it was imported without "
                                 f"it); pull or load the image again to push it")
        layer_digests = {d.digest for d in descs[1:]}

        def push(desc: oci.Descriptor) -> tuple[str, str]:
            short = Digest(desc.digest).short
            layer = desc.digest in layer_digests

            def progress(n: int) -> None:
                if layer:
                    on_event(events.Event("layer.upload", short, n, desc.size))

            how = client.push_blob(ref, desc, lambda: self.store.blobs.open(desc.digest),
                                   mount_from=sources.get(desc.digest, ()), progress=progress)
            if layer:
                kind = {"exists": "layer.exists", "mounted": "layer.mounted"}.get(how, "layer.done")
                message = f"Mounted from {sources[desc.digest][0]}" if how == "mounted" else ""
                on_event(events.Event(kind, short, desc.size, desc.size, message))
            return desc.digest, how

        for desc in descs[1:]:
            on_event(events.Event("layer.waiting", Digest(desc.digest).short, 0, desc.size))
        workers = max(1, min(self.config.max_concurrent_uploads, len(descs)))
        if workers == 1:
            return [push(d) for d in descs]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="berth-push") as pool:
            futures = [pool.submit(push, d) for d in descs]
            results, errors = [], []
            for fut in futures:
                try:
                    results.append(fut.result())
                except BaseException as exc:  # keep waiting for the others, then raise the first
                    errors.append(exc)
            if errors:
                raise errors[0]
        return results
