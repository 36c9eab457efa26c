# SPDX-License-Identifier: GPL-3.0-or-later
"""The Dockerfile parser: text -> :class:`Dockerfile` (stages of :class:`Instruction`), pure.

Follows Docker's reference (moby/buildkit ``frontend/dockerfile/parser`` and ``instructions/parse.go``):

* Parser directives (``# syntax=...``, ``# escape=\\`` or ``# escape=```), only at the top of the file:
  the first line that is not a directive (a comment, a blank line, an instruction) ends them.
  ``syntax`` is recorded and otherwise ignored; a directive given twice is an error.
* Comments are lines whose first non-blank character is ``#``, also inside continuations; blank lines
  inside a continuation are skipped. A line ending in the escape character (trailing blanks allowed)
  continues on the next, which is appended as written (its leading blanks kept).
* An instruction is a case-insensitive keyword, ``--flag=value`` options (per instruction, as Docker's),
  and its arguments: the JSON (exec) form when the arguments are a JSON array of strings, else the shell
  form. Variables are *not* expanded here: that needs the build's ARG and ENV values at each step
  (``builder.py``, through ``core.instructions.words``).
* Stages: ``FROM image [AS name]``; only ``ARG`` may precede the first ``FROM`` (the meta args that
  ``FROM`` lines expand). Stage names are lower case, as Docker requires.

Every error is a :class:`DockerfileError` naming the file, the line and the instruction.
Heredocs (``RUN <<EOF``, a BuildKit extension) are refused.
"""
from __future__ import annotations

import dataclasses
import json
import re
import typing as t

from ..core.instructions import InstructionError, json_form, pairs, words
from ..errors import DockerfileError

#: Instruction -> the flags it accepts (``--name=value``; a flag without ``=`` is a boolean).
FLAGS: dict[str, frozenset[str]] = {
    "FROM": frozenset({"platform"}),
    "RUN": frozenset({"network", "mount", "security"}),
    "COPY": frozenset({"from", "chown", "chmod", "link"}),
    "ADD": frozenset({"chown", "chmod", "link", "checksum", "keep-git-dir"}),
    "HEALTHCHECK": frozenset({"interval", "timeout", "start-period", "start-interval", "retries"}),
}
INSTRUCTIONS = frozenset({
    "FROM", "RUN", "CMD", "ENTRYPOINT", "ENV", "ARG", "LABEL", "EXPOSE", "VOLUME", "WORKDIR", "USER", "SHELL",
    "STOPSIGNAL", "HEALTHCHECK", "ONBUILD", "COPY", "ADD", "MAINTAINER",
})
#: The instructions whose arguments may be in JSON form.
JSON_FORMS = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "VOLUME", "COPY", "ADD"})
#: Instructions ONBUILD may not carry.
NOT_TRIGGERS = frozenset({"ONBUILD", "FROM", "MAINTAINER"})
#: Flags whose values do not change the RUN/COPY result and that Berth does not implement (refused).
UNSUPPORTED_FLAGS = {
    ("RUN", "mount"): "RUN --mount (a BuildKit extension) is not supported",
    ("RUN", "security"): "RUN --security (a BuildKit extension) is not supported",
    ("ADD", "keep-git-dir"): "ADD from a git repository is not supported",
}

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9._-]*$")
_ARG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KNOWN_DIRECTIVES = ("syntax", "escape", "check")


@dataclasses.dataclass(frozen=True)
class Instruction:
    """One instruction as written: ``cmd`` upper case, ``flags`` as given, ``rest`` the argument text."""

    cmd: str
    rest: str
    line: int
    original: str
    flags: tuple[tuple[str, str | None], ...] = ()
    #: The JSON (exec) form of the arguments, for the instructions that have one; None: shell form.
    json: tuple[str, ...] | None = None
    #: ONBUILD: the trigger instruction.
    trigger: Instruction | None = None

    def flag(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.flags:
            if key == name:
                return value if value is not None else "true"
        return default

    @property
    def args(self) -> list[str]:
        """The arguments without variable processing: the JSON form, or the shell form split on blanks."""
        return list(self.json) if self.json is not None else self.rest.split()


@dataclasses.dataclass(frozen=True)
class Stage:
    """``FROM base [AS name]`` and the instructions up to the next ``FROM``."""

    index: int
    base: str
    name: str | None
    platform: str | None
    line: int
    instructions: tuple[Instruction, ...]
    source: Instruction


@dataclasses.dataclass(frozen=True)
class Dockerfile:
    path: str
    escape: str
    syntax: str | None
    #: ``ARG`` instructions before the first ``FROM``.
    meta_args: tuple[Instruction, ...]
    stages: tuple[Stage, ...]

    def stage(self, target: str | None) -> Stage:
        """The stage named (or numbered) *target*; the last one when None."""
        if target is None:
            return self.stages[-1]
        for stage in self.stages:
            if stage.name == target.lower():
                return stage
        raise DockerfileError(self.path, 0, "", f"target stage {target!r} could not be found")


def parse(text: str, path: str = "Dockerfile") -> Dockerfile:
    """Parse Dockerfile *text* (*path* names it in errors)."""
    escape, syntax, lines = _logical_lines(text, path)
    meta: list[Instruction] = []
    stages: list[Stage] = []
    current: list[Instruction] | None = None
    source: Instruction | None = None

    def close() -> None:
        if source is not None and current is not None:
            base, name, platform = _from_args(path, source)
            stages.append(Stage(len(stages), base, name, platform, source.line, tuple(current), source))

    for number, line in lines:
        ins = _instruction(path, number, line)
        if ins.cmd == "FROM":
            close()
            current, source = [], ins
            _from_args(path, ins)
        elif current is None:
            if ins.cmd != "ARG":
                raise DockerfileError(path, number, ins.cmd, "no build stage in current context: "
                                      "only ARG may come before the first FROM")
            meta.append(ins)
        else:
            current.append(ins)
    close()
    if not stages:
        raise DockerfileError(path, 0, "", "the Dockerfile has no FROM instruction")
    seen: set[str] = set()
    for s in stages:
        if s.name and s.name in seen:
            raise DockerfileError(path, s.line, "FROM", f"duplicate stage name {s.name!r}")
        seen.add(s.name or "")
    return Dockerfile(path, escape, syntax, tuple(meta), tuple(stages))


def _logical_lines(text: str, path: str) -> tuple[str, str | None, list[tuple[int, str]]]:
    """(escape character, syntax directive, [(first line number, joined instruction line)])."""
    raw = text.splitlines()
    directives: dict[str, str] = {}
    i = 0
    while i < len(raw):
        m = _DIRECTIVE.match(raw[i].strip())
        if not m:
            break
        key = m.group(1).lower()
        if key in _KNOWN_DIRECTIVES:
            if key in directives:
                raise DockerfileError(path, i + 1, "", f"only one {key} parser directive can be used")
            directives[key] = m.group(2)
        i += 1
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise DockerfileError(path, 0, "", f"invalid escape token {escape!r} does not match ` or \\")
    cont = re.compile(re.escape(escape) + r"[ \t]*$")
    out: list[tuple[int, str]] = []
    while i < len(raw):
        number = i + 1
        line = raw[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        joined, more = _trim_continuation(line, cont)
        while more and i < len(raw):
            nxt = raw[i]
            i += 1
            stripped = nxt.strip()
            if stripped.startswith("#"):
                continue
            if not stripped:
                continue
            part, more = _trim_continuation(nxt.rstrip("\r\n"), cont)
            joined += part
        if joined.strip():
            out.append((number, joined))
    return escape, directives.get("syntax"), out


def _trim_continuation(line: str, cont: re.Pattern[str]) -> tuple[str, bool]:
    m = cont.search(line)
    if m is None:
        return line, False
    return line[:m.start()], True


def _instruction(path: str, number: int, line: str) -> Instruction:
    parts = line.strip().split(None, 1)
    word = parts[0]
    cmd = word.upper()
    rest = parts[1].strip() if len(parts) > 1 else ""
    if cmd not in INSTRUCTIONS:
        raise DockerfileError(path, number, word, f"unknown instruction {word}")

    def fail(reason: str) -> t.NoReturn:
        raise DockerfileError(path, number, cmd, reason)

    flags: list[tuple[str, str | None]] = []
    while rest.startswith("--"):
        token, dummy, after = rest.partition(" ")
        if token == "--":
            break
        name, eq, value = token[2:].partition("=")
        if name not in FLAGS.get(cmd, ()):
            fail(f"unknown flag: --{name}")
        if (cmd, name) in UNSUPPORTED_FLAGS:
            fail(UNSUPPORTED_FLAGS[(cmd, name)])
        if any(k == name for k, dummy2 in flags):
            fail(f"duplicate flag specified: --{name}")
        flags.append((name, value if eq else None))
        rest = after.strip()
    if rest.startswith("<<") and cmd in ("RUN", "COPY", "ADD"):
        fail("heredocs (<<EOF, a BuildKit extension) are not supported")
    exec_form = json_form(rest) if cmd in JSON_FORMS else None
    ins = Instruction(cmd, rest, number, line.strip(), tuple(flags),
                      tuple(exec_form) if exec_form is not None else None)
    trigger = _check(path, ins, fail)
    if trigger is not None:
        ins = dataclasses.replace(ins, trigger=trigger)
    return ins


def _check(path: str, ins: Instruction, fail: t.Callable[[str], t.NoReturn]) -> Instruction | None:
    """Docker's per-instruction argument checks; returns the ONBUILD trigger."""
    cmd, rest = ins.cmd, ins.rest
    if cmd == "ONBUILD":
        if not rest:
            fail("ONBUILD requires at least one argument")
        sub = rest.split(None, 1)[0].upper()
        if sub in NOT_TRIGGERS:
            fail(f"{sub} isn't allowed as an ONBUILD trigger")
        return _instruction(path, ins.line, rest)
    if cmd in ("RUN", "CMD", "ENTRYPOINT"):
        if not rest:
            fail(f"{cmd} requires at least one argument")
    elif cmd == "SHELL":
        if ins.json is None:
            fail("SHELL requires the arguments to be in JSON form")
        if not ins.json:
            fail("SHELL requires at least one argument")
    elif cmd in ("COPY", "ADD"):
        if len(ins.args) < 2:
            fail(f"{cmd} requires at least two arguments, but only one was provided. Destination could not be "
                 "determined" if len(ins.args) == 1 else f"{cmd} requires at least two arguments")
        chmod = ins.flag("chmod")
        if chmod is not None and not re.fullmatch(r"[0-7]{3,4}", chmod):
            fail(f"invalid --chmod={chmod}: an octal mode such as 0755 is supported")
    elif cmd in ("ENV", "LABEL"):
        if not rest:
            fail(f"{cmd} requires at least one argument")
        try:
            found = pairs(rest, {}, cmd)
        except InstructionError as exc:
            fail(exc.reason)
        for key, dummy in found:
            if not key:
                fail(f"{cmd} names can not be blank")
    elif cmd == "ARG":
        if not rest:
            fail("ARG requires at least one argument")
        try:
            items = words(rest, {})
        except InstructionError as exc:
            fail(exc.reason)
        for item in items:
            name = item.partition("=")[0]
            if not _ARG_NAME.match(name):
                fail(f"invalid ARG name {name!r}")
    elif cmd in ("EXPOSE", "VOLUME"):
        if not rest or (ins.json is not None and not ins.json):
            fail(f"{cmd} requires at least one argument")
    elif cmd in ("WORKDIR", "USER", "STOPSIGNAL", "MAINTAINER"):
        if not rest:
            fail(f"{cmd} requires exactly one argument")
        if cmd == "STOPSIGNAL" and len(rest.split()) != 1:
            fail("STOPSIGNAL requires exactly one argument")
    elif cmd == "HEALTHCHECK":
        kind = rest.split(None, 1)[0].upper() if rest else ""
        if kind == "NONE":
            if rest.strip().upper() != "NONE" or ins.flags:
                fail("HEALTHCHECK NONE takes no other arguments")
        elif kind == "CMD":
            if not rest[3:].strip():
                fail("HEALTHCHECK CMD requires a command")
            retries = ins.flag("retries")
            if retries is not None and not retries.isdigit():
                fail(f"invalid --retries={retries}: a whole number is needed")
        else:
            fail(f"unknown type {kind!r} in HEALTHCHECK (try CMD)" if kind else "HEALTHCHECK requires an argument")
    elif cmd == "FROM":
        pass  # _from_args
    return None


def _from_args(path: str, ins: Instruction) -> tuple[str, str | None, str | None]:
    """(base image, stage name, platform) of a FROM instruction."""
    words = ins.rest.split()
    if len(words) == 1:
        return words[0], None, ins.flag("platform")
    if len(words) == 3 and words[1].upper() == "AS":
        name = words[2].lower()
        if not _STAGE_NAME.match(name):
            raise DockerfileError(path, ins.line, "FROM", f"invalid name for build stage: {words[2]!r}, name "
                                  "can't start with a number or contain symbols")
        return words[0], name, ins.flag("platform")
    raise DockerfileError(path, ins.line, "FROM", "FROM requires either one or three arguments (FROM image "
                          "[AS name])")


def health_test(ins: Instruction) -> list[str]:
    """The ``Healthcheck.Test`` of a HEALTHCHECK instruction: ``["NONE"]``, ``["CMD", ...]`` (JSON form)
    or ``["CMD-SHELL", "command"]``."""
    kind, dummy, command = ins.rest.partition(" ")
    if kind.upper() == "NONE":
        return ["NONE"]
    command = command.strip()
    exec_form = json_form(command)
    if exec_form is not None:
        return ["CMD"] + exec_form
    return ["CMD-SHELL", command]


def dumps(value: t.Any) -> str:
    """JSON as Docker writes it in history lines (``["a","b"]``)."""
    return json.dumps(value, separators=(",", ":"))
