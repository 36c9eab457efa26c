# SPDX-License-Identifier: GPL-3.0-or-later
"""WWW-Authenticate parsing, the credentials file, and the token cache (with a fake transport)."""
from __future__ import annotations

import base64
import json
import os
import stat
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.errors import AuthError, ConfigError
from ansible_collections.berth.engine.plugins.module_utils.engine.registry.auth import (
    Authenticator,
    Challenge,
    Credentials,
    normalize_host,
    parse_www_authenticate,
)


@pytest.mark.parametrize(
    "header, expected",
    [
        (
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
            'scope="repository:library/busybox:pull"',
            [Challenge("bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                                  "scope": "repository:library/busybox:pull"})],
        ),
        ('Basic realm="berth-test"', [Challenge("basic", {"realm": "berth-test"})]),
        ('basic REALM="x"', [Challenge("basic", {"realm": "x"})]),
        # several challenges in one header, white space around '=' and ','
        (
            'Basic realm="a" , Bearer realm = "https://t/x?y=1", service=reg',
            [Challenge("basic", {"realm": "a"}), Challenge("bearer", {"realm": "https://t/x?y=1", "service": "reg"})],
        ),
        # quoted commas and escaped quotes
        (
            'Bearer realm="https://t",scope="repository:a/b:pull,push",error="insufficient_scope",x="say \\"hi\\""',
            [Challenge("bearer", {"realm": "https://t", "scope": "repository:a/b:pull,push",
                                  "error": "insufficient_scope", "x": 'say "hi"'})],
        ),
        ("Bearer", [Challenge("bearer", {})]),
        ("", []),
    ],
)
def test_parse_www_authenticate(header: str, expected: list[Challenge]) -> None:
    assert parse_www_authenticate(header) == expected


def test_parse_several_header_values() -> None:
    got = parse_www_authenticate(['Basic realm="a"', 'Bearer realm="b"'])
    assert [c.scheme for c in got] == ["basic", "bearer"]
    assert got[1].realm == "b"


@pytest.mark.parametrize(
    "key, host",
    [
        ("https://index.docker.io/v1/", "docker.io"),
        ("index.docker.io", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("docker.io", "docker.io"),
        ("http://127.0.0.1:5000", "127.0.0.1:5000"),
        ("Registry.Example.com:443/v2/", "registry.example.com:443"),
    ],
)
def test_normalize_host(key: str, host: str) -> None:
    assert normalize_host(key) == host


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def write_auth(path: t.Any, text: str, mode: int = 0o600) -> None:
    """An auth file as ``login`` leaves it: root's, 0600."""
    path.write_text(text)
    os.chmod(path, mode)


def test_load_formats(tmp_path: t.Any) -> None:
    path = tmp_path / "auth.json"
    write_auth(path, json.dumps({
        "auths": {
            "https://index.docker.io/v1/": {"auth": b64("hubuser:hub:pw:with:colons")},
            "127.0.0.1:5000": {"username": "berth", "password": "s3cret-pw"},
            "ghcr.io": {"identitytoken": "x"},  # nothing we can use: skipped
        },
        "credsStore": "desktop",
    }))
    creds = Credentials.load(str(path))
    hub = creds.get("docker.io")
    assert hub is not None and hub.username == "hubuser" and hub.password == "hub:pw:with:colons"
    assert creds.get("index.docker.io") == hub
    local = creds.get("127.0.0.1:5000")
    assert local is not None and (local.username, local.password) == ("berth", "s3cret-pw")
    assert creds.get("ghcr.io") is None
    assert creds.hosts == ["127.0.0.1:5000", "docker.io"]
    assert "s3cret-pw" not in repr(creds) and "hub:pw" not in repr(creds) and "berth" in repr(creds)
    assert "s3cret-pw" not in repr(local)


def test_load_missing_and_empty(tmp_path: t.Any) -> None:
    assert not Credentials.load(str(tmp_path / "nope.json"))
    empty = tmp_path / "empty.json"
    write_auth(empty, "  \n")
    assert len(Credentials.load(str(empty))) == 0


@pytest.mark.parametrize(
    "content, key",
    [
        ('{"auths": {"h": {"auth": "bm9jb2xvbg=="}}', None),  # truncated JSON
        ('["not", "an", "object"]', None),
        ('{"auths": []}', "auths"),
        ('{"auths": {"h": "x"}}', "auths.h"),
        ('{"auths": {"h": {"auth": "!!not base64!!"}}}', "auths.h"),
        ('{"auths": {"h": {"auth": "bm9jb2xvbg=="}}}', "auths.h"),  # "nocolon"
        ('{"auths": {"h": {"username": "u"}}}', "auths.h"),
    ],
)
def test_load_malformed_names_path_not_secret(tmp_path: t.Any, content: str, key: str | None) -> None:
    path = tmp_path / "auth.json"
    write_auth(path, content)
    with pytest.raises(ConfigError) as ei:
        Credentials.load(str(path))
    assert str(path) in str(ei.value)
    assert ei.value.key == key
    assert "bm9jb2xvbg" not in str(ei.value) and "nocolon" not in str(ei.value)


def test_save_is_0600_atomic_and_round_trips(tmp_path: t.Any) -> None:
    path = tmp_path / "etc" / "auth.json"
    creds = Credentials({"docker.io": ("hubuser", "pw1"), "127.0.0.1:5000": ("berth", "s3cret-pw")})
    creds.save(str(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert set(doc["auths"]) == {"https://index.docker.io/v1/", "127.0.0.1:5000"}  # docker login's key for the Hub
    assert base64.b64decode(doc["auths"]["127.0.0.1:5000"]["auth"]).decode() == "berth:s3cret-pw"
    again = Credentials.load(str(path))
    assert again.get("docker.io").password == "pw1"  # type: ignore[union-attr]
    again.set("ghcr.io", "me", "tok")
    assert again.remove("docker.io")
    again.save()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert Credentials.load(str(path)).hosts == ["127.0.0.1:5000", "ghcr.io"]
    assert [p.name for p in path.parent.iterdir()] == ["auth.json"]  # no temporary files left


def test_save_keeps_other_keys(tmp_path: t.Any) -> None:
    path = tmp_path / "auth.json"
    write_auth(path, json.dumps({"auths": {}, "credHelpers": {"x": "y"}}))
    creds = Credentials.load(str(path))
    creds.set("h:1", "u", "p")
    creds.save()
    assert json.loads(path.read_text())["credHelpers"] == {"x": "y"}


# ---------------------------------------------------------------------- Authenticator with a fake transport
class FakeResponse:
    def __init__(self, status: int, body: bytes = b"", headers: t.Mapping[str, list[str]] | None = None) -> None:
        self.status = status
        self._body = body
        self._headers = dict(headers or {})

    def header_all(self, name: str) -> list[str]:
        return self._headers.get(name, [])

    def read_limited(self, limit: int, what: str) -> bytes:
        return self._body

    def close(self) -> None:
        pass


class FakeTransport:
    def __init__(self, answers: list[FakeResponse]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, str]]] = []

    def request_url(self, method: str, url: str, headers: t.Mapping[str, str] | None = None) -> FakeResponse:
        self.calls.append((url, dict(headers or {})))
        return self.answers.pop(0)


def challenge(value: str) -> FakeResponse:
    return FakeResponse(401, headers={"WWW-Authenticate": [value]})


def test_bearer_token_cached_until_expiry() -> None:
    now = [1000.0]
    tr = FakeTransport([FakeResponse(200, b'{"token": "T1", "expires_in": 300}'),
                        FakeResponse(200, b'{"access_token": "T2"}')])
    auth = Authenticator(Credentials({"reg:5000": ("u", "pw")}), tr, clock=lambda: now[0])  # type: ignore[arg-type]
    scope = "repository:a/b:pull"
    assert auth.cached_header("reg:5000", scope, "reg:5000") is None
    hdr = auth.answer(challenge('Bearer realm="https://auth/token?x=1",service="svc"'),  # type: ignore[arg-type]
                      "reg:5000", scope, "reg:5000", "reg:5000", "a/b")
    assert hdr == "Bearer T1"
    url, headers = tr.calls[0]
    assert url == "https://auth/token?x=1&service=svc&scope=repository%3Aa%2Fb%3Apull"
    assert headers["Authorization"] == "Basic " + b64("u:pw")
    now[0] += 200
    assert auth.cached_header("reg:5000", scope, "reg:5000") == "Bearer T1"
    assert auth.cached_header("reg:5000", "repository:other:pull", "reg:5000") is None  # per scope
    now[0] += 200  # past expiry
    assert auth.cached_header("reg:5000", scope, "reg:5000") is None
    hdr = auth.answer(challenge('Bearer realm="https://auth/token"'), "reg:5000", scope,  # type: ignore[arg-type]
                      "reg:5000", "reg:5000", "a/b")
    assert hdr == "Bearer T2"  # access_token accepted; default TTL applies
    assert len(tr.calls) == 2


def test_token_server_rejects_credentials_names_user_not_password() -> None:
    tr = FakeTransport([FakeResponse(401, b'{"details": "bad"}')])
    auth = Authenticator(Credentials({"reg": ("alice", "hunter2")}), tr)  # type: ignore[arg-type]
    with pytest.raises(AuthError) as ei:
        auth.answer(challenge('Bearer realm="https://auth/token"'), "reg", "s", "reg", "reg", "a/b")  # type: ignore
    assert "'alice'" in str(ei.value) and "hunter2" not in str(ei.value) and "reg" in str(ei.value)


def test_basic_challenge_without_credentials_requires_login() -> None:
    auth = Authenticator(None, FakeTransport([]))  # type: ignore[arg-type]
    with pytest.raises(AuthError, match="authentication required"):
        auth.answer(challenge('Basic realm="x"'), "reg", "s", "reg", "reg", "a/b")  # type: ignore[arg-type]


def test_basic_challenge_with_credentials_is_remembered() -> None:
    auth = Authenticator(Credentials({"reg": ("u", "p")}), FakeTransport([]))  # type: ignore[arg-type]
    hdr = auth.answer(challenge('Basic realm="x"'), "reg", "s", "reg", "reg", "a/b")  # type: ignore[arg-type]
    assert hdr == "Basic " + b64("u:p")
    assert auth.cached_header("reg", "other-scope", "reg") == hdr


def test_token_response_without_token_is_an_error() -> None:
    from ansible_collections.berth.engine.plugins.module_utils.engine.errors import RegistryError

    auth = Authenticator(None, FakeTransport([FakeResponse(200, b'{"nothing": 1}')]))  # type: ignore[arg-type]
    with pytest.raises(RegistryError, match="no token"):
        auth.answer(challenge('Bearer realm="https://auth/token"'), "reg", "s", "reg", "reg", "a/b")  # type: ignore


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_credentials_file_others_can_read_is_refused(tmp_path: t.Any, mode: int) -> None:
    path = tmp_path / "auth.json"
    write_auth(path, json.dumps({"auths": {"h:1": {"username": "u", "password": "s3cret-pw"}}}), mode)
    with pytest.raises(ConfigError) as ei:
        Credentials.load(str(path))
    assert str(path) in str(ei.value) and f"{mode:04o}" in str(ei.value) and "chmod 600" in str(ei.value)
    assert "s3cret-pw" not in str(ei.value)


def test_a_credentials_file_others_can_write_or_own_is_refused(tmp_path: t.Any) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.engine.errors import UntrustedPath

    path = tmp_path / "auth.json"
    write_auth(path, "{}", 0o602)
    with pytest.raises(UntrustedPath, match="writable by group or others"):
        Credentials.load(str(path))
    os.chmod(path, 0o600)
    os.chown(path, 65534, 65534)
    with pytest.raises(UntrustedPath, match="owned by uid 65534"):
        Credentials.load(str(path))
    os.unlink(path)
    os.symlink(tmp_path / "elsewhere.json", path)
    with pytest.raises(UntrustedPath, match="symbolic link"):
        Credentials.load(str(path))
