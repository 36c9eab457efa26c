# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.errors import InvalidReference
from ansible_collections.berth.engine.plugins.module_utils.engine.core.reference import (
    ImageReference,
    familiar,
    parse_platform,
    platform_mismatch,
    reference_matches,
)

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    "value, full, fam",
    [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("user/app:v1", "docker.io/user/app:v1", "user/app:v1"),
        ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
        ("localhost:5000/app", "localhost:5000/app:latest", "localhost:5000/app:latest"),
        ("127.0.0.1:5000/team/app:1.0", "127.0.0.1:5000/team/app:1.0", "127.0.0.1:5000/team/app:1.0"),
        ("ghcr.io/org/repo/sub:tag_1.2-x", "ghcr.io/org/repo/sub:tag_1.2-x", "ghcr.io/org/repo/sub:tag_1.2-x"),
        (f"busybox@{D}", f"docker.io/library/busybox@{D}", f"busybox@{D}"),
        (f"busybox:1@{D}", f"docker.io/library/busybox:1@{D}", f"busybox:1@{D}"),
        ("a__b/c.d-e", "docker.io/a__b/c.d-e:latest", "a__b/c.d-e:latest"),
        ("[::1]:5000/app", "[::1]:5000/app:latest", "[::1]:5000/app:latest"),
    ],
)
def test_parse_normalises_like_docker(value: str, full: str, fam: str) -> None:
    ref = ImageReference.parse(value)
    assert str(ref) == full
    assert ref.familiar == fam


@pytest.mark.parametrize(
    "value, reason",
    [
        ("", "non-empty"),
        ("Busybox", "lowercase"),
        ("busy box", "white space"),
        ("busybox:", "invalid tag"),
        ("busybox:-bad", "invalid tag"),
        ("busybox@sha256:1234", "invalid"),
        ("a//b", "invalid repository path component"),
        ("-a/b", "invalid"),
        ("ab" * 32, "image ID"),
        ("host:notaport/app", "invalid"),
        ("x/" + "a" * 300, "longer than"),
    ],
)
def test_invalid_references_name_the_field_and_value(value: str, reason: str) -> None:
    with pytest.raises(InvalidReference) as err:
        ImageReference.parse(value, field="image")
    msg = str(err.value)
    assert reason in msg
    assert "image" in msg


def test_api_host_for_docker_hub() -> None:
    assert ImageReference.parse("busybox").api_host == "registry-1.docker.io"
    assert ImageReference.parse("localhost:5000/x").api_host == "localhost:5000"


def test_remote_ref_prefers_digest() -> None:
    assert ImageReference.parse(f"a:1@{D}").remote_ref == D
    assert ImageReference.parse("a:1").remote_ref == "1"


def test_familiar_of_unparsable_is_unchanged() -> None:
    assert familiar("docker.io/library/busybox:latest") == "busybox:latest"
    assert familiar("NOT VALID") == "NOT VALID"


@pytest.mark.parametrize(
    "pattern, name, match",
    [
        ("busybox", "busybox:latest", True),
        ("busybox:latest", "busybox:latest", True),
        ("busy*", "busybox:1", True),
        ("docker.io/library/busybox", "busybox", True),
        ("alpine", "busybox", False),
        ("*/app:*", "localhost:5000/app:1", True),
        ("*", "user/app:1", False),
        ("user/*", "user/app:1", True),
        ("b?sybox", "busybox", True),
        ("localhost:5000/*", "localhost:5000/app:1", True),
    ],
)
def test_reference_filter(pattern: str, name: str, match: bool) -> None:
    assert reference_matches(pattern, ImageReference.parse(name)) is match


@pytest.mark.parametrize(
    "value, plat",
    [
        ("linux/amd64", {"os": "linux", "architecture": "amd64"}),
        ("linux/arm64/v8", {"os": "linux", "architecture": "arm64", "variant": "v8"}),
        ("linux/x86_64", {"os": "linux", "architecture": "amd64"}),
        ("linux/armhf", {"os": "linux", "architecture": "arm", "variant": "v7"}),
    ],
)
def test_parse_platform(value: str, plat: dict) -> None:
    assert parse_platform(value) == plat


@pytest.mark.parametrize("value", ["", "linux//", "a/b/c/d"])
def test_parse_platform_rejects(value: str) -> None:
    with pytest.raises(InvalidReference, match="platform"):
        parse_platform(value)


@pytest.mark.parametrize("config, plat, shown", [
    ({"architecture": "amd64", "os": "linux"}, {"os": "linux", "architecture": "amd64"}, None),
    ({"architecture": "amd64"}, {"os": "linux", "architecture": "amd64"}, None),  # os defaults to linux
    ({}, {"os": "linux", "architecture": "amd64"}, None),  # no architecture: nothing to compare
    ({"architecture": "arm64", "os": "linux", "variant": "v8"}, {"os": "linux", "architecture": "amd64"},
     "linux/arm64/v8"),
    ({"architecture": "amd64", "os": "windows"}, {"os": "linux", "architecture": "amd64"}, "windows/amd64"),
])
def test_platform_mismatch(config: dict, plat: dict, shown: str | None) -> None:
    warning = platform_mismatch(config, plat)
    if shown is None:
        assert warning is None
    else:
        assert warning == (f"The requested image's platform ({shown}) does not match the detected host platform "
                           "(linux/amd64) and no specific platform was requested")
