# SPDX-License-Identifier: GPL-3.0-or-later
"""The Dockerfile parser, as tables: every instruction in both forms, directives, continuations, bad input."""
from __future__ import annotations

import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.build import dockerfile
from ansible_collections.berth.engine.plugins.module_utils.engine.core.instructions import words
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import DockerfileError

# (name, Dockerfile, [(cmd, rest, json form, flags)] of the last stage)
CASES: list[tuple[str, str, list[tuple[str, str, t.Any, dict[str, t.Any]]]]] = [
    ("run shell form", "FROM scratch\nRUN echo hi", [("RUN", "echo hi", None, {})]),
    ("run exec form", 'FROM scratch\nRUN ["echo", "hi"]', [("RUN", '["echo", "hi"]', ("echo", "hi"), {})]),
    ("run bad json is shell form", "FROM scratch\nRUN [echo", [("RUN", "[echo", None, {})]),
    ("keyword case", "from scratch\nrun true", [("RUN", "true", None, {})]),
    ("continuation", "FROM scratch\nRUN echo a \\\n    b", [("RUN", "echo a     b", None, {})]),
    ("continuation trailing blanks", "FROM scratch\nRUN a \\  \nb", [("RUN", "a b", None, {})]),
    ("comment inside continuation", "FROM scratch\nRUN a \\\n# note\n b", [("RUN", "a  b", None, {})]),
    ("blank inside continuation", "FROM scratch\nRUN a \\\n\n b", [("RUN", "a  b", None, {})]),
    ("comments and blank lines", "# c\n\nFROM scratch\n  # indented\nCMD x\n", [("CMD", "x", None, {})]),
    ("escape directive", "# escape=`\nFROM scratch\nRUN dir c:\\ `\n x", [("RUN", "dir c:\\  x", None, {})]),
    ("syntax directive", "# syntax=docker/dockerfile:1\nFROM scratch\nUSER u", [("USER", "u", None, {})]),
    ("directive after comment is a comment", "# hi\n# escape=`\nFROM scratch\nRUN a \\\n b",
     [("RUN", "a  b", None, {})]),
    ("cmd", 'FROM scratch\nCMD ["sh"]', [("CMD", '["sh"]', ("sh",), {})]),
    ("entrypoint", "FROM scratch\nENTRYPOINT top -b", [("ENTRYPOINT", "top -b", None, {})]),
    ("env both forms", "FROM scratch\nENV a=1 b=\"2 3\"\nENV c 4 5",
     [("ENV", 'a=1 b="2 3"', None, {}), ("ENV", "c 4 5", None, {})]),
    ("arg", "FROM scratch\nARG v=1", [("ARG", "v=1", None, {})]),
    ("label", 'FROM scratch\nLABEL "a b"=c', [("LABEL", '"a b"=c', None, {})]),
    ("expose", "FROM scratch\nEXPOSE 80 53/udp", [("EXPOSE", "80 53/udp", None, {})]),
    ("volume json", 'FROM scratch\nVOLUME ["/a", "/b"]', [("VOLUME", '["/a", "/b"]', ("/a", "/b"), {})]),
    ("volume shell", "FROM scratch\nVOLUME /a /b", [("VOLUME", "/a /b", None, {})]),
    ("workdir", "FROM scratch\nWORKDIR /app dir", [("WORKDIR", "/app dir", None, {})]),
    ("shell", 'FROM scratch\nSHELL ["/bin/ash", "-eo", "pipefail", "-c"]',
     [("SHELL", '["/bin/ash", "-eo", "pipefail", "-c"]', ("/bin/ash", "-eo", "pipefail", "-c"), {})]),
    ("stopsignal", "FROM scratch\nSTOPSIGNAL SIGINT", [("STOPSIGNAL", "SIGINT", None, {})]),
    ("healthcheck", "FROM scratch\nHEALTHCHECK --interval=5s --retries=3 CMD true",
     [("HEALTHCHECK", "CMD true", None, {"interval": "5s", "retries": "3"})]),
    ("healthcheck none", "FROM scratch\nHEALTHCHECK NONE", [("HEALTHCHECK", "NONE", None, {})]),
    ("copy flags", "FROM scratch\nCOPY --chown=1:2 --from=build /a /b",
     [("COPY", "/a /b", None, {"chown": "1:2", "from": "build"})]),
    ("copy json", 'FROM scratch\nCOPY ["a b", "/c/"]', [("COPY", '["a b", "/c/"]', ("a b", "/c/"), {})]),
    ("add", "FROM scratch\nADD --chmod=0644 x.tar.gz /", [("ADD", "x.tar.gz /", None, {"chmod": "0644"})]),
    ("run network flag", "FROM scratch\nRUN --network=none true", [("RUN", "true", None, {"network": "none"})]),
    ("maintainer", "FROM scratch\nMAINTAINER me <m@x>", [("MAINTAINER", "me <m@x>", None, {})]),
    ("windows line ends", "FROM scratch\r\nRUN a \\\r\n b\r\n", [("RUN", "a  b", None, {})]),
]


@pytest.mark.parametrize("text, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parse(text: str, expected: list[tuple[str, str, t.Any, dict[str, t.Any]]]) -> None:
    parsed = dockerfile.parse(text)
    got = [(i.cmd, i.rest, i.json, dict(i.flags)) for i in parsed.stages[-1].instructions]
    assert got == expected


def test_stages_meta_args_and_targets() -> None:
    parsed = dockerfile.parse("ARG BASE=busybox\nARG TAG\nFROM $BASE:${TAG:-1} AS Build\nRUN a\n"
                              "FROM --platform=linux/amd64 scratch\nCOPY --from=build /x /x\n")
    assert [i.rest for i in parsed.meta_args] == ["BASE=busybox", "TAG"]
    assert [(s.index, s.base, s.name, s.platform, s.line) for s in parsed.stages] == [
        (0, "$BASE:${TAG:-1}", "build", None, 3), (1, "scratch", None, "linux/amd64", 5)]
    assert parsed.stage("BUILD").index == 0
    assert parsed.stage(None).index == 1
    with pytest.raises(DockerfileError, match="target stage 'nope' could not be found"):
        parsed.stage("nope")


def test_onbuild_trigger_and_line_numbers() -> None:
    parsed = dockerfile.parse("FROM scratch\n\nONBUILD COPY --chown=1 a \\\n  /b\nONBUILD run echo x")
    first, second = parsed.stages[0].instructions
    assert first.line == 3 and first.trigger is not None
    assert (first.trigger.cmd, first.trigger.rest, dict(first.trigger.flags)) == ("COPY", "a   /b", {"chown": "1"})
    assert second.trigger is not None and (second.trigger.cmd, second.trigger.rest) == ("RUN", "echo x")


def test_health_test() -> None:
    ins = dockerfile.parse("FROM scratch\nHEALTHCHECK CMD curl -f x\nHEALTHCHECK CMD [\"a\", \"b\"]\n"
                           "HEALTHCHECK none").stages[0].instructions
    assert [dockerfile.health_test(i) for i in ins] == [["CMD-SHELL", "curl -f x"], ["CMD", "a", "b"], ["NONE"]]


@pytest.mark.parametrize("text, escape, env, expected", [
    ("a 'b c' \"d $X\"", "\\", {"X": "1"}, ["a", "b c", "d 1"]),
    ("${X:-dflt} ${Y:-dflt} ${X:+alt} ${Y:+alt}", "\\", {"X": "x"}, ["x", "dflt", "alt"]),
    ("a\\ b `$X", "`", {"X": "1"}, ["a\\", "b", "$X"]),
    ("$X$Y ${X}y", "\\", {"X": "1", "Y": "2"}, ["12", "1y"]),
], ids=["quotes", "default and alternative", "backtick escape", "adjacent"])
def test_words(text: str, escape: str, env: dict[str, str], expected: list[str]) -> None:
    assert words(text, env, escape) == expected


BAD = [
    ("unknown instruction", "FROM scratch\nFOO bar", 2, "FOO", "unknown instruction FOO"),
    ("instruction before from", "RUN x\nFROM scratch", 1, "RUN", "no build stage in current context"),
    ("no from", "ARG x\n# just a comment", 0, "", "has no FROM"),
    ("from too many args", "FROM a b", 1, "FROM", "either one or three arguments"),
    ("bad stage name", "FROM a AS 1x", 1, "FROM", "invalid name for build stage"),
    ("duplicate stage", "FROM a AS x\nFROM b AS x", 2, "FROM", "duplicate stage name 'x'"),
    ("unknown flag", "FROM a\nCOPY --foo=1 a b", 2, "COPY", "unknown flag: --foo"),
    ("duplicate flag", "FROM a\nCOPY --from=a --from=b a b", 2, "COPY", "duplicate flag"),
    ("copy one arg", "FROM a\nCOPY a", 2, "COPY", "requires at least two arguments"),
    ("run no args", "FROM a\nRUN", 2, "RUN", "requires at least one argument"),
    ("run mount", "FROM a\nRUN --mount=type=cache,target=/x true", 2, "RUN", "not supported"),
    ("heredoc", "FROM a\nRUN <<EOF\necho\nEOF", 2, "RUN", "heredocs"),
    ("shell not json", "FROM a\nSHELL /bin/sh -c", 2, "SHELL", "JSON form"),
    ("env no value", "FROM a\nENV x", 2, "ENV", "needs a value"),
    ("env blank name", "FROM a\nENV =x", 2, "ENV", "key=value"),
    ("label unterminated quote", "FROM a\nLABEL a=\"b", 2, "LABEL", "unterminated double quote"),
    ("bad arg name", "FROM a\nARG 1x=2", 2, "ARG", "invalid ARG name"),
    ("stopsignal two words", "FROM a\nSTOPSIGNAL a b", 2, "STOPSIGNAL", "exactly one argument"),
    ("healthcheck type", "FROM a\nHEALTHCHECK RUN x", 2, "HEALTHCHECK", "unknown type 'RUN'"),
    ("healthcheck none args", "FROM a\nHEALTHCHECK NONE x", 2, "HEALTHCHECK", "no other arguments"),
    ("healthcheck retries", "FROM a\nHEALTHCHECK --retries=x CMD t", 2, "HEALTHCHECK", "--retries"),
    ("onbuild onbuild", "FROM a\nONBUILD ONBUILD RUN x", 2, "ONBUILD", "isn't allowed as an ONBUILD trigger"),
    ("onbuild from", "FROM a\nONBUILD FROM x", 2, "ONBUILD", "isn't allowed"),
    ("onbuild bad trigger", "FROM a\nONBUILD NOPE x", 2, "NOPE", "unknown instruction"),
    ("bad escape", "# escape=x\nFROM a", 0, "", "invalid escape token"),
    ("directive twice", "# escape=`\n# escape=\\\nFROM a", 2, "", "only one escape parser directive"),
    ("chmod", "FROM a\nCOPY --chmod=u+x a b", 2, "COPY", "invalid --chmod"),
    ("workdir empty", "FROM a\nWORKDIR", 2, "WORKDIR", "exactly one argument"),
    ("expose empty", "FROM a\nEXPOSE", 2, "EXPOSE", "at least one argument"),
]


@pytest.mark.parametrize("text, line, instruction, reason", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_names_file_line_and_instruction(text: str, line: int, instruction: str, reason: str) -> None:
    with pytest.raises(DockerfileError) as info:
        dockerfile.parse(text, "ctx/Dockerfile.dev")
    err = info.value
    assert (err.path, err.line, err.instruction) == ("ctx/Dockerfile.dev", line, instruction)
    assert reason in err.reason
    assert str(err).startswith("ctx/Dockerfile.dev")
