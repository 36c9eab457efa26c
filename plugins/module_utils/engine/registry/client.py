# SPDX-License-Identifier: GPL-3.0-or-later
"""OCI distribution client: manifests by tag or digest, verified small blobs, resumable blob streams; push.

    client = RegistryClient(config, Credentials.load(config.auth_path))
    m = client.fetch_manifest(ref)                  # FetchedManifest(raw, media_type, digest, endpoint)
    cfg = client.fetch_blob(ref, manifest.config)   # verified bytes
    with client.open_blob(ref, layer) as stream:    # .read(n); resumes with Range; never past desc.size
        ...
    client.push_blob(ref, desc, opener, mount_from=["library/other"])  # HEAD, mount, or upload
    client.put_manifest(ref, "latest", raw, media_type)

Push (the distribution spec's order): ``HEAD`` the blob first and upload only what is missing; a blob
another repository of the same registry has is mounted (``POST ?mount=&from=``) instead of uploaded;
a blob up to ``upload_chunk_size`` goes in one ``PUT`` (monolithic), a larger one in ``PATCH`` chunks
with ``Content-Range``, then the closing ``PUT ?digest=``. A failed upload starts again from ``POST``
(up to ``max-download-attempts`` attempts). Manifests go last.

Endpoints: a ``docker.io`` reference tries each of ``registry-mirrors`` in order (any error or 404 falls
through) and then ``registry-1.docker.io``; blobs come from the endpoint that served the manifest, with
the origin as fallback. Requests that fail on the network, time out or get 408/429/5xx are retried up to
``max-download-attempts`` times with exponential backoff (at an origin; a mirror gets one attempt).
The client never writes to the store and never logs.
"""
from __future__ import annotations

import dataclasses
import threading
import time
import typing as t

from ..core import oci
from ..core.digest import hasher, sha256_bytes
from ..errors import (
    AuthError,
    DigestMismatch,
    EngineError,
    ManifestUnknown,
    RegistryError,
    StoreError,
    UnsupportedManifest,
)
from .auth import Authenticator, Credentials, Login, login_hint, repository_scope
from .transport import RETRY_STATUSES, Endpoint, Response, Transport, TransportError

if t.TYPE_CHECKING:
    from ..config.daemon import DaemonConfig
    from ..core.reference import ImageReference

#: containerd refuses manifests larger than this; so do we.
MAX_MANIFEST_SIZE = 4 << 20
BACKOFF_CAP = 3.0
#: Blobs up to this size are uploaded in one PUT; larger ones in PATCH chunks of this size.
UPLOAD_CHUNK_SIZE = 32 << 20
_DOCKER_HUB = "docker.io"
_DOCKER_HUB_API = "registry-1.docker.io"
_T = t.TypeVar("_T")


@dataclasses.dataclass(frozen=True)
class FetchedManifest:
    raw: bytes
    media_type: str
    digest: str
    endpoint: str  # e.g. "https://registry-1.docker.io" or "http://127.0.0.1:5000" (a mirror)


class RegistryClient:
    """Pull-side registry client; safe to share between threads."""

    def __init__(
        self,
        config: "DaemonConfig",
        credentials: Credentials | None = None,
        timeout: float = 30.0,
        user_agent: str = "berth/0.1",
        *,
        backoff: float = 0.2,
        sleep: t.Callable[[float], None] = time.sleep,
        upload_chunk_size: int = UPLOAD_CHUNK_SIZE,
        docker_hub: str = _DOCKER_HUB_API,
    ) -> None:
        self.config = config
        self.credentials = credentials if credentials is not None else Credentials()
        self.transport = Transport(config, timeout=timeout, user_agent=user_agent)
        self.auth = Authenticator(self.credentials, self.transport)
        self.attempts = max(1, config.max_download_attempts)
        self.upload_chunk_size = upload_chunk_size
        self.docker_hub = docker_hub  # Docker Hub's API host (a test points it at a local registry)
        self.backoff = backoff
        self._sleep = sleep
        self._served: dict[tuple[str, str], Endpoint] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> "RegistryClient":
        return self

    def __exit__(self, *exc: t.Any) -> None:
        self.close()

    # ------------------------------------------------------------------ endpoints
    def endpoints(self, ref: "ImageReference") -> list[Endpoint]:
        """Mirrors first (Docker Hub references only), then the origin."""
        if ref.domain == _DOCKER_HUB:
            eps = [Endpoint.from_url(m.rstrip("/"), mirror=True) for m in self.config.registry_mirrors]
            return eps + [Endpoint(self.docker_hub)]
        return [Endpoint(ref.domain)]

    def _origin(self, ref: "ImageReference") -> Endpoint:
        return Endpoint(self.docker_hub if ref.domain == _DOCKER_HUB else ref.domain)

    @staticmethod
    def _cred_host(ep: Endpoint, ref: "ImageReference") -> str:
        # Docker Hub's origin uses the docker.io login; a mirror only gets a login stored for its own host.
        return _DOCKER_HUB if (not ep.mirror and ref.domain == _DOCKER_HUB) else ep.host

    @staticmethod
    def _registry_name(ep: Endpoint, ref: "ImageReference") -> str:
        if ep.mirror:
            return f"{ep.host} (mirror of {ref.domain})"
        return ref.domain

    # ------------------------------------------------------------------ one request, with auth and retries
    def _request(
        self,
        ep: Endpoint,
        ref: "ImageReference",
        method: str,
        path: str,
        headers: t.Mapping[str, str] | None = None,
        what: str | None = None,
        attempts: int | None = None,
        body: t.Callable[[], t.Any] | None = None,
        push: bool = False,
        url: str | None = None,
    ) -> Response:
        """Send with authorization, answer one 401 challenge, retry network errors and 408/429/5xx.

        *body* makes the request body, afresh for each attempt; *push* asks for ``pull,push`` access;
        *url* is an absolute URL on *ep* (an upload location) instead of *path*.
        Returns the response for any other status (the caller reads and closes it).
        """
        registry = self._registry_name(ep, ref)
        scope = repository_scope(ref.path, "pull,push" if push else "pull")
        cred_host = self._cred_host(ep, ref)
        attempts = attempts or (1 if ep.mirror else self.attempts)
        last_reason = ""
        answered = False
        n = 0
        while True:
            hdrs = dict(headers or {})
            auth = self.auth.cached_header(ep.host, scope, cred_host)
            if auth:
                hdrs["Authorization"] = auth
            try:
                data = body() if body is not None else None
                if url is not None:
                    resp = self.transport.request_url(method, url, hdrs, body=data)
                else:
                    resp = self.transport.request(ep, method, path, hdrs, body=data)
            except TransportError as exc:
                n += 1
                if not exc.retryable or n >= attempts:
                    reason = exc.reason if n == 1 else f"{exc.reason} (gave up after {n} attempts)"
                    raise RegistryError(registry, reason, *_where(ref, what)) from None
                last_reason = exc.reason
                self._sleep(self._delay(n))
                continue
            if resp.status in (401, 403) and resp.host != ep.host:
                # a redirect target (blob storage, a CDN) refused us: registry credentials cannot help there
                resp.close()
                raise RegistryError(registry, f"the storage at {resp.host} that the registry redirected to "
                                              f"refused the request (HTTP {resp.status})", *_where(ref, what),
                                    status=resp.status)
            if resp.status == 401:
                resp.close()
                if answered:
                    raise self._denied(registry, ref, cred_host, what, 401)
                self.auth.forget(ep.host, scope)
                self.auth.answer(resp, ep.host, scope, cred_host, registry, ref.path)
                answered = True
                continue
            if resp.status == 403:
                resp.close()
                raise self._denied(registry, ref, cred_host, what, 403)
            if resp.status in RETRY_STATUSES:
                n += 1
                last_reason = f"HTTP {resp.status} {resp.reason}".strip()
                retry_after = _retry_after(resp.header("Retry-After"))
                resp.close()
                if n >= attempts:
                    suffix = f" (gave up after {n} attempts)" if n > 1 else ""
                    raise RegistryError(registry, f"{last_reason}{suffix}", *_where(ref, what), status=resp.status)
                self._sleep(max(self._delay(n), min(retry_after or 0.0, BACKOFF_CAP)))
                continue
            return resp

    def _delay(self, n: int) -> float:
        return float(min(self.backoff * (2 ** (n - 1)), BACKOFF_CAP))

    def _denied(self, registry: str, ref: "ImageReference", cred_host: str, what: str | None,
                status: int) -> AuthError:
        login = self.credentials.get(cred_host)
        if login is None:
            verb = "push" if what == "push" else "pull"
            reason = (f"{verb} access denied: authentication required, or the repository does not exist; "
                      + login_hint(cred_host, self.credentials.path))
        elif status == 403:
            reason = f"access denied for user {login.username!r}"
        else:
            reason = f"the credentials for user {login.username!r} were rejected"
        return AuthError(registry, reason, *_where(ref, what), status=status)

    # ------------------------------------------------------------------ manifests
    def fetch_manifest(self, ref: "ImageReference", reference: str | None = None) -> FetchedManifest:
        """GET the manifest or index for *reference* (tag or digest; default ``ref.remote_ref``), verified."""
        reference = reference or ref.remote_ref
        return self._over_endpoints(ref, lambda ep: self._fetch_manifest_from(ep, ref, reference))

    def head_manifest(self, ref: "ImageReference", reference: str | None = None) -> str:
        """The digest the registry has for *reference* now (HEAD; GET when it sends no digest)."""
        reference = reference or ref.remote_ref
        return self._over_endpoints(ref, lambda ep: self._head_manifest_from(ep, ref, reference))

    def _over_endpoints(self, ref: "ImageReference", fn: t.Callable[[Endpoint], _T]) -> _T:
        eps = self.endpoints(ref)
        for ep in eps[:-1]:
            try:
                return fn(ep)
            except EngineError:
                continue  # a mirror that fails or lacks the image: fall through to the next one
        return fn(eps[-1])

    def _manifest_path(self, ref: "ImageReference", reference: str) -> str:
        return f"/v2/{ref.path}/manifests/{reference}"

    def _unknown(self, ep: Endpoint, ref: "ImageReference", reference: str,
                 status: int | None = None) -> ManifestUnknown:
        registry = self._registry_name(ep, ref)
        if ":" in reference:  # a digest (tags cannot contain ':')
            return ManifestUnknown(registry, "manifest unknown", ref.path, reference, status=status)
        return ManifestUnknown(registry, f"manifest unknown: no tag {reference!r}", ref.path, status=status)

    def _unexpected(self, ep: Endpoint, ref: "ImageReference", what: str, resp: Response, body: bytes) -> RegistryError:
        detail = _error_detail(body)
        reason = f"unexpected HTTP {resp.status} {resp.reason}".rstrip()
        if detail:
            reason += f": {detail}"
        return RegistryError(self._registry_name(ep, ref), reason, *_where(ref, what), status=resp.status)

    def _fetch_manifest_from(self, ep: Endpoint, ref: "ImageReference", reference: str) -> FetchedManifest:
        registry = self._registry_name(ep, ref)
        resp = self._request(ep, ref, "GET", self._manifest_path(ref, reference), {"Accept": oci.ACCEPT},
                             what=reference)
        try:
            try:
                body = resp.read_limited(MAX_MANIFEST_SIZE, "manifest")
            except TransportError as exc:
                raise RegistryError(registry, exc.reason, *_where(ref, reference)) from None
            if resp.status == 404:
                raise self._unknown(ep, ref, reference, 404)
            if resp.status != 200:
                raise self._unexpected(ep, ref, reference, resp, body)
            header_mt = (resp.header("Content-Type") or "").split(";", 1)[0].strip()
            scheme = resp.scheme if resp.host == ep.host else (ep.scheme or "https")
            docker_digest = (resp.header("Docker-Content-Digest") or "").strip()
        finally:
            resp.close()
        media_type = oci.detect_media_type(body, header_mt)
        if media_type in oci.SCHEMA1_TYPES or header_mt in oci.SCHEMA1_TYPES:
            raise UnsupportedManifest(
                registry,
                "the image uses Docker manifest schema 1, which is deprecated and not supported; "
                "push it again with a current client (schema 2 or OCI)",
                ref.path, reference,
            )
        what = f"manifest {ref.domain}/{ref.path}@{reference}" if ":" in reference else \
            f"manifest {ref.domain}/{ref.path}:{reference}"
        if _is_digest_ref(reference):
            digest = reference
            _verify(what, reference, body)
        else:
            digest = str(sha256_bytes(body))
            if docker_digest and _is_digest_ref(docker_digest):
                _verify(what + " (Docker-Content-Digest)", docker_digest, body)
        with self._lock:
            self._served[(ref.domain, ref.path)] = ep
        return FetchedManifest(body, media_type, digest, f"{scheme}://{ep.host}")

    def _head_manifest_from(self, ep: Endpoint, ref: "ImageReference", reference: str) -> str:
        resp = self._request(ep, ref, "HEAD", self._manifest_path(ref, reference), {"Accept": oci.ACCEPT},
                             what=reference)
        try:
            status = resp.status
            digest = (resp.header("Docker-Content-Digest") or "").strip()
        finally:
            resp.close()
        if status == 404:
            raise self._unknown(ep, ref, reference, 404)
        if status == 200 and _is_digest_ref(digest):
            if _is_digest_ref(reference) and digest != reference:
                raise DigestMismatch(f"manifest {ref.domain}/{ref.path}@{reference}", reference, digest)
            with self._lock:
                self._served[(ref.domain, ref.path)] = ep
            return digest
        # No digest header (some registries), or an odd status: GET tells us for sure.
        return self._fetch_manifest_from(ep, ref, reference).digest

    # ------------------------------------------------------------------ blobs
    def blob_endpoints(self, ref: "ImageReference") -> list[Endpoint]:
        with self._lock:
            served = self._served.get((ref.domain, ref.path))
        origin = self._origin(ref)
        if served is None or served == origin:
            return [origin]
        return [served, origin]

    def fetch_blob(self, ref: "ImageReference", desc: oci.Descriptor, max_size: int = 64 << 20) -> bytes:
        """A small blob (an image config), read whole and verified against *desc*."""
        if desc.size > max_size:
            raise RegistryError(ref.domain, f"blob is too large to fetch into memory ({desc.size} bytes, "
                                            f"limit {max_size})", ref.path, desc.digest)
        stream = self.open_blob(ref, desc)
        try:
            chunks = []
            while True:
                chunk = stream.read(1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            stream.close()
        data = b"".join(chunks)
        _verify(f"blob {ref.domain}/{ref.path}@{desc.digest}", desc.digest, data)
        return data

    def open_blob(self, ref: "ImageReference", desc: oci.Descriptor, offset: int = 0) -> "BlobStream":
        """A reader of the blob from *offset*; resumes with ``Range`` after errors; does not verify."""
        stream = BlobStream(self, ref, desc, self.blob_endpoints(ref), offset)
        stream._open()
        return stream

    # ------------------------------------------------------------------ ping
    def ping(self, host: str) -> None:
        """Check that *host* (``name[:port]``, or ``docker.io``) speaks the registry API (200 or 401 on /v2/)."""
        ep = Endpoint(self.docker_hub if host == _DOCKER_HUB else host)
        n = 0
        while True:
            try:
                resp = self.transport.request(ep, "GET", "/v2/")
            except TransportError as exc:
                n += 1
                if exc.retryable and n < self.attempts:
                    self._sleep(self._delay(n))
                    continue
                raise RegistryError(host, exc.reason) from None
            status = resp.status
            resp.close()
            if status in RETRY_STATUSES:
                n += 1
                if n < self.attempts:
                    self._sleep(self._delay(n))
                    continue
            if status in (200, 401):
                return
            raise RegistryError(host, f"/v2/ answered HTTP {status}: not a registry (or not the v2 API)",
                                status=status)

    def check_login(self, host: str, username: str, password: str) -> None:
        """What ``docker login`` checks: ``/v2/`` on *host* answers 200 with these credentials (Basic, or a
        token obtained with them); AuthError when they are rejected."""
        ep = Endpoint(self.docker_hub if host == _DOCKER_HUB else host)
        auth = Authenticator(Credentials({host: Login(username, password)}), self.transport)
        header: dict[str, str] = {}
        for _round in range(2):
            try:
                resp = self.transport.request(ep, "GET", "/v2/", header)
            except TransportError as exc:
                raise RegistryError(host, exc.reason) from None
            try:
                status = resp.status
                if status == 401 and not header:
                    header = {"Authorization": auth.answer(resp, ep.host, "", host, host, None)}
                    continue
            finally:
                resp.close()
            if status == 200:
                return
            if status in (401, 403):
                raise AuthError(host, f"the credentials for user {username!r} were rejected", status=status)
            raise RegistryError(host, f"/v2/ answered HTTP {status}: not a registry (or not the v2 API)",
                                status=status)
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ push
    def origin_manifest_digest(self, ref: "ImageReference", reference: str) -> str:
        """The digest *reference* has at the registry itself (never a mirror): what a push replaces.
        ManifestUnknown when it has none."""
        return self._head_manifest_from(self._origin(ref), ref, reference)

    def blob_exists(self, ref: "ImageReference", digest: str) -> bool:
        """``HEAD /v2/<name>/blobs/<digest>``: whether the repository has the blob."""
        ep = self._origin(ref)
        resp = self._request(ep, ref, "HEAD", f"/v2/{ref.path}/blobs/{digest}", what=digest, push=True)
        status = resp.status
        resp.close()
        if status == 200:
            return True
        if status == 404:
            return False
        raise RegistryError(ref.domain, f"unexpected HTTP {status} to HEAD of a blob", ref.path, digest, status=status)

    def push_blob(
        self,
        ref: "ImageReference",
        desc: oci.Descriptor,
        opener: t.Callable[[], t.BinaryIO],
        mount_from: t.Sequence[str] = (),
        progress: t.Callable[[int], None] | None = None,
    ) -> str:
        """Make sure the repository of *ref* has the blob *desc*; returns what was done: ``exists``,
        ``mounted`` (from one of *mount_from*, repositories of the same registry) or ``pushed``.

        *opener* opens the blob's content (called again for each attempt); *progress* gets bytes sent.
        """
        if self.blob_exists(ref, desc.digest):
            return "exists"
        ep = self._origin(ref)
        n = 0
        while True:
            try:
                location = self._start_upload(ep, ref, desc, mount_from)
                if location is None:
                    return "mounted"
                self._upload(ep, ref, desc, location, opener, progress)
                return "pushed"
            except RegistryError as exc:
                # a cut connection or a struggling server: the upload starts again from its POST (the
                # registry may have dropped the session); refusals (auth, a bad digest...) are final
                n += 1
                if isinstance(exc, AuthError) or exc.status not in (None, *RETRY_STATUSES) or n >= self.attempts:
                    if n > 1:
                        raise RegistryError(exc.registry, f"{exc.reason} (gave up after {n} attempts)",
                                            exc.repository, exc.digest, status=exc.status) from None
                    raise
                self._sleep(self._delay(n))

    def _start_upload(self, ep: Endpoint, ref: "ImageReference", desc: oci.Descriptor,
                      mount_from: t.Sequence[str]) -> str | None:
        """POST an upload (a mount when *mount_from* names a repository); None when the mount worked,
        else the upload's absolute location."""
        import urllib.parse

        path = f"/v2/{ref.path}/blobs/uploads/"
        source = next((m for m in mount_from if m != ref.path), None)
        if source:
            path += "?" + urllib.parse.urlencode({"mount": desc.digest, "from": source})
        resp = self._request(ep, ref, "POST", path, {"Content-Length": "0"}, what="push", push=True,
                             body=lambda: b"")
        body = _read_small(resp)
        if source and resp.status == 201:
            return None
        if resp.status != 202:
            raise self._unexpected(ep, ref, desc.digest, resp, body)
        return self._location(ep, ref, resp, desc.digest)

    def _location(self, ep: Endpoint, ref: "ImageReference", resp: Response, digest: str) -> str:
        import urllib.parse

        location = resp.header("Location")
        if not location:
            raise RegistryError(self._registry_name(ep, ref), "the registry gave no upload location", ref.path,
                                digest)
        return urllib.parse.urljoin(f"{resp.scheme}://{resp.host}/", location)

    def _upload(self, ep: Endpoint, ref: "ImageReference", desc: oci.Descriptor, location: str,
                opener: t.Callable[[], t.BinaryIO], progress: t.Callable[[int], None] | None) -> None:
        """Monolithic (one PUT) up to ``upload_chunk_size``, else PATCH chunks then the closing PUT."""
        import urllib.parse

        def close_url(loc: str) -> str:
            parts = urllib.parse.urlsplit(loc)
            query = (parts.query + "&" if parts.query else "") + urllib.parse.urlencode({"digest": desc.digest})
            return urllib.parse.urlunsplit(parts._replace(query=query))

        octets = {"Content-Type": "application/octet-stream"}
        with opener() as fh:
            if desc.size <= self.upload_chunk_size:
                data = fh.read(desc.size + 1)
                self._check_size(ref, desc, len(data))
                resp = self._request(ep, ref, "PUT", "", dict(octets, **{"Content-Length": str(len(data))}),
                                     what=desc.digest, push=True, body=lambda: data, url=close_url(location),
                                     attempts=1)
                self._expect(ep, ref, desc.digest, resp, 201)
                if progress:
                    progress(len(data))
                return
            sent = 0
            while sent < desc.size:
                chunk = fh.read(min(self.upload_chunk_size, desc.size - sent))
                if not chunk:
                    self._check_size(ref, desc, sent)
                hdrs = dict(octets, **{"Content-Length": str(len(chunk)),
                                       "Content-Range": f"{sent}-{sent + len(chunk) - 1}"})
                resp = self._request(ep, ref, "PATCH", "", hdrs, what=desc.digest, push=True,
                                     body=lambda: chunk, url=location, attempts=1)
                self._expect(ep, ref, desc.digest, resp, 202)
                location = self._location(ep, ref, resp, desc.digest)
                sent += len(chunk)
                if progress:
                    progress(sent)
            if fh.read(1):
                self._check_size(ref, desc, desc.size + 1)
        resp = self._request(ep, ref, "PUT", "", {"Content-Length": "0"}, what=desc.digest, push=True,
                             body=lambda: b"", url=close_url(location), attempts=1)
        self._expect(ep, ref, desc.digest, resp, 201)

    @staticmethod
    def _check_size(ref: "ImageReference", desc: oci.Descriptor, got: int) -> None:
        if got != desc.size:
            more = "more than " if got > desc.size else ""
            raise StoreError(f"blob {desc.digest} to push to {ref.domain}/{ref.path} has {more}{min(got, desc.size)} "
                             f"bytes where its descriptor says {desc.size}")

    def _expect(self, ep: Endpoint, ref: "ImageReference", what: str, resp: Response, status: int) -> None:
        body = _read_small(resp)
        if resp.status != status:
            raise self._unexpected(ep, ref, what, resp, body)

    def put_manifest(self, ref: "ImageReference", reference: str, raw: bytes, media_type: str) -> str:
        """``PUT /v2/<name>/manifests/<reference>``; returns the manifest's digest (checked against the
        registry's ``Docker-Content-Digest``)."""
        ep = self._origin(ref)
        digest = str(sha256_bytes(raw))
        resp = self._request(ep, ref, "PUT", self._manifest_path(ref, reference),
                             {"Content-Type": media_type, "Content-Length": str(len(raw))}, what=reference,
                             push=True, body=lambda: raw)
        answered = (resp.header("Docker-Content-Digest") or "").strip()
        self._expect(ep, ref, reference, resp, 201)
        if answered and _is_digest_ref(answered) and answered != digest:
            raise DigestMismatch(f"manifest {ref.domain}/{ref.path}:{reference} (as stored by the registry)",
                                 digest, answered)
        return digest


class BlobStream:
    """Streams one blob; transparently resumes with ``Range`` after a cut, a timeout or a 5xx.

    ``read(n)`` never returns more than ``desc.size`` bytes in total (counting *offset*), and raises
    RegistryError when the blob cannot be completed within ``max-download-attempts`` failed attempts
    (counted over the whole stream, so a server that always cuts cannot keep it going forever; a mirror
    gets one attempt before the origin takes over). Hashing is the caller's job.
    """

    def __init__(self, client: RegistryClient, ref: "ImageReference", desc: oci.Descriptor,
                 endpoints: t.Sequence[Endpoint], offset: int = 0) -> None:
        if offset < 0 or offset > desc.size:
            raise RegistryError(ref.domain, f"invalid blob offset {offset} (size {desc.size})", ref.path, desc.digest)
        self.client = client
        self.ref = ref
        self.desc = desc
        self.size = desc.size
        self.pos = offset
        self._endpoints = list(endpoints)
        self._ep_index = 0
        self._resp: Response | None = None
        self._failures = 0
        self._closed = False
        self.resumes = 0  # how many times the body was re-requested

    @property
    def endpoint(self) -> Endpoint:
        return self._endpoints[self._ep_index]

    def __enter__(self) -> "BlobStream":
        return self

    def __exit__(self, *exc: t.Any) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True
        resp, self._resp = self._resp, None
        if resp is not None:
            resp.close()

    # ------------------------------------------------------------------ reading
    def read(self, n: int = -1) -> bytes:
        if self._closed:
            raise ValueError("read from a closed blob stream")
        remaining = self.size - self.pos
        if remaining <= 0:
            self._finish()
            return b""
        want = remaining if n is None or n < 0 else min(n, remaining)
        if want == 0:
            return b""
        while True:
            if self._resp is None:
                self._open()
            if self._resp is None:
                raise AssertionError('self._resp is not None')
            try:
                data = self._resp.read(want)
            except TransportError as exc:
                self._resp = None
                self._failed(exc.reason)
                continue
            if not data:
                # the server's body ended before desc.size: it sent less than it should
                self._drop()
                self._failed(f"the blob ended after {self.pos} of {self.size} bytes")
                continue
            if len(data) > want:  # pragma: no cover - urllib3 never over-reads
                data = data[:want]
            self.pos += len(data)
            if self.pos >= self.size:
                self._finish()
            return data

    def readinto(self, buf: t.Any) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def _finish(self) -> None:
        """At desc.size: release the response (the pool keeps the connection only if the body is done)."""
        resp, self._resp = self._resp, None
        if resp is not None:
            resp.close()

    def _drop(self) -> None:
        resp, self._resp = self._resp, None
        if resp is not None:
            resp._abort()

    def _registry(self) -> str:
        return self.client._registry_name(self.endpoint, self.ref)

    def _failed(self, reason: str) -> None:
        """Count a failed attempt; sleep before the next, move on to the next endpoint or give up."""
        self._failures += 1
        attempts = 1 if self.endpoint.mirror else self.client.attempts
        if self._failures >= attempts:
            if self._ep_index + 1 < len(self._endpoints):
                self._ep_index += 1
                self._failures = 0
                return
            suffix = f" (gave up after {self._failures} attempts)" if self._failures > 1 else ""
            raise RegistryError(self._registry(), f"blob download failed at byte {self.pos} of {self.size}: "
                                                  f"{reason}{suffix}", self.ref.path, self.desc.digest)
        self.client._sleep(self.client._delay(self._failures))

    # ------------------------------------------------------------------ (re)opening
    def _open(self) -> None:
        """GET the blob from ``pos`` (trying the next endpoint when one cannot serve it at all)."""
        if self.pos >= self.size:
            return  # nothing left to fetch
        while True:
            try:
                self._open_at(self.endpoint)
                return
            except TransportError as exc:  # a resumable problem with the response itself
                self._failed(exc.reason)
            except (RegistryError, DigestMismatch):
                if self._ep_index + 1 < len(self._endpoints):
                    self._ep_index += 1
                    self._failures = 0
                    continue
                raise

    def _open_at(self, ep: Endpoint) -> None:
        client, ref, desc = self.client, self.ref, self.desc
        headers = {"Accept": "*/*"}
        if self.pos > 0:
            headers["Range"] = f"bytes={self.pos}-"
            self.resumes += 1
        attempts_left = (1 if ep.mirror else client.attempts) - self._failures
        resp = client._request(ep, ref, "GET", f"/v2/{ref.path}/blobs/{desc.digest}", headers, what=desc.digest,
                               attempts=max(1, attempts_left))
        registry = client._registry_name(ep, ref)
        if resp.status == 404:
            resp.close()
            raise RegistryError(registry, "blob unknown to the registry", ref.path, desc.digest, status=404)
        if resp.status == 416 and self.pos > 0:
            resp.close()
            raise RegistryError(registry, f"the registry cannot resume at byte {self.pos} (HTTP 416)", ref.path,
                                desc.digest, status=416)
        if resp.status == 206:
            start = _content_range_start(resp.header("Content-Range"))
            if start is None or start > self.pos:
                resp.close()
                raise RegistryError(registry, f"bad Content-Range {resp.header('Content-Range')!r} for a request "
                                              f"from byte {self.pos}", ref.path, desc.digest)
            skip = self.pos - start
        elif resp.status == 200:
            length = resp.length
            if length is not None and length != self.size:
                resp.close()
                raise RegistryError(registry, f"the registry sends {length} bytes for a blob of {self.size} bytes",
                                    ref.path, desc.digest)
            skip = self.pos  # the server ignored Range: skip what we already have
        else:
            body = b""
            try:
                body = resp.read(4096)
            except TransportError:
                pass
            resp.close()
            raise client._unexpected(ep, ref, desc.digest, resp, body)
        self._resp = resp
        while skip > 0:
            data = resp.read(min(skip, 1 << 20))
            if not data:
                self._drop()
                raise TransportError(resp.host, f"the blob ended while skipping to byte {self.pos}", True)
            skip -= len(data)


# ---------------------------------------------------------------------- helpers
def _where(ref: "ImageReference", what: str | None) -> tuple[str, str | None]:
    """(repository, digest) for an error: a tag goes with the repository (``library/busybox:latest``)."""
    if what and _is_digest_ref(what):
        return ref.path, what
    if what:
        return f"{ref.path}:{what}", None
    return ref.path, None


def _is_digest_ref(value: str) -> bool:
    from ..core.digest import is_digest

    return is_digest(value)


def _verify(what: str, expected: str, data: bytes) -> None:
    h = hasher(expected)
    h.update(data)
    actual = f"{expected.split(':', 1)[0]}:{h.hexdigest()}"
    if actual != expected:
        raise DigestMismatch(what, expected, actual)


def _read_small(resp: Response) -> bytes:
    """A short answer body (an error document), read and released; b"" when it cannot be read."""
    try:
        return resp.read(65536)
    except TransportError:
        return b""
    finally:
        resp.close()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _content_range_start(value: str | None) -> int | None:
    # "bytes 100-199/200"
    if not value or not value.startswith("bytes "):
        return None
    try:
        return int(value[6:].split("-", 1)[0])
    except ValueError:
        return None


def _error_detail(body: bytes) -> str:
    """The first error of a distribution-spec error body (``{"errors": [{"code", "message"}]}``), short."""
    import json

    try:
        doc = json.loads(body)
    except ValueError:
        return ""
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        code = str(errors[0].get("code") or "")
        msg = str(errors[0].get("message") or "")
        return (f"{code}: {msg}" if code and msg else code or msg)[:300]
    return ""
