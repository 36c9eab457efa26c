# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs a parsed Dockerfile, step by step, as Docker's classic builder does.

Each step starts from the image of the step before and ends with a new image (an untagged intermediate
one, as the classic builder keeps them): RUN, COPY and ADD add one layer, every other instruction only
changes the config and adds a history entry with ``empty_layer``. The store and the containers come
through the injected :class:`Backend` (``services/build.py``); this module decides what each step does,
its config, its history line and its cache key.

Cache: a step's key is the parent image ID, the instruction as expanded and, for RUN, the build
arguments it sees, for COPY/ADD the content of the files it copies (names, types, modes, owners,
bytes; not times). A key the backend knows, whose image still exists, is a hit: the step is not run.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import os
import posixpath
import stat
import tarfile
import tempfile
import time
import typing as t

from ..core.fasthash import sha256
from ..core.instructions import DEFAULT_SHELL, InstructionError, apply_instruction, word, words
from ..errors import BuildError, DockerfileError
from . import dockerfile as df
from .context import Context, content_hash

#: Docker's limit on the layers of an image (overlay's lower dirs).
MAX_LAYERS = 127
#: Build arguments Docker knows without an ARG line (not written to history).
PREDEFINED_ARGS = frozenset({
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy",
    "ALL_PROXY", "all_proxy",
})
_ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


class Backend(t.Protocol):
    """What the builder needs from the store and the container runtime (``services/build.py``)."""

    def base(self, name: str, pull: bool, platform: str | None) -> tuple[str, dict[str, t.Any]]:
        """(image ID, image config) of a FROM image, pulled when missing or when *pull*."""

    def scratch(self) -> dict[str, t.Any]:
        """The config of an empty image for this host (architecture, os)."""

    def commit(self, parent: str | None, config: dict[str, t.Any], layer: str | None) -> str:
        """Store *config* (its ``rootfs.diff_ids`` those of *parent*) plus the layer tar file *layer*."""

    def run(self, image: str, argv: list[str], env: dict[str, str], network: str | None) -> tuple[int, str]:
        """Run *argv* in a container of *image*; (exit code, path of its layer tar)."""

    def put(self, image: str, archive: str) -> str:
        """Extract the tar file *archive* at ``/`` of a container of *image*, keeping owners; its layer tar."""

    def kind(self, image: str, path: str) -> str | None:
        """``dir``, ``file`` (anything else) or None: what *path* is in *image* (symlinks not followed)."""

    def lstat(self, image: str, path: str) -> os.stat_result | None:
        """The image's entry at *path*, None when it has none (symlinks not followed)."""

    def read(self, image: str, path: str) -> bytes | None:
        """The content of the file *path* in *image*; None when there is none."""

    def mount(self, image: str) -> t.ContextManager[str]:
        """*image*'s file system, read-only, as a directory (COPY --from)."""

    def cache_get(self, key: str) -> str | None: ...

    def cache_put(self, key: str, image: str) -> None: ...


@dataclasses.dataclass
class BuildOptions:
    build_args: dict[str, str] = dataclasses.field(default_factory=dict)
    target: str | None = None
    no_cache: bool = False
    pull: bool = False
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    network: str | None = None
    platform: str | None = None
    #: only say whether the build would run a step: walk the cache, run and pull nothing (check mode)
    dry_run: bool = False


class WouldBuild(Exception):
    """Raised inside a dry run at the first step the cache does not have (or a base image to pull)."""


@dataclasses.dataclass
class BuildResult:
    #: the built image; in a dry run, the image the cache already holds, "" when a step would run
    image_id: str
    steps: int
    cached: int
    warnings: list[str]


@dataclasses.dataclass
class _Stage:
    image: str | None
    config: dict[str, t.Any]
    args: dict[str, str]
    cmd_set: bool = False
    shell: list[str] = dataclasses.field(default_factory=lambda: list(DEFAULT_SHELL))
    #: the ARG values before the first FROM (an ARG without a value in the stage takes one from there)
    meta: dict[str, str] = dataclasses.field(default_factory=dict)


Say = t.Callable[[str], None]


def _quiet(_line: str) -> None:
    pass


class Builder:
    def __init__(self, backend: Backend, context: Context, parsed: df.Dockerfile, options: BuildOptions,
                 say: Say = _quiet, duration: t.Callable[[str, str], int] | None = None,
                 go_duration: t.Callable[[int], str] | None = None) -> None:
        self.backend = backend
        self.context = context
        self.df = parsed
        self.opts = options
        self.say = say
        self._duration = duration
        self._go_duration = go_duration
        self.stages: dict[str, str] = {}
        self.used_args: set[str] = set()
        self.steps = 0
        self.cached = 0
        self.step = 0
        self.total = 0

    # ------------------------------------------------------------------ driver
    def build(self) -> BuildResult:
        try:
            return self._build()
        except WouldBuild:
            return BuildResult("", self.steps, self.cached, [])

    def _build(self) -> BuildResult:
        target = self.df.stage(self.opts.target)
        stages = self.df.stages[: target.index + 1]
        self.total = sum(1 + len(s.instructions) for s in stages)
        meta = self._meta_args()
        image = ""
        for stage in stages:
            image = self._stage(stage, meta)
            if stage.name:
                self.stages[stage.name] = image
            self.stages[str(stage.index)] = image
        if self.opts.labels:
            image = self._labels(image)
        unused = sorted(set(self.opts.build_args) - self.used_args - PREDEFINED_ARGS)
        warnings = [f"[Warning] One or more build-args {unused} were not consumed"] if unused else []
        return BuildResult(image, self.steps, self.cached, warnings)

    def _meta_args(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for ins in self.df.meta_args:
            for name, default in self._arg_items(ins, out):
                value = self.opts.build_args.get(name, default)
                if name in self.opts.build_args:
                    self.used_args.add(name)
                if value is not None:
                    out[name] = value
        return out

    def _fail(self, ins: df.Instruction, reason: str) -> t.NoReturn:
        raise DockerfileError(self.df.path, ins.line, ins.cmd, reason)

    def _stage(self, stage: df.Stage, meta: dict[str, str]) -> str:
        ins = stage.source
        self._announce(ins.original)
        try:
            base = word(stage.base, meta, self.df.escape)
        except InstructionError as exc:
            self._fail(ins, exc.reason)
        if base.lower() in self.stages:
            image = self.stages[base.lower()]
            state = _Stage(image, self.backend.base(image, False, None)[1], {})
        elif base == "scratch":
            state = _Stage(None, self.backend.scratch(), {})
        else:
            platform = word(stage.platform, meta, self.df.escape) if stage.platform else self.opts.platform
            image, config = self.backend.base(base, self.opts.pull, platform)
            state = _Stage(image, config, {})
        state.config = copy.deepcopy(state.config)
        state.config.setdefault("config", {})
        state.shell = list(state.config["config"].get("Shell") or DEFAULT_SHELL)
        _docker_defaults(state.config["config"], state.image)
        if state.image:
            self.say(f" ---> {_short(state.image)}")
        self.steps += 1
        state.meta = meta
        triggers = list(state.config["config"].get("OnBuild") or [])
        if triggers:
            state.config["config"]["OnBuild"] = None
            self.say(f"# Executing {len(triggers)} build trigger{'s' if len(triggers) > 1 else ''}")
            for text in triggers:
                trigger = df.parse(f"FROM scratch\n{text}", self.df.path).stages[0].instructions[0]
                trigger = dataclasses.replace(trigger, line=ins.line)
                self._run_instruction(state, trigger, announce=False)
        for item in stage.instructions:
            self._run_instruction(state, item)
        if state.image is None:  # FROM scratch and nothing else: an image without layers
            if self.opts.dry_run:
                raise WouldBuild("scratch")
            state.image = self._commit(state, None, "", "", None)
        return state.image

    def _announce(self, text: str) -> None:
        self.step += 1
        self.say(f"Step {self.step}/{self.total} : {text}")

    # ------------------------------------------------------------------ one instruction
    def _env(self, state: _Stage) -> dict[str, str]:
        env = dict(state.args)
        for item in state.config["config"].get("Env") or []:
            key, dummy, value = item.partition("=")
            env[key] = value
        return env

    def _run_instruction(self, state: _Stage, ins: df.Instruction, announce: bool = True) -> None:
        if announce:
            self._announce(ins.original)
        self.steps += 1
        cmd = ins.cmd
        try:
            if cmd == "RUN":
                self._run(state, ins)
            elif cmd in ("COPY", "ADD"):
                self._copy(state, ins)
            elif cmd == "ARG":
                self._arg(state, ins)
            else:
                self._metadata(state, ins)
        except InstructionError as exc:
            self._fail(ins, exc.reason)

    def _cached(self, key: str) -> str | None:
        image = None if self.opts.no_cache else self.backend.cache_get(key)
        if image is not None:
            self.cached += 1
            self.say(" ---> Using cache")
        elif self.opts.dry_run:
            raise WouldBuild(key)
        return image

    def _key(self, state: _Stage, *parts: t.Any) -> str:
        data = json.dumps([state.image or "scratch", *parts], sort_keys=True)
        return "sha256:" + sha256(data.encode()).hexdigest()

    def _use(self, state: _Stage, image: str) -> None:
        state.image = image
        state.config = copy.deepcopy(self.backend.base(image, False, None)[1])
        state.config.setdefault("config", {})
        self.say(f" ---> {_short(image)}")

    def _commit(self, state: _Stage, layer: str | None, created_by: str, key: str, comment: str | None) -> str:
        cfg = state.config
        entry: dict[str, t.Any] = {"created": _now(), "created_by": created_by}
        if comment:
            entry["comment"] = comment
        if layer is None:
            entry["empty_layer"] = True
        elif len(cfg.get("rootfs", {}).get("diff_ids") or []) >= MAX_LAYERS:
            raise BuildError(f"max depth exceeded: an image has at most {MAX_LAYERS} layers")
        cfg["created"] = entry["created"]
        cfg["config"]["Image"] = state.image or ""
        cfg["history"] = list(cfg.get("history") or []) + [entry]
        image = self.backend.commit(state.image, cfg, layer)
        if key:
            self.backend.cache_put(key, image)
        self._use(state, image)
        return image

    def _nop(self, state: _Stage, text: str, key_parts: t.Sequence[t.Any]) -> None:
        key = self._key(state, *key_parts, state.config["config"])
        hit = self._cached(key)
        if hit is not None:
            self._use(state, hit)
            return
        self._commit(state, None, _nop(state, text), key, None)

    def _metadata(self, state: _Stage, ins: df.Instruction) -> None:
        cfg = state.config["config"]
        env = self._env(state)
        cmd, rest = ins.cmd, ins.rest
        if cmd == "SHELL":
            state.shell = list(ins.json or [])
            cfg["Shell"] = list(state.shell)
            text = f"SHELL [{' '.join(state.shell)}]"
        elif cmd == "HEALTHCHECK":
            cfg["Healthcheck"] = self._health(ins)
            text = f"HEALTHCHECK {self._health_text(cfg['Healthcheck'])}"
        elif cmd == "MAINTAINER":
            state.config["author"] = word(rest, env, self.df.escape)
            text = f"MAINTAINER {state.config['author']}"
        else:
            state.cmd_set = apply_instruction(cfg, cmd, rest, state.cmd_set, env, state.shell, self.df.escape)
            if cmd == "CMD":
                text = f"CMD {_go_quoted(cfg['Cmd'])}"
            elif cmd == "ENTRYPOINT":
                text = f"ENTRYPOINT {_go_quoted(cfg['Entrypoint'])}"
            elif cmd == "ENV":
                text = "ENV " + " ".join(f"{k}={v}" for k, v in _pairs(rest, env, self.df.escape))
            elif cmd == "LABEL":
                text = "LABEL " + " ".join(f"{k}={v}" for k, v in _pairs(rest, env, self.df.escape))
            elif cmd == "WORKDIR":
                text = f"WORKDIR {cfg['WorkingDir']}"
            elif cmd == "USER":
                text = f"USER {cfg['User']}"
            elif cmd == "EXPOSE":
                text = "EXPOSE " + " ".join(sorted(words(rest, env, self.df.escape)))
            elif cmd == "VOLUME":
                text = "VOLUME [" + " ".join(words(rest, env, self.df.escape) if ins.json is None else ins.json) + "]"
            else:
                text = f"{cmd} {rest}"
        if cmd == "USER":
            self._check_user(state, ins, cfg["User"])
        if cmd == "WORKDIR" and state.image is not None:
            self._workdir(state, state.image, cfg["WorkingDir"], text)
            return
        self._nop(state, text, [text])

    def _check_user(self, state: _Stage, ins: df.Instruction, spec: str) -> None:
        """USER names a user (and group) the image has: a name must be in its /etc/passwd (/etc/group);
        numeric IDs need no entry (as runc resolves them when the container starts)."""
        user, dummy, group = spec.partition(":")
        for name, path, what in ((user, "/etc/passwd", "user"), (group, "/etc/group", "group")):
            if not name or name.isdigit():
                continue
            data = self.backend.read(state.image, path) if state.image else None
            if not any(line.split(":", 1)[0] == name for line in (data or b"").decode("utf-8", "replace").splitlines()):
                self._fail(ins, f"unable to find {what} {name}: no matching entries in {path} of the image")

    def _workdir(self, state: _Stage, image: str, path: str, text: str) -> None:
        """WORKDIR: created (root's, 0755) when missing, as a layer; a config-only step otherwise."""
        if self.backend.kind(image, path) == "dir":
            self._nop(state, text, [text])
            return
        key = self._key(state, text, state.config["config"])
        hit = self._cached(key)
        if hit is not None:
            self._use(state, hit)
            return
        layer = self._layer([_dir_entry(p) for p in _parents(path) if self.backend.kind(image, p) is None], state)
        try:
            self._commit(state, layer, _nop(state, text), key, None)
        finally:
            os.unlink(layer)

    def _health_text(self, health: t.Mapping[str, t.Any]) -> str:
        """Go's ``%v`` of Docker's HealthConfig, as the classic builder's history shows it."""
        fmt = self._go_duration or (lambda ns: f"{ns}ns")
        durations = " ".join(f'"{fmt(int(health.get(k) or 0))}"' for k in ("Interval", "Timeout", "StartPeriod"))
        retries = int(health.get("Retries") or 0)
        rune = f"'{chr(retries)}'" if 0x20 <= retries < 0x7F and chr(retries) not in "'\\" else f"'\\x{retries:02x}'"
        return f"&{{{_go_quoted(health['Test'])} {durations} {rune}}}"

    def _health(self, ins: df.Instruction) -> dict[str, t.Any]:
        test = df.health_test(ins)
        out: dict[str, t.Any] = {"Test": test}
        if test == ["NONE"]:
            return out
        for flag, key in (("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod"),
                          ("start-interval", "StartInterval")):
            value = ins.flag(flag)
            if value is not None:
                if self._duration is None:
                    self._fail(ins, f"--{flag} is not supported here")
                ns = self._duration(value, f"HEALTHCHECK --{flag}")
                if 0 < ns < 1_000_000:
                    self._fail(ins, f"--{flag} cannot be less than 1ms")
                if ns:
                    out[key] = ns
        retries = ins.flag("retries")
        if retries is not None and int(retries):
            out["Retries"] = int(retries)
        return out

    def _arg_items(self, ins: df.Instruction, env: t.Mapping[str, str]) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for item in words(ins.rest, env, self.df.escape):
            name, eq, value = item.partition("=")
            out.append((name, value if eq else None))
        return out

    def _arg(self, state: _Stage, ins: df.Instruction) -> None:
        meta = state.meta
        shown = []
        for name, written in self._arg_items(ins, self._env(state)):
            default = meta.get(name) if written is None else written
            if name in self.opts.build_args:
                self.used_args.add(name)
                value: str | None = self.opts.build_args[name]
            else:
                value = default
            if value is not None:
                state.args[name] = value
            shown.append(name if written is None else f"{name}={written}")
        text = "ARG " + " ".join(shown)
        self._nop(state, text, [text, sorted(state.args.items())])

    # ------------------------------------------------------------------ RUN
    def _run(self, state: _Stage, ins: df.Instruction) -> None:
        if ins.json is not None:
            argv = list(ins.json)
            shown = " ".join(argv)
        else:
            argv = list(state.shell) + [ins.rest]
            shown = " ".join(argv)
        env_args = {k: v for k, v in state.args.items() if k not in PREDEFINED_ARGS}
        if env_args:
            shown = f"|{len(env_args)} " + " ".join(f"{k}={v}" for k, v in sorted(env_args.items())) + " " + shown
        key = self._key(state, "RUN", argv, sorted(state.args.items()), state.config["config"])
        hit = self._cached(key)
        if hit is not None:
            self._use(state, hit)
            return
        if state.image is None:
            self._fail(ins, "cannot run a command in an empty image (FROM scratch)")
        network = ins.flag("network") or self.opts.network
        code, layer = self.backend.run(state.image, argv, dict(state.args), network)
        if code != 0:
            os.unlink(layer)
            raise BuildError(f"The command '{' '.join(argv)}' returned a non-zero code: {code}")
        try:
            self._commit(state, layer, shown, key, None)
        finally:
            if os.path.exists(layer):
                os.unlink(layer)

    # ------------------------------------------------------------------ COPY / ADD
    def _copy(self, state: _Stage, ins: df.Instruction) -> None:
        env = self._env(state)
        args = [word(a, env, self.df.escape) for a in ins.json] if ins.json is not None else \
            words(ins.rest, env, self.df.escape)
        if len(args) < 2:
            self._fail(ins, f"{ins.cmd} requires at least two arguments")
        srcs, dest = args[:-1], args[-1]
        wd = state.config["config"].get("WorkingDir") or "/"
        dest_dir = dest.endswith("/") or dest in (".", "..") or dest.endswith("/.")
        dest_path = posixpath.normpath(posixpath.join("/", wd, dest))
        chown = ins.flag("chown")
        chmod = ins.flag("chmod")
        owner = self._owner(state, ins, word(chown, env, self.df.escape)) if chown else (0, 0)
        from_ = ins.flag("from")
        with _Sources(self, state, ins, from_) as sources:
            items = sources.collect(srcs)
            if len(items) > 1 and not dest_dir and not (
                    state.image is not None and self.backend.kind(state.image, dest_path) == "dir"):
                self._fail(ins, f"When using {ins.cmd} with more than one source file, the destination must be a "
                                "directory and end with a /")
            entries, digest, kind = sources.plan(items, dest_path, dest_dir, owner, chmod)
            text = f"{ins.cmd} {kind}:{digest.split(':', 1)[1]} in {dest} "
            key = self._key(state, ins.cmd, digest, dest_path, owner, chmod, state.config["config"])
            hit = self._cached(key)
            if hit is not None:
                self._use(state, hit)
                return
            made = {ti.name.rstrip("/") for ti, dummy in entries}
            above = {"/".join(ti.name.split("/")[:i]) for ti, dummy in entries
                     for i in range(1, ti.name.rstrip("/").count("/") + 1)} - made
            # the directories the copy needs that the image lacks: made as Docker makes them (0755, --chown)
            parents = [_dir_entry("/" + p, *owner) for p in sorted(above, key=lambda n: (n.count("/"), n))
                       if (self.backend.kind(state.image, "/" + p) if state.image else None) is None]
            layer = self._layer(parents + entries, state)
        try:
            self._commit(state, layer, _nop(state, text), key, None)
        finally:
            if os.path.exists(layer):
                os.unlink(layer)

    def _layer(self, entries: list[tuple[tarfile.TarInfo, str | None]], state: _Stage) -> str:
        """The layer of COPY/ADD/WORKDIR *entries* (paths relative to ``/``, parents before children).

        When every directory above them is a directory of the image or one of the entries, and no entry
        changes the type of what the image has there, the layer is the entries themselves, with each of
        the image's directories above them as it is (what the upper dir of a copy would hold): no
        container. Otherwise (a symlink on the way, a file replaced by a directory ...) the entries are
        extracted in a container of the image, chrooted, and the layer is its upper dir."""
        image = state.image
        direct = self._direct(entries, image)
        if direct is not None:
            return _tar_file(direct + entries)
        archive = _tar_file(entries)
        try:
            return self.backend.put(image or self._commit_empty(state), archive)
        finally:
            os.unlink(archive)

    def _direct(self, entries: list[tuple[tarfile.TarInfo, str | None]],
                image: str | None) -> list[tuple[tarfile.TarInfo, str | None]] | None:
        made = {ti.name.rstrip("/"): ti.isdir() for ti, dummy in entries}
        above: dict[str, tuple[tarfile.TarInfo, str | None]] = {}
        for ti, dummy in entries:
            name = ti.name.rstrip("/")
            st = self.backend.lstat(image, "/" + name) if image else None
            if st is not None and stat.S_ISDIR(st.st_mode) != ti.isdir():
                return None
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                parent = "/".join(parts[:i])
                if parent in made:
                    if not made[parent]:
                        return None
                    continue
                if parent in above:
                    continue
                pst = self.backend.lstat(image, "/" + parent) if image else None
                if pst is None or not stat.S_ISDIR(pst.st_mode):
                    return None
                entry = tarfile.TarInfo(parent)
                entry.type = tarfile.DIRTYPE
                entry.mode = stat.S_IMODE(pst.st_mode)
                entry.uid, entry.gid, entry.mtime = pst.st_uid, pst.st_gid, int(pst.st_mtime)
                above[parent] = (entry, None)
        return [above[k] for k in sorted(above, key=lambda n: n.count("/"))]

    def _commit_empty(self, state: _Stage) -> str:
        """FROM scratch: an image without layers to put the first files into (not a build step)."""
        state.image = self.backend.commit(None, copy.deepcopy(state.config), None)
        return state.image

    def _owner(self, state: _Stage, ins: df.Instruction, spec: str) -> tuple[int, int]:
        user, dummy, group = spec.partition(":")
        group = group or user if not dummy else group

        def lookup(name: str, path: str, what: str) -> int:
            if name.isdigit():
                return int(name)
            data = self.backend.read(state.image, path) if state.image else None
            for line in (data or b"").decode("utf-8", "replace").splitlines():
                fields = line.split(":")
                if len(fields) > 2 and fields[0] == name and fields[2].isdigit():
                    return int(fields[2])
            self._fail(ins, f"unable to convert {what} {name!r} to an ID: no such {what} in {path}")

        uid = lookup(user, "/etc/passwd", "user")
        if not dummy and not user.isdigit():
            data = self.backend.read(state.image, "/etc/passwd") if state.image else None
            for line in (data or b"").decode("utf-8", "replace").splitlines():
                fields = line.split(":")
                if len(fields) > 3 and fields[0] == user and fields[3].isdigit():
                    return uid, int(fields[3])
        gid = lookup(group, "/etc/group", "group")
        return uid, gid

    def _labels(self, image: str) -> str:
        """``--label``: one more config step on the final image, as Docker adds them."""
        config = copy.deepcopy(self.backend.base(image, False, None)[1])
        state = _Stage(image, config, {})
        labels = dict(state.config.setdefault("config", {}).get("Labels") or {})
        labels.update(self.opts.labels)
        state.config["config"]["Labels"] = labels
        text = "LABEL " + " ".join(f"{k}={v}" for k, v in sorted(self.opts.labels.items()))
        self._nop(state, text, [text])
        return state.image or image


class _Sources:
    """Where COPY/ADD take files from: the context, another stage or image (mounted), or URLs (ADD)."""

    def __init__(self, builder: Builder, state: _Stage, ins: df.Instruction, from_: str | None) -> None:
        self.b = builder
        self.state = state
        self.ins = ins
        self.from_ = from_
        self._mount: t.ContextManager[str] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.context = builder.context

    def __enter__(self) -> _Sources:
        if self.from_ is not None:
            if self.ins.cmd != "COPY":
                self.b._fail(self.ins, "--from is only for COPY")
            name = self.from_.lower()
            image = self.b.stages.get(name)
            if image is None:
                if name in [s.name for s in self.b.df.stages if s.name] or name.isdigit():
                    self.b._fail(self.ins, f"stage {self.from_!r} is not built before this one")
                image = self.b.backend.base(self.from_, self.b.opts.pull, None)[0]
            self._mount = self.b.backend.mount(image)
            root = self._mount.__enter__()
            self.context = Context(None)
            self.context.root = root
        return self

    def __exit__(self, *exc: t.Any) -> None:
        if self._mount is not None:
            self._mount.__exit__(*exc)
        if self._tmp is not None:
            self._tmp.cleanup()

    def collect(self, srcs: list[str]) -> list[tuple[str, list[t.Any], bool]]:
        """[(source as written, [context.Source], is a URL download)]."""
        out = []
        for src in srcs:
            if self.ins.cmd == "ADD" and src.startswith(("http://", "https://")):
                out.append((src, [self._download(src)], True))
                continue
            if src.startswith(("http://", "https://")):
                self.b._fail(self.ins, "COPY cannot copy from a URL (use ADD)")
            out.append((src, self.context.resolve(src, self.ins.cmd), False))
        return out

    def _tmpdir(self) -> str:
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="berth-add-")
        return self._tmp.name

    def _download(self, url: str) -> t.Any:
        from email.utils import parsedate_to_datetime  # here, as urlparse: only ADD of a URL needs them
        from urllib.parse import urlparse

        from ..core.lazy import lazy_import
        from .context import Source

        requests = lazy_import("requests", "ADD from a URL",
                               "apt-get install python3-requests, or pip install requests")
        name = posixpath.basename(urlparse(url).path) or "download"
        path = os.path.join(self._tmpdir(), name)
        try:
            with requests.get(url, timeout=60, stream=True) as resp, open(path, "wb") as fh:
                resp.raise_for_status()
                for chunk in resp.iter_content(1 << 20):
                    fh.write(chunk)
                modified = resp.headers.get("Last-Modified")
        except (OSError, requests.RequestException) as exc:
            raise BuildError(f"ADD failed: cannot download {url}: {exc}") from None
        os.chmod(path, 0o600)
        if modified:
            try:
                ts = parsedate_to_datetime(modified).timestamp()
                os.utime(path, (ts, ts))
            except (TypeError, ValueError):
                pass
        return Source(name, path, os.lstat(path))

    def plan(self, items: list[tuple[str, list[t.Any], bool]], dest: str, dest_dir: bool, owner: tuple[int, int],
             chmod: str | None) -> tuple[list[tuple[tarfile.TarInfo, str | None]], str, str]:
        """The tar entries of the copy, its content digest and Docker's history kind (file/dir/multi)."""
        entries: list[tuple[tarfile.TarInfo, str | None]] = []
        hashed: list[tuple[str, str, os.stat_result]] = []
        image = self.state.image
        many = len(items) > 1 or any(len(srcs) > 1 and not stat.S_ISDIR(srcs[0].st.st_mode)
                                     for dummy, srcs, dummy2 in items)
        into = dest_dir or many or (image is not None and self.b.backend.kind(image, dest) == "dir")
        kind = "multi" if many else "file"
        for written, srcs, is_url in items:
            top = srcs[0]
            if stat.S_ISDIR(top.st.st_mode) and not is_url:
                kind = "dir" if not many else kind
                if dest != "/" and (image is None or self.b.backend.kind(image, dest) != "dir"):
                    entries.append(_dir_entry(dest, *owner))
                base = top.rel
                for src in srcs[1:]:
                    rel = src.rel[len(base):].lstrip("/") if base else src.rel
                    entries.append(self._entry(src, posixpath.join(dest, rel), owner, chmod))
                    hashed.append((rel, src.path, src.st))
                continue
            for src in srcs:
                if self.ins.cmd == "ADD" and not is_url and _is_archive(src.path):
                    if dest != "/" and (image is None or self.b.backend.kind(image, dest) != "dir"):
                        entries.append(_dir_entry(dest, *owner))
                    entries.extend(_archive_entries(src.path, dest, self._tmpdir()))
                    hashed.append(("archive:" + posixpath.basename(src.rel), src.path, src.st))
                    continue
                target = posixpath.join(dest, posixpath.basename(src.rel)) if into else dest
                entries.append(self._entry(src, target, owner, chmod))
                hashed.append((posixpath.basename(src.rel), src.path, src.st))
        return entries, content_hash(hashed), kind

    def _entry(self, src: t.Any, target: str, owner: tuple[int, int],
               chmod: str | None) -> tuple[tarfile.TarInfo, str | None]:
        st = src.st
        ti = tarfile.TarInfo(target.lstrip("/"))
        ti.mode = int(chmod, 8) if chmod else stat.S_IMODE(st.st_mode)
        ti.uid, ti.gid = owner
        ti.mtime = int(st.st_mtime)
        if stat.S_ISDIR(st.st_mode):
            ti.type = tarfile.DIRTYPE
            return ti, None
        if stat.S_ISLNK(st.st_mode):
            ti.type = tarfile.SYMTYPE
            ti.linkname = os.readlink(src.path)
            return ti, None
        if not stat.S_ISREG(st.st_mode):
            raise BuildError(f"{self.ins.cmd} failed: {src.rel} is not a regular file, directory or symlink")
        ti.size = st.st_size
        return ti, src.path


# ============================================================================ helpers
#: What the classic builder puts in an image config whose base has no PATH (moby ``system.DefaultPathEnv``).
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _docker_defaults(cfg: dict[str, t.Any], parent: str | None) -> None:
    """The container-config fields Docker's classic builder writes in every image config: the default PATH
    when the base has none, the parent image ID, empty hostname/domain name, no stdio attached."""
    env = list(cfg.get("Env") or [])
    if not any(item.startswith("PATH=") for item in env):
        cfg["Env"] = [DEFAULT_PATH] + env
    for key, value in (("Hostname", ""), ("Domainname", ""), ("AttachStdin", False), ("AttachStdout", False),
                       ("AttachStderr", False), ("Tty", False), ("OpenStdin", False), ("StdinOnce", False)):
        cfg.setdefault(key, value)
    cfg["Image"] = parent or ""


def _nop(state: _Stage, text: str) -> str:
    """The ``created_by`` of a step that runs nothing: the stage's shell, ``#(nop)``, the instruction (one
    space before WORKDIR, COPY and ADD, two before the others, as the classic builder writes them)."""
    space = " " if text.split(" ", 1)[0] in ("WORKDIR", "COPY", "ADD") else "  "
    return f"{' '.join(state.shell)} #(nop){space}{text}"


def _go_quoted(items: t.Sequence[str] | None) -> str:
    """Go's ``%q`` of a string slice: ``["a" "b"]``."""
    return "[" + " ".join(json.dumps(x) for x in items or ()) + "]"


def _short(image_id: str) -> str:
    return image_id.split(":", 1)[-1][:12]


def _now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e9):09d}Z"


def _pairs(rest: str, env: t.Mapping[str, str], escape: str) -> list[tuple[str, str]]:
    from ..core.instructions import pairs

    return pairs(rest, env, "", escape)


def _parents(path: str) -> list[str]:
    """``/a/b/c`` -> ``["/a", "/a/b", "/a/b/c"]``."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _dir_entry(path: str, uid: int = 0, gid: int = 0) -> tuple[tarfile.TarInfo, str | None]:
    ti = tarfile.TarInfo(path.strip("/"))
    ti.type = tarfile.DIRTYPE
    ti.mode = 0o755
    ti.uid, ti.gid = uid, gid
    ti.mtime = int(time.time())
    return ti, None


def _tar_file(entries: list[tuple[tarfile.TarInfo, str | None]]) -> str:
    fd, path = tempfile.mkstemp(prefix="berth-copy-", suffix=".tar")
    with os.fdopen(fd, "wb") as fh, tarfile.open(fileobj=fh, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for ti, src in entries:
            if src is None:
                tf.addfile(ti)
            else:
                with open(src, "rb") as data:
                    tf.addfile(ti, data)
    return path


def _is_archive(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return False
    if head.startswith(_ARCHIVE_MAGIC):
        return tarfile.is_tarfile(path)
    return tarfile.is_tarfile(path)


def _archive_entries(path: str, dest: str, spill_dir: str) -> list[tuple[tarfile.TarInfo, str | None]]:
    """ADD of a local tar archive (plain, gzip, bzip2, xz): its entries below *dest*, owners kept. Names
    that are absolute or climb out with ``..`` stay below *dest*; the extraction runs chrooted in the
    container, so no link can lead out of it either."""
    out: list[tuple[tarfile.TarInfo, str | None]] = []
    tmp = tempfile.mkdtemp(dir=spill_dir)
    with tarfile.open(path, "r:*") as tf:
        for i, member in enumerate(tf):
            name = posixpath.normpath("/" + member.name).lstrip("/")
            if not name or name == ".":
                continue
            ti = copy.copy(member)
            ti.name = posixpath.join(dest, name).lstrip("/")
            if member.islnk():
                ti.linkname = posixpath.join(dest, posixpath.normpath("/" + member.linkname).lstrip("/")).lstrip("/")
            if member.isreg():
                data = tf.extractfile(member)
                spill = os.path.join(tmp, str(i))
                with open(spill, "wb") as fh:
                    if data is not None:
                        for chunk in iter(lambda: data.read(1 << 20), b""):
                            fh.write(chunk)
                out.append((ti, spill))
            else:
                out.append((ti, None))
    return out


__all__ = ["Backend", "BuildOptions", "BuildResult", "Builder", "MAX_LAYERS", "WouldBuild"]
