# SPDX-License-Identifier: GPL-3.0-or-later
"""What a registry holds: ``/v2/_catalog`` and ``/v2/<name>/tags/list``, page by page.

Pagination follows the distribution spec: ask for ``n`` entries; while the answer carries a
``Link: <...?n=..&last=..>; rel="next"`` header, follow it (a registry that omits the header but fills the
page is asked again with ``last`` set to the last entry it gave). Requests go through the client's transport
and authenticator, so ``certs.d``, ``insecure-registries`` and the credentials in ``auth.json`` apply.
"""
from __future__ import annotations

import json
import re
import typing as t
import urllib.parse

from ..errors import NotFound, RegistryError
from .auth import repository_scope
from .transport import Endpoint, TransportError

if t.TYPE_CHECKING:
    from .client import RegistryClient

#: Largest page answer read (a catalog page of 10 000 long names stays far below).
MAX_PAGE = 16 << 20
#: Pages followed at most: a registry whose ``Link`` never ends must not keep a task running for ever.
MAX_PAGES = 10000
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
CATALOG_SCOPE = "registry:catalog:*"


class Catalog:
    def __init__(self, client: RegistryClient, host: str, page_size: int = 100) -> None:
        self.client = client
        self.host = host
        self.page_size = page_size

    def repositories(self) -> list[str]:
        return self._all("/v2/_catalog", "repositories", CATALOG_SCOPE, None)

    def tags(self, repository: str) -> list[str]:
        return self._all(f"/v2/{repository}/tags/list", "tags", repository_scope(repository), repository)

    def _all(self, path: str, key: str, scope: str, repository: str | None) -> list[str]:
        out: list[str] = []
        url = f"{path}?n={self.page_size}"
        for _ in range(MAX_PAGES):
            doc, link = self._get(url, scope, repository)
            entries = doc.get(key) or []
            if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
                raise RegistryError(self.host, f"{path} answered a {key!r} that is not a list of names", repository)
            out.extend(entries)
            url = next_page(link, path, entries, self.page_size)
            if url is None:
                return out
        raise RegistryError(self.host, f"{path} still had more pages after {MAX_PAGES}", repository)

    def _get(self, path: str, scope: str, repository: str | None) -> tuple[dict[str, t.Any], str | None]:
        ep = Endpoint(self.host)
        auth = self.client.auth
        answered = False
        while True:
            headers = {"Accept": "application/json"}
            header = auth.cached_header(ep.host, scope, self.host)
            if header:
                headers["Authorization"] = header
            try:
                resp = self.client.transport.request(ep, "GET", path, headers)
            except TransportError as exc:
                raise RegistryError(self.host, exc.reason, repository) from None
            try:
                if resp.status == 401 and not answered:
                    auth.forget(ep.host, scope)
                    auth.answer(resp, ep.host, scope, self.host, self.host, repository)
                    answered = True
                    continue
                if resp.status == 404 and repository is not None:
                    raise NotFound("repository", f"{self.host}/{repository}")
                if resp.status != 200:
                    raise RegistryError(self.host, f"GET {path.split('?')[0]} answered HTTP {resp.status}",
                                        repository, status=resp.status)
                body = resp.read_limited(MAX_PAGE, path)
                link = resp.header("Link")
            finally:
                resp.close()
            try:
                doc = json.loads(body)
            except ValueError:
                raise RegistryError(self.host, f"GET {path.split('?')[0]} answered no JSON", repository) from None
            return (doc if isinstance(doc, dict) else {}), link


def next_page(link: str | None, path: str, entries: t.Sequence[str], page_size: int) -> str | None:
    """The path of the next page: the ``Link`` header's ``rel="next"`` target (made relative to the
    registry), else, when the page came back full, *path* continued after its last entry; None at the end."""
    if link:
        match = _NEXT.search(link)
        if match:
            target = urllib.parse.urlsplit(match.group(1))
            return target.path + (f"?{target.query}" if target.query else "")
        return None
    if entries and len(entries) >= page_size:
        return f"{path}?" + urllib.parse.urlencode({"n": page_size, "last": entries[-1]})
    return None
