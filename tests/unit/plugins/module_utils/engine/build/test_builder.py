# SPDX-License-Identifier: GPL-3.0-or-later
"""The builder's decisions over a recording backend (the store and containers are injected): the layer
limit, ARG scoping and defaults, what RUN receives, the step count, history entries and cache keys.
Real builds are in tests/functional/test_build.py."""
from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.build import dockerfile
from ansible_collections.berth.engine.plugins.module_utils.engine.build.builder import (
    MAX_LAYERS,
    Builder,
    BuildOptions,
)
from ansible_collections.berth.engine.plugins.module_utils.engine.build.context import Context
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import BuildError, DockerfileError


class FakeBackend:
    def __init__(self, base_layers: int = 1) -> None:
        self.images: dict[str, dict[str, t.Any]] = {}
        self.runs: list[tuple[list[str], dict[str, str], str | None]] = []
        self.cache: dict[str, str] = {}
        base = {"architecture": "amd64", "os": "linux", "config": {"Env": ["PATH=/bin"]},
                "rootfs": {"type": "layers", "diff_ids": [f"sha256:{i:064x}" for i in range(base_layers)]},
                "history": [{"created_by": "base"}] * base_layers}
        self.base_id = self.commit(None, base, None)

    def base(self, name: str, pull: bool, platform: str | None) -> tuple[str, dict[str, t.Any]]:
        image = name if name in self.images else self.base_id
        return image, copy.deepcopy(self.images[image])

    def scratch(self) -> dict[str, t.Any]:
        return {"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": []}}

    def commit(self, parent: str | None, config: dict[str, t.Any], layer: str | None) -> str:
        cfg = copy.deepcopy(config)
        if layer is not None:
            cfg["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(layer.encode()).hexdigest())
        image = "sha256:" + hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()
        self.images[image] = cfg
        return image

    def _layer(self) -> str:
        fd, path = tempfile.mkstemp()
        os.close(fd)
        return path

    def run(self, image: str, argv: list[str], env: dict[str, str], network: str | None) -> tuple[int, str]:
        self.runs.append((argv, env, network))
        return 0, self._layer()

    def put(self, image: str, archive: str) -> str:
        return self._layer()

    def kind(self, image: str, path: str) -> str | None:
        return "dir" if path in ("/", "/etc") else None

    def lstat(self, image: str, path: str) -> os.stat_result | None:
        return os.lstat("/") if self.kind(image, path) else None

    def read(self, image: str, path: str) -> bytes | None:
        return b"root:x:0:0::/:/bin/sh\n" if path == "/etc/passwd" else b"root:x:0:\n"

    def mount(self, image: str) -> t.Any:
        raise AssertionError("not used")

    def cache_get(self, key: str) -> str | None:
        return self.cache.get(key)

    def cache_put(self, key: str, image: str) -> None:
        self.cache[key] = image


def build(text: str, backend: FakeBackend | None = None, **opts: t.Any) -> tuple[FakeBackend, str, list[str]]:
    backend = backend or FakeBackend()
    lines: list[str] = []
    result = Builder(backend, Context(None), dockerfile.parse(text), BuildOptions(**opts), lines.append).build()
    return backend, result.image_id, lines + result.warnings


def test_layer_limit() -> None:
    backend = FakeBackend(base_layers=MAX_LAYERS - 1)
    build("FROM base\nRUN one\n", backend)  # the 127th layer
    with pytest.raises(BuildError, match="max depth exceeded: an image has at most 127 layers"):
        build("FROM base\nRUN one\nRUN two\n", backend)


def test_args_scope_defaults_and_run_env() -> None:
    text = ("ARG V=meta\nARG ONLY_META=m\nFROM base:$V\nARG V\nARG D=dflt\nENV E=$D-$ONLY_META\nRUN a\n"
            "ENV D=env\nRUN --network=host b\n")
    backend, image, lines = build(text, build_args={"D": "cli", "UNUSED": "x"}, network="none")
    assert backend.runs == [(["/bin/sh", "-c", "a"], {"V": "meta", "D": "cli"}, "none"),
                            (["/bin/sh", "-c", "b"], {"V": "meta", "D": "cli"}, "host")]
    cfg = backend.images[image]
    assert cfg["config"]["Env"] == ["PATH=/bin", "E=cli-", "D=env"]  # ARG values never reach the config
    history = [h["created_by"] for h in cfg["history"][1:]]
    assert history[:3] == ["/bin/sh -c #(nop)  ARG V", "/bin/sh -c #(nop)  ARG D=dflt",
                           "/bin/sh -c #(nop)  ENV E=cli-"]
    assert history[3] == "|2 D=cli V=meta /bin/sh -c a"
    assert "[Warning] One or more build-args ['UNUSED'] were not consumed" in lines
    assert [line for line in lines if line.startswith("Step ")][0] == "Step 1/7 : FROM base:$V"


def test_entrypoint_clears_inherited_cmd_and_cache_reuse() -> None:
    backend = FakeBackend()
    backend.images[backend.base_id]["config"]["Cmd"] = ["sh"]
    text = 'FROM base\nENTRYPOINT ["/x"]\nRUN a\n'
    dummy, first, lines = build(text, backend)
    assert "Cmd" not in backend.images[first]["config"]
    assert " ---> Using cache" not in lines
    dummy, again, lines = build(text, backend)
    assert again == first and lines.count(" ---> Using cache") == 2 and len(backend.runs) == 1
    dummy, fresh, lines = build(text, backend, no_cache=True)
    assert len(backend.runs) == 2 and " ---> Using cache" not in lines


def test_errors_name_the_line() -> None:
    with pytest.raises(DockerfileError, match=r"^Dockerfile:3: USER: unable to find user app"):
        build("FROM base\nRUN a\nUSER app\n")
    with pytest.raises(DockerfileError, match=r"^Dockerfile:2: ENV: missing '}' in variable reference"):
        build("FROM base\nENV a=${b\n")
    with pytest.raises(DockerfileError, match=r"^Dockerfile:2: RUN: cannot run a command in an empty image"):
        build("FROM scratch\nRUN a\n")
