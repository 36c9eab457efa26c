# SPDX-License-Identifier: GPL-3.0-or-later
"""``docker import --change``: the pure Dockerfile-instruction interpreter, as a table."""
from __future__ import annotations

import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.errors import InvalidOption
from ansible_collections.berth.engine.plugins.module_utils.engine.core.instructions import apply_changes

SH = ["/bin/sh", "-c"]

CASES: list[tuple[str, dict[str, t.Any], list[str], dict[str, t.Any]]] = [
    ("nothing", {}, [], {}),
    ("blank lines and comments", {}, ["", "   ", "# CMD x"], {}),
    ("cmd exec form", {}, ['CMD ["sh", "-c", "echo hi"]'], {"Cmd": ["sh", "-c", "echo hi"]}),
    ("cmd shell form", {}, ["CMD echo $HOME  done"], {"Cmd": SH + ["echo $HOME  done"]}),
    ("cmd invalid json is shell form", {}, ["CMD [not json"], {"Cmd": SH + ["[not json"]}),
    ("cmd empty json list", {}, ["CMD []"], {"Cmd": []}),
    ("instruction is case-insensitive", {}, ['cmd ["sh"]'], {"Cmd": ["sh"]}),
    ("entrypoint exec form", {}, ['ENTRYPOINT ["/init"]'], {"Entrypoint": ["/init"]}),
    ("entrypoint shell form", {}, ["ENTRYPOINT exec top -b"], {"Entrypoint": SH + ["exec top -b"]}),
    ("entrypoint clears an inherited cmd",
     {"Cmd": ["sh"]}, ['ENTRYPOINT ["/init"]'], {"Entrypoint": ["/init"]}),
    ("entrypoint keeps a cmd set before it",
     {}, ['CMD ["-v"]', 'ENTRYPOINT ["/init"]'], {"Cmd": ["-v"], "Entrypoint": ["/init"]}),
    ("cmd after entrypoint", {}, ['ENTRYPOINT ["/init"]', 'CMD ["-v"]'], {"Cmd": ["-v"], "Entrypoint": ["/init"]}),
    ("env pairs with quotes",
     {}, ['ENV A=1 B="two words" C=\'$lit\''], {"Env": ["A=1", "B=two words", "C=$lit"]}),
    ("env legacy form", {}, ["ENV GREETING hello  big world"], {"Env": ["GREETING=hello  big world"]}),
    ("env replaces in place",
     {"Env": ["PATH=/bin", "X=1"]}, ["ENV PATH=/usr/bin"], {"Env": ["PATH=/usr/bin", "X=1"]}),
    ("env expands earlier values",
     {"Env": ["PATH=/bin"]}, ["ENV PATH=/opt/bin:$PATH"], {"Env": ["PATH=/opt/bin:/bin"]}),
    ("env uses values before this line", {"Env": ["A=old"]}, ["ENV A=new B=$A"], {"Env": ["A=new", "B=old"]}),
    ("env braces and defaults",
     {"Env": ["A=x"]}, ["ENV B=${A}y C=${NOPE:-dflt} D=${A:+set} E=${NOPE:+set}"],
     {"Env": ["A=x", "B=xy", "C=dflt", "D=set", "E="]}),
    ("env escaped dollar", {}, [r"ENV A=\$HOME B=cost\ 5"], {"Env": ["A=$HOME", "B=cost 5"]}),
    ("env value with equals", {}, ["ENV URL=a=b"], {"Env": ["URL=a=b"]}),
    ("env empty value", {}, ['ENV EMPTY=""'], {"Env": ["EMPTY="]}),
    ("expose ports", {}, ["EXPOSE 80 443/tcp 53/UDP 7000-7001/sctp"],
     {"ExposedPorts": {"80/tcp": {}, "443/tcp": {}, "53/udp": {}, "7000/sctp": {}, "7001/sctp": {}}}),
    ("expose adds to existing", {"ExposedPorts": {"22/tcp": {}}}, ["EXPOSE 80"],
     {"ExposedPorts": {"22/tcp": {}, "80/tcp": {}}}),
    ("expose from env",
     {"Env": ["PORT=8080"]}, ["EXPOSE $PORT"], {"Env": ["PORT=8080"], "ExposedPorts": {"8080/tcp": {}}}),
    ("label pairs",
     {}, ['LABEL a=1 "com.example.name"="my app"'], {"Labels": {"a": "1", "com.example.name": "my app"}}),
    ("label legacy form",
     {"Labels": {"x": "y"}}, ["LABEL version 1.0 beta"], {"Labels": {"x": "y", "version": "1.0 beta"}}),
    ("user", {}, ["USER nobody:nogroup"], {"User": "nobody:nogroup"}),
    ("user from env", {"Env": ["U=app"]}, ["USER $U"], {"Env": ["U=app"], "User": "app"}),
    ("volume json", {}, ['VOLUME ["/data", "/logs"]'], {"Volumes": {"/data": {}, "/logs": {}}}),
    ("volume words", {"Volumes": {"/a": {}}}, ["VOLUME /b /c"], {"Volumes": {"/a": {}, "/b": {}, "/c": {}}}),
    ("workdir absolute", {}, ["WORKDIR /srv/app"], {"WorkingDir": "/srv/app"}),
    ("workdir relative joins", {"WorkingDir": "/srv"}, ["WORKDIR app/../www"], {"WorkingDir": "/srv/www"}),
    ("workdir relative from root", {}, ["WORKDIR app"], {"WorkingDir": "/app"}),
    ("workdir twice", {}, ["WORKDIR /a", "WORKDIR b"], {"WorkingDir": "/a/b"}),
    ("stopsignal name", {}, ["STOPSIGNAL SIGQUIT"], {"StopSignal": "SIGQUIT"}),
    ("stopsignal short name", {}, ["STOPSIGNAL term"], {"StopSignal": "term"}),
    ("stopsignal number", {}, ["STOPSIGNAL 9"], {"StopSignal": "9"}),
    ("stopsignal realtime", {}, ["STOPSIGNAL SIGRTMIN+3"], {"StopSignal": "SIGRTMIN+3"}),
    ("onbuild", {"OnBuild": ["RUN a"]}, ["ONBUILD RUN echo $HOME"], {"OnBuild": ["RUN a", "RUN echo $HOME"]}),
    ("keeps unrelated keys", {"Hostname": "h", "Cmd": ["x"]}, ["USER 1"], {"Hostname": "h", "Cmd": ["x"], "User": "1"}),
]


@pytest.mark.parametrize("base,changes,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_apply_changes(base: dict[str, t.Any], changes: list[str], expected: dict[str, t.Any]) -> None:
    before = repr(base)
    assert apply_changes(base, changes) == expected
    assert repr(base) == before  # the input is not modified


ERRORS: list[tuple[str, str, str]] = [
    ("RUN echo hi", "RUN echo hi", "not a valid change instruction"),
    ("FROM busybox", "FROM busybox", "not a valid change instruction"),
    ("HEALTHCHECK NONE", "HEALTHCHECK NONE", "not a valid change instruction"),
    ("CMD", "CMD", "needs an argument"),
    ("ENV", "ENV   ", "needs an argument"),
    ("ENV ONLYKEY", "ENV ONLYKEY", "needs a value"),
    ("ENV =v", "ENV =v", "key=value"),
    ('ENV A="open', 'ENV A="open', "unterminated double quote"),
    ("ENV A='open", "ENV A='open", "unterminated single quote"),
    ("ENV A=${B", "ENV A=${B", "missing '}'"),
    ("EXPOSE 0", "EXPOSE 0", "invalid port"),
    ("EXPOSE 70000", "EXPOSE 70000", "invalid port"),
    ("EXPOSE 90-80", "EXPOSE 90-80", "invalid port"),
    ("EXPOSE http", "EXPOSE http", "invalid port"),
    ("EXPOSE 80/icmp", "EXPOSE 80/icmp", "invalid protocol"),
    ("STOPSIGNAL SIGNOPE", "STOPSIGNAL SIGNOPE", "invalid signal"),
    ("STOPSIGNAL 99", "STOPSIGNAL 99", "invalid signal number"),
    ("ONBUILD ONBUILD", "ONBUILD ONBUILD RUN x", "not allowed as an ONBUILD trigger"),
    ("ONBUILD FROM", "ONBUILD from x", "not allowed as an ONBUILD trigger"),
    ("VOLUME empty", 'VOLUME [""]', "must not be empty"),
]


@pytest.mark.parametrize("line,reason", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_apply_changes_refuses(line: str, reason: str) -> None:
    with pytest.raises(InvalidOption) as info:
        apply_changes({}, ["USER ok", line])
    assert info.value.field == "changes"
    assert info.value.value == line  # the offending line, as given
    assert reason in info.value.reason


def test_apply_changes_refuses_non_strings() -> None:
    with pytest.raises(InvalidOption) as info:
        apply_changes({}, [42])  # type: ignore[list-item]
    assert info.value.field == "changes"
