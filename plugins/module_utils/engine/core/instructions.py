# SPDX-License-Identifier: GPL-3.0-or-later
"""Dockerfile words and metadata instructions, pure: ``docker import/commit --change`` and the builder.

* :func:`words` / :func:`word`: Docker's word processing (quotes, the escape character, ``$VAR``,
  ``${VAR}``, ``${VAR:-default}``, ``${VAR:+alternative}``), as moby's ``shell.Lex`` does it.
* :func:`apply_changes`: ``--change`` lines applied to a container config.
* :func:`apply_instruction`: one metadata instruction applied to a config, with the variables and the
  shell the builder has at that step (``build/builder.py``).
"""
from __future__ import annotations

import copy
import json
import posixpath
import re
import typing as t

from ..errors import InvalidOption

CHANGE_INSTRUCTIONS = (
    "CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
)
_ENV_NAME = re.compile(r"[A-Za-z0-9_]")
_SIGNALS = frozenset(
    "ABRT ALRM BUS CHLD CLD CONT FPE HUP ILL INT IO IOT KILL PIPE POLL PROF PWR QUIT SEGV STKFLT STOP SYS "
    "TERM TRAP TSTP TTIN TTOU UNUSED URG USR1 USR2 VTALRM WINCH XCPU XFSZ".split()
)
_PROTOCOLS = ("tcp", "udp", "sctp")


class InstructionError(ValueError):
    """Bad instruction text; *reason* says why (callers name the file, line or field)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_ChangeError = InstructionError


def _env_map(config: t.Mapping[str, t.Any]) -> dict[str, str]:
    out = {}
    for item in config.get("Env") or []:
        key, dummy, value = str(item).partition("=")
        out[key] = value
    return out


def words(text: str, env: t.Mapping[str, str], escape: str = "\\") -> list[str]:
    """*text* split into words as a Dockerfile argument list is, each processed (quotes, escapes,
    variables from *env*); raises :class:`InstructionError`."""
    return _words(text, env, True, escape)


def word(text: str, env: t.Mapping[str, str], escape: str = "\\") -> str:
    """*text* processed as one word (white space kept); raises :class:`InstructionError`."""
    return "".join(_words(text, env, False, escape))


def _words(text: str, env: t.Mapping[str, str], split: bool = True, escape: str = "\\") -> list[str]:
    """Dockerfile word processing: quotes, escapes (*escape*) and ``$VAR`` / ``${VAR:-x}`` / ``${VAR:+x}``.

    *split* False processes *text* as one word (white space kept).
    """
    words: list[str] = []
    cur: list[str] = []
    started = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if split and c.isspace():
            if started:
                words.append("".join(cur))
                cur, started = [], False
            i += 1
            continue
        if c == "$":  # unquoted: a word that is only an empty expansion is no word (as in a shell)
            value, i = _expand(text, i, env, escape)
            cur.append(value)
            started = started or bool(value)
            continue
        started = True
        if c == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise _ChangeError("unterminated single quote")
            cur.append(text[i + 1:end])
            i = end + 1
        elif c == '"':
            i += 1
            while True:
                if i >= n:
                    raise _ChangeError("unterminated double quote")
                c = text[i]
                if c == '"':
                    i += 1
                    break
                if c == escape and i + 1 < n and text[i + 1] in '"$' + escape:
                    cur.append(text[i + 1])
                    i += 2
                elif c == "$":
                    value, i = _expand(text, i, env, escape)
                    cur.append(value)
                else:
                    cur.append(c)
                    i += 1
        elif c == escape:
            if i + 1 < n:
                cur.append(text[i + 1])
            i += 2
        else:
            cur.append(c)
            i += 1
    if started:
        words.append("".join(cur))
    return words


def _expand(text: str, i: int, env: t.Mapping[str, str], escape: str = "\\") -> tuple[str, int]:
    """Expand the variable reference at ``text[i] == '$'``; return (value, next index)."""
    n = len(text)
    if i + 1 < n and text[i + 1] == "{":
        end = text.find("}", i + 2)
        if end < 0:
            raise _ChangeError("missing '}' in variable reference")
        body = text[i + 2:end]
        for op in (":-", ":+"):
            if op in body:
                name, alt = body.split(op, 1)
                value = env.get(name, "")
                if op == ":-":
                    result = value if value else "".join(_words(alt, env, False, escape))
                else:
                    result = "".join(_words(alt, env, False, escape)) if value else ""
                return result, end + 1
        if not body or not all(_ENV_NAME.match(c) for c in body):
            raise _ChangeError(f"bad variable reference ${{{body}}}")
        return env.get(body, ""), end + 1
    j = i + 1
    while j < n and _ENV_NAME.match(text[j]):
        j += 1
    if j == i + 1:
        return "$", i + 1
    return env.get(text[i + 1:j], ""), j


DEFAULT_SHELL = ("/bin/sh", "-c")


def json_form(rest: str) -> list[str] | None:
    """The JSON (exec) form of an argument, a list of strings; None when *rest* is not one."""
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(x, str) for x in value):
            return value
    return None


def _exec_or_shell(rest: str, shell: t.Sequence[str] = DEFAULT_SHELL) -> list[str]:
    """JSON array form as is; anything else (or invalid JSON) becomes *shell* (``/bin/sh -c``) + *rest*."""
    value = json_form(rest)
    return list(shell) + [rest] if value is None else value


def _first_word(text: str, escape: str) -> str:
    """The first word of *text* as written (quotes and escapes skipped over, not processed)."""
    i, n = 0, len(text)
    quote = ""
    while i < n:
        c = text[i]
        if quote:
            if c == quote:
                quote = ""
            elif c == escape and quote == '"':
                i += 1
        elif c in "'\"":
            quote = c
        elif c == escape:
            i += 1
        elif c.isspace():
            break
        i += 1
    return text[:i]


def pairs(rest: str, env: t.Mapping[str, str], instr: str, escape: str = "\\") -> list[tuple[str, str]]:
    """``k=v k2="v 2"`` or the legacy one-pair form ``k v with spaces`` (ENV, LABEL)."""
    first = _first_word(rest, escape)
    if "=" not in first:
        value = rest[len(first):].strip()
        if not value:
            raise _ChangeError(f"{instr} needs a value: {instr} key=value or {instr} key value")
        return [("".join(_words(first, env, False, escape)), "".join(_words(value, env, False, escape)))]
    out = []
    for word in _words(rest, env, True, escape):
        key, eq, value = word.partition("=")
        if not eq or not key:
            raise _ChangeError(f"{instr} expects key=value pairs, got {word!r}")
        out.append((key, value))
    return out


def ports(items: list[str]) -> list[str]:
    """EXPOSE arguments (``80``, ``53/udp``, ``8000-8002``) as ``port/proto`` keys."""
    out = []
    for word in items:
        spec, dummy, proto = word.partition("/")
        proto = (proto or "tcp").lower()
        if proto not in _PROTOCOLS:
            raise _ChangeError(f"invalid protocol {proto!r} in {word!r} (tcp, udp or sctp)")
        lo, dash, hi = spec.partition("-")
        try:
            start, end = int(lo), int(hi) if dash else int(lo)
        except ValueError:
            raise _ChangeError(f"invalid port {word!r}") from None
        if not (0 < start <= end <= 65535):
            raise _ChangeError(f"invalid port {word!r}")
        out.extend(f"{p}/{proto}" for p in range(start, end + 1))
    return out


def check_signal(value: str) -> None:
    """Raise :class:`InstructionError` unless *value* names a signal (``SIGTERM``, ``TERM``, ``15``)."""
    if value.isdigit():
        if 0 < int(value) <= 64:
            return
        raise _ChangeError(f"invalid signal number {value}")
    name = value.upper()
    name = name[3:] if name.startswith("SIG") else name
    if name in _SIGNALS or re.match(r"^RT(MIN|MAX)([+-]\d+)?$", name):
        return
    raise _ChangeError(f"invalid signal {value!r}")


def apply_changes(config: t.Mapping[str, t.Any], changes: t.Sequence[str]) -> dict[str, t.Any]:
    """Apply ``docker import --change`` Dockerfile instructions to a container config (pure).

    Supported like Docker: CMD, ENTRYPOINT (JSON array, or shell form run by
    ``/bin/sh -c``; ENTRYPOINT clears a CMD not set by these changes), ENV
    (``k=v ...`` or legacy ``k v``), EXPOSE (``80``, ``53/udp``, ranges),
    LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR (relative paths join the
    current one).  ``$VAR`` and ``${VAR:-default}`` expand from the ENV so far
    (not in CMD, ENTRYPOINT, ONBUILD).  Blank lines and ``#`` comments are skipped.
    Returns a new dict; raises :class:`InvalidOption` (field ``changes``) naming the line.
    """
    out: dict[str, t.Any] = copy.deepcopy(dict(config))
    cmd_set = False
    for line in changes:
        if not isinstance(line, str):
            raise InvalidOption("changes", line, "each change must be a string")
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split(None, 1)
        instr = parts[0].upper()
        rest = parts[1].strip() if len(parts) > 1 else ""
        if instr not in CHANGE_INSTRUCTIONS:
            raise InvalidOption(
                "changes", line, f"{parts[0]} is not a valid change instruction (use {', '.join(CHANGE_INSTRUCTIONS)})"
            )
        if not rest:
            raise InvalidOption("changes", line, f"{instr} needs an argument")
        try:
            cmd_set = apply_instruction(out, instr, rest, cmd_set)
        except _ChangeError as exc:
            raise InvalidOption("changes", line, exc.reason) from None
    return out


def apply_instruction(
    out: dict[str, t.Any],
    instr: str,
    rest: str,
    cmd_set: bool,
    env: t.Mapping[str, str] | None = None,
    shell: t.Sequence[str] = DEFAULT_SHELL,
    escape: str = "\\",
) -> bool:
    """Apply one metadata instruction (:data:`CHANGE_INSTRUCTIONS` and HEALTHCHECK-free) to the container
    config *out* in place; return whether CMD has been set (ENTRYPOINT clears a CMD not set yet).

    *env* holds the variables ``$VAR`` expands from (default: the config's ENV); *shell* runs the shell
    form of CMD and ENTRYPOINT. Raises :class:`InstructionError`.
    """
    if env is None:
        env = _env_map(out)

    def many(text: str) -> list[str]:
        return _words(text, env or {}, True, escape)

    def one(text: str) -> str:
        return "".join(_words(text, env or {}, False, escape))

    if instr == "CMD":
        out["Cmd"] = _exec_or_shell(rest, shell)
        return True
    if instr == "ENTRYPOINT":
        out["Entrypoint"] = _exec_or_shell(rest, shell)
        if not cmd_set:
            out.pop("Cmd", None)
    elif instr == "ENV":
        items = list(out.get("Env") or [])
        for key, value in pairs(rest, env, instr, escape):
            entry = f"{key}={value}"
            for i, old in enumerate(items):
                if old.partition("=")[0] == key:
                    items[i] = entry
                    break
            else:
                items.append(entry)
        out["Env"] = items
    elif instr == "LABEL":
        labels = dict(out.get("Labels") or {})
        labels.update(pairs(rest, env, instr, escape))
        out["Labels"] = labels
    elif instr == "EXPOSE":
        exposed = dict(out.get("ExposedPorts") or {})
        for p in ports(many(rest)):
            exposed[p] = {}
        out["ExposedPorts"] = exposed
    elif instr == "VOLUME":
        raw = json_form(rest)
        paths = [one(x) for x in raw] if raw is not None else many(rest)
        if not paths or any(not p.strip() for p in paths):
            raise _ChangeError("VOLUME paths must not be empty")
        volumes = dict(out.get("Volumes") or {})
        for p in paths:
            volumes[p] = {}
        out["Volumes"] = volumes
    elif instr == "USER":
        out["User"] = one(rest)
    elif instr == "WORKDIR":
        wd = one(rest)
        if not wd:
            raise _ChangeError("WORKDIR needs a path")
        out["WorkingDir"] = posixpath.normpath(posixpath.join("/", out.get("WorkingDir") or "", wd))
    elif instr == "STOPSIGNAL":
        sig = one(rest)
        check_signal(sig)
        out["StopSignal"] = sig
    elif instr == "ONBUILD":
        trigger = rest.split(None, 1)[0].upper()
        if trigger in ("ONBUILD", "FROM", "MAINTAINER"):
            raise _ChangeError(f"{trigger} is not allowed as an ONBUILD trigger")
        out["OnBuild"] = list(out.get("OnBuild") or []) + [rest]
    else:
        raise _ChangeError(f"{instr} is not a metadata instruction")
    return cmd_set
