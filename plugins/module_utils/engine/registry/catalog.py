# SPDX-License-Identifier: GPL-3.0-or-later
"""What a registry holds: ``/v2/_catalog`` and ``/v2/<name>/tags/list``, page by page.

Pagination follows the distribution spec: ask for ``n`` entries; while the answer carries a
``Link: <...?n=..&last=..>; rel="next"`` header, follow it. An answer without one is the last page (a
registry may ignore ``n`` and answer everything at once, as Distribution 2.8 does for tags). Requests go through the client's transport
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
        for _page in range(MAX_PAGES):
            doc, link = self._get(url, scope, repository)
            entries = doc.get(key) or []
            if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
                raise RegistryError(self.host, f"{path} answered a {key!r} that is not a list of names", repository)
            out.extend(entries)
            following = next_page(link)
            if following is None or following == url:
                return out
            url = following
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


def next_page(link: str | None) -> str | None:
    """The path (and query) of the ``Link`` header's ``rel="next"`` target, None without one."""
    match = _NEXT.search(link or "")
    if match is None:
        return None
    target = urllib.parse.urlsplit(match.group(1))
    return target.path + (f"?{target.query}" if target.query else "")
