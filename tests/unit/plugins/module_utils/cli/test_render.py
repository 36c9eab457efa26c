# SPDX-License-Identifier: GPL-3.0-or-later
"""The CLI's formatting helpers against outputs docker (go-units, tabwriter, jsonmessage) is known to print."""
from __future__ import annotations

import io
import json
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.cli import render
from ansible_collections.berth.engine.plugins.module_utils.cli.commands import images as images_cmd
from ansible_collections.berth.engine.plugins.module_utils.cli.commands import system as system_cmd
from ansible_collections.berth.engine.plugins.module_utils.engine.core.events import Event

KB, MB, GB, TB, PB = 1000, 1000**2, 1000**3, 1000**4, 1000**5
MINUTE, HOUR, DAY = 60, 3600, 86400
WEEK, MONTH, YEAR = 7 * DAY, 30 * DAY, 365 * DAY


# go-units size_test.go TestHumanSize (precision 4) and docker images' SIZE column (precision 3).
@pytest.mark.parametrize(
    "size, precision, expected",
    [
        (0, 4, "0B"),
        (12, 4, "12B"),
        (999, 4, "999B"),
        (1000, 4, "1kB"),
        (1024, 4, "1.024kB"),
        (1000000, 4, "1MB"),
        (1048576, 4, "1.049MB"),
        (2 * MB, 4, "2MB"),
        (3.42 * GB, 4, "3.42GB"),
        (5.372 * TB, 4, "5.372TB"),
        (2.22 * PB, 4, "2.22PB"),
        (10000000000000 * PB, 4, "1e+04YB"),
        (4261000, 4, "4.261MB"),
        (4261000, 3, "4.26MB"),
        (1_200_000_000, 3, "1.2GB"),
        (734_012, 3, "734kB"),
        (12, 3, "12B"),
        (72_800_000, 3, "72.8MB"),
        (999_500, 3, "1e+03kB"),  # Go's %.3g does this too
        (1_234_567, 3, "1.23MB"),
    ],
)
def test_human_size(size: float, precision: int, expected: str) -> None:
    assert render.human_size(size, precision) == expected


# go-units duration_test.go TestHumanDuration
@pytest.mark.parametrize(
    "seconds, expected",
    [
        (0.45, "Less than a second"),
        (1, "1 second"),
        (45, "45 seconds"),
        (59, "59 seconds"),
        (60, "About a minute"),
        (3 * MINUTE, "3 minutes"),
        (35 * MINUTE + 40, "35 minutes"),
        (59 * MINUTE, "59 minutes"),
        (HOUR, "About an hour"),
        (HOUR + 29 * MINUTE, "About an hour"),
        (HOUR + 31 * MINUTE, "2 hours"),
        (HOUR + 59 * MINUTE, "2 hours"),
        (3 * HOUR + 29 * MINUTE, "3 hours"),
        (3 * HOUR + 31 * MINUTE, "4 hours"),
        (24 * HOUR, "24 hours"),
        (DAY + 12 * HOUR, "36 hours"),
        (2 * DAY, "2 days"),
        (13 * DAY + 5 * HOUR, "13 days"),
        (2 * WEEK, "2 weeks"),
        (2 * WEEK + 4 * DAY, "2 weeks"),
        (3 * WEEK, "3 weeks"),
        (MONTH, "4 weeks"),
        (MONTH + 2 * WEEK, "6 weeks"),
        (2 * MONTH, "2 months"),
        (5 * MONTH + 2 * WEEK, "5 months"),
        (24 * MONTH, "24 months"),
        (24 * MONTH + 2 * WEEK, "2 years"),
        (3 * YEAR + 2 * MONTH, "3 years"),
    ],
)
def test_human_duration(seconds: float, expected: str) -> None:
    assert render.human_duration(seconds) == expected


def test_created_since() -> None:
    assert render.created_since(1000, now=1000 + 2 * HOUR) == "2 hours ago"
    assert render.created_since(1000, now=1000 + 3 * WEEK) == "3 weeks ago"
    assert render.created_since(2000, now=1000) == "Less than a second ago"


@pytest.mark.parametrize(
    "image_id, trunc, expected",
    [
        ("sha256:a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824", True, "a416a98b71e2"),
        ("sha256:a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824", False,
         "sha256:a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824"),
        ("a416a98b71e224a31ee99cff", True, "a416a98b71e2"),
        ("<missing>", True, "<missing>"),
    ],
)
def test_trunc_id(image_id: str, trunc: bool, expected: str) -> None:
    assert render.trunc_id(image_id, trunc) == expected


@pytest.mark.parametrize(
    "text, n, expected",
    [
        ("short", 45, "short"),
        ("x" * 45, 45, "x" * 45),
        ("/bin/sh -c #(nop) ADD file:6d2de0c1d1b6e3ae8d4c8ff8e1a4b1c2f6e7 in / ", 45,
         "/bin/sh -c #(nop) ADD file:6d2de0c1d1b6e3ae8…"),
        ("abc", 1, "a"),
        ("abc", 0, ""),
    ],
)
def test_ellipsis(text: str, n: int, expected: str) -> None:
    out = render.ellipsis(text, n)
    assert out == expected
    assert len(out) <= n


@pytest.mark.parametrize(
    "part, total, expected",
    [(4261000, 4261000, "4.261MB (100%)"), (0, 4261000, "0B (0%)"), (1, 3, "1B (33%)"), (0, 0, "0B"), (5, 0, "5B")],
)
def test_percent_of(part: int, total: int, expected: str) -> None:
    assert render.percent_of(part, total) == expected


# Go's tabwriter.NewWriter(out, 10, 1, 3, ' ', 0), as docker's formatter uses it.
@pytest.mark.parametrize(
    "rows, expected",
    [
        (
            [["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]],
            "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n",
        ),
        (
            [["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
             ["busybox", "latest", "a416a98b71e2", "2 weeks ago", "4.26MB"]],
            "REPOSITORY   TAG       IMAGE ID       CREATED       SIZE\n"
            "busybox      latest    a416a98b71e2   2 weeks ago   4.26MB\n",
        ),
        (
            [["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
             ["Images", "1", "0", "4.261MB", "4.261MB (100%)"],
             ["Containers", "0", "0", "0B", "0B"],
             ["Local Volumes", "0", "0", "0B", "0B"],
             ["Build Cache", "0", "0", "0B", "0B"]],
            "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n"
            "Images          1         0         4.261MB   4.261MB (100%)\n"
            "Containers      0         0         0B        0B\n"
            "Local Volumes   0         0         0B        0B\n"
            "Build Cache     0         0         0B        0B\n",
        ),
        ([], ""),
    ],
)
def test_table(rows: list[list[str]], expected: str) -> None:
    assert render.table(rows) == expected


def test_go_json_escapes_like_go() -> None:
    assert render.go_json({"Tag": "<none>", "A": "x&y"}) == '{"Tag":"\\u003cnone\\u003e","A":"x\\u0026y"}'
    assert json.loads(render.go_json({"Tag": "<none>"})) == {"Tag": "<none>"}


@pytest.mark.parametrize(
    "template, expected",
    [
        ("{{.Repository}}:{{.Tag}}", "busybox:latest"),
        ("{{ .Config.Cmd }}", "[sh]"),
        ("{{json .Config.Cmd}}", '["sh"]'),
        ("{{.Config.Env}}", "map[A:1 B:2]"),
        ("{{.Repository}}\\t{{.Tag}}", "busybox\tlatest"),
        ("plain", "plain"),
    ],
)
def test_render_template(template: str, expected: str) -> None:
    data = {"Repository": "busybox", "Tag": "latest", "Config": {"Cmd": ["sh"], "Env": {"B": "2", "A": "1"}}}
    assert render.render_template(template, data) == expected


# What docker (Go text/template + docker/cli's template functions) prints for these templates on this data.
INSPECTED = {
    "Id": "abc",
    "Name": "/web",
    "RestartCount": 3,
    "Config": {"Cmd": ["sh", "-c", "echo hi"], "Env": ["A=1", "B=2"], "Labels": {"a": "1", "b": "x<y"},
               "Tty": False},
    "State": {"Running": True, "ExitCode": 0, "Status": "running"},
    "Mounts": [],
    "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}, "host": {"IPAddress": ""}}},
}


@pytest.mark.parametrize(
    "template, docker_prints",
    [
        ("{{range .Config.Env}}{{.}} {{end}}", "A=1 B=2 "),
        ("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", "a=1;b=x<y;"),
        ("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "172.17.0.2"),
        ("{{range $i, $c := .Config.Cmd}}{{if $i}},{{end}}{{$c}}{{end}}", "sh,-c,echo hi"),
        ("{{range .Mounts}}{{.}}{{else}}none{{end}}", "none"),
        ("{{range .Config.Env}}{{$.Name}}{{end}}", "/web/web"),
        ("{{range .Config.Cmd}}{{if eq . \"-c\"}}{{break}}{{end}}{{.}}{{end}}", "sh"),
        ("{{range .Config.Cmd}}{{if eq . \"-c\"}}{{continue}}{{end}}{{.}};{{end}}", "sh;echo hi;"),
        ('{{index .Config.Labels "a"}}', "1"),
        ('{{index .Config.Labels "missing"}}', "<nil>"),
        ("{{index .Config.Cmd 1}}", "-c"),
        ('{{(index .NetworkSettings.Networks "bridge").IPAddress}}', "172.17.0.2"),
        ("{{len .Config.Cmd}}", "3"),
        ("{{.Config.Cmd | len}}", "3"),
        ("{{len .Name}}", "4"),
        ('{{join .Config.Cmd " "}}', "sh -c echo hi"),
        ("{{json .Config.Labels}}", '{"a":"1","b":"x\\u003cy"}'),
        ("{{json .Config.Cmd}}", '["sh","-c","echo hi"]'),
        ("{{json .Mounts}}", "[]"),
        ("{{json .State.Running}}", "true"),
        ("{{upper .State.Status}}", "RUNNING"),
        ('{{lower "ABC"}}', "abc"),
        ('{{title "hello world"}}', "Hello World"),
        ('{{split "a:b:c" ":"}}', "[a b c]"),
        ('{{pad "x" 1 2}}|', " x  |"),
        ('{{truncate "abcdef" 3}}', "abc"),
        ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
        ("{{if .Config.Tty}}tty{{end}}", ""),
        ("{{if eq .State.ExitCode 1}}one{{else if eq .State.ExitCode 0}}zero{{else}}other{{end}}", "zero"),
        ("{{if eq .State.Status \"exited\" \"running\"}}known{{end}}", "known"),
        ("{{if and .State.Running (not .Config.Tty)}}yes{{end}}", "yes"),
        ("{{if or .Config.Tty .Mounts}}x{{else}}y{{end}}", "y"),
        ("{{or .Mounts .Name}}", "/web"),
        ("{{and .Name .Mounts}}", "[]"),
        ('{{if ne .Name "/db"}}{{.Name}}{{end}}', "/web"),
        ("{{if lt .RestartCount 5}}few{{end}}", "few"),
        ("{{if ge .RestartCount 3}}many{{end}}", "many"),
        ("{{not .State.Running}}", "false"),
        ("{{println .Name .RestartCount}}", "/web 3\n"),
        ("{{range .Config.Cmd}}{{println .}}{{end}}", "sh\n-c\necho hi\n"),
        ("{{print .RestartCount .RestartCount}}", "3 3"),
        ('{{print "a" "b"}}', "ab"),
        ('{{printf "%s has %d args" .Name (len .Config.Cmd)}}', "/web has 3 args"),
        ('{{printf "%q %v %5s|%-4d|" .Name .Config.Env "ab" 7}}', '"/web" [A=1 B=2]    ab|7   |'),
        ("{{with .State}}{{.Status}}{{end}}", "running"),
        ("{{with .Mounts}}some{{else}}no mounts{{end}}", "no mounts"),
        ("{{$n := len .Config.Env}}{{$n}}", "2"),
        ("{{$x := 1}}{{range .Config.Env}}{{$x = .}}{{end}}{{$x}}", "B=2"),
        ("{{/* a comment */}}{{.Id}}", "abc"),
        ("{{.Name -}}  :  {{- .Id}}", "/web:abc"),
        ("{{.Name}}\n{{- /* trimmed */ -}}\n{{.Id}}", "/webabc"),
        ("{{.State}}", "map[ExitCode:0 Running:true Status:running]"),
        ('{{`a"b`}}', 'a"b'),
    ],
)
def test_go_template_features(template: str, docker_prints: str) -> None:
    assert render.render_template(template, INSPECTED) == docker_prints


@pytest.mark.parametrize(
    "template, error",
    [
        ("{{.Nope}}", "can't evaluate field Nope"),
        ("{{nope .Name}}", 'function "nope" not defined'),
        ("{{if .Name}}x", "unexpected EOF"),
        ("{{end}}", "unexpected {{end}}"),
        ("{{range .Mounts}}{{else if .Name}}{{end}}", "unexpected 'if' in else"),
        ("{{len .RestartCount}}", "len of type int"),
        ("{{index .Config.Cmd 5}}", "index out of range: 5"),
        ('{{template "x"}}', "{{template}} is not supported"),
        ("{{.Name 1}}", "can't give argument to non-function .Name"),
        ("{{break}}", "{{break}} outside {{range}}"),
        ("{{$x}}", 'undefined variable "$x"'),
        ("{{upper .RestartCount}}", "expected string; got int"),
        ('{{join .Name ","}}', "expected []string"),
        ("{{.Name", "unclosed action"),
    ],
)
def test_go_template_errors_name_the_problem(template: str, error: str) -> None:
    with pytest.raises(render.TemplateError) as info:
        render.render_template(template, INSPECTED)
    assert error in str(info.value)


def test_format_rows() -> None:
    items = [{"ID": "abc", "Tag": "<none>"}]
    assert render.format_rows("json", items, {}) == '{"ID":"abc","Tag":"\\u003cnone\\u003e"}\n'
    assert render.format_rows("{{.ID}}", items, {}) == "abc\n"
    assert render.format_rows("table {{.ID}}\\t{{.Tag}}", items, {"ID": "IMAGE ID", "Tag": "TAG"}) == (
        "IMAGE ID   TAG\nabc        <none>\n"
    )
    # docker renders the header row with the same template, each field standing for its column title
    assert render.format_rows("table {{.ID}}\\t{{upper .Tag}}", items, {"ID": "IMAGE ID", "Tag": "TAG"}) == (
        "IMAGE ID   TAG\nabc        <NONE>\n"
    )
    assert render.format_rows("table {{.ID}}:{{lower .Tag}}", items, {"ID": "IMAGE ID", "Tag": "TAG"}) == (
        "IMAGE ID:tag\nabc:<none>\n"
    )
    assert render.format_rows("table {{.ID}}\\t{{if eq .Tag \"<none>\"}}dangling{{else}}{{.Tag}}{{end}}", items,
                              {"ID": "IMAGE ID", "Tag": "TAG"}) == "IMAGE ID   TAG\nabc        dangling\n"


# jsonmessage.JSONProgress.String(), without the time-left box.
@pytest.mark.parametrize(
    "current, total, width, expected",
    [
        (0, 0, 200, ""),
        (1_200_000, 0, 200, "   1.2MB"),
        (1_200_000, 4_300_000, 80, "   1.2MB/4.3MB"),
        (1_200_000, 4_300_000, 200, "[=============>                                     ]    1.2MB/4.3MB"),
        (4_300_000, 4_300_000, 200, "[==================================================>]    4.3MB/4.3MB"),
        (5_000_000, 4_300_000, 200, "[==================================================>]      5MB"),
    ],
)
def test_progress_bar(current: int, total: int, width: int, expected: str) -> None:
    assert render.progress_bar(current, total, width) == expected


# ------------------------------------------------------------------ the progress renderer
def _pull_events() -> list[Event]:
    return [
        Event("layer.exists", "aaaaaaaaaaaa", 10, 10),
        Event("layer.waiting", "bbbbbbbbbbbb", 0, 4_300_000),
        Event("layer.download", "bbbbbbbbbbbb", 1_200_000, 4_300_000),
        Event("layer.download", "bbbbbbbbbbbb", 4_300_000, 4_300_000),
        Event("layer.extract", "bbbbbbbbbbbb", 4_300_000, 4_300_000),
        Event("layer.done", "bbbbbbbbbbbb", 4_300_000, 4_300_000),
    ]


def test_progress_plain_prints_state_changes_once() -> None:
    out = io.StringIO()
    p = render.Progress(out, tty=False)
    p.set_header("latest: Pulling from library/busybox")
    for ev in _pull_events():
        p(ev)
    p(Event("status", "", message="Verifying"))
    p.finish(show_existing=False)
    assert out.getvalue().splitlines() == [
        "latest: Pulling from library/busybox",
        "aaaaaaaaaaaa: Already exists",
        "bbbbbbbbbbbb: Pulling fs layer",
        "bbbbbbbbbbbb: Download complete",
        "bbbbbbbbbbbb: Pull complete",
        "Verifying",
    ]


def test_progress_up_to_date_hides_existing_layers() -> None:
    out = io.StringIO()
    p = render.Progress(out, tty=False)
    p(Event("layer.exists", "aaaaaaaaaaaa", 10, 10))
    p.finish(show_existing=False)
    assert out.getvalue() == ""
    p = render.Progress(out, tty=False)
    p(Event("layer.exists", "aaaaaaaaaaaa", 10, 10))
    p.finish(show_existing=True)
    assert out.getvalue() == "aaaaaaaaaaaa: Already exists\n"


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _screen(text: str) -> list[str]:
    """Replay the ANSI subset the renderer writes (cursor up, CR, clear line) into final screen lines."""
    import re

    lines: list[str] = []
    row = 0
    for token in re.split(r"(\x1b\[\d+A|\x1b\[2K|\r|\n)", text):
        if not token:
            continue
        m = re.match(r"\x1b\[(\d+)A", token)
        if m:
            row -= int(m.group(1))
        elif token == "\x1b[2K":
            if row < len(lines):
                lines[row] = ""
        elif token == "\r":
            pass
        elif token == "\n":
            row += 1
        else:
            while len(lines) <= row:
                lines.append("")
            lines[row] += token
    return lines


def test_progress_tty_redraws_in_place_and_rate_limits() -> None:
    out = io.StringIO()
    clock = _Clock()
    p = render.Progress(out, tty=True, width=200, rate=10, clock=clock)
    p.set_header("latest: Pulling from library/busybox")
    for ev in _pull_events()[:3]:
        p(ev)
    mid = _screen(out.getvalue())
    assert mid[0] == "latest: Pulling from library/busybox"
    assert mid[1] == "aaaaaaaaaaaa: Already exists"
    assert mid[2].startswith("bbbbbbbbbbbb: Downloading [=============>")
    assert mid[2].endswith("1.2MB/4.3MB")
    # Same state, within 0.1 s: no redraw; after it: redraw.
    before = len(out.getvalue())
    p(Event("layer.download", "bbbbbbbbbbbb", 2_000_000, 4_300_000))
    assert len(out.getvalue()) == before
    clock.now += 0.2
    p(Event("layer.download", "bbbbbbbbbbbb", 3_000_000, 4_300_000))
    assert len(out.getvalue()) > before
    for ev in _pull_events()[3:]:
        p(ev)
    p.finish()
    final = _screen(out.getvalue())
    assert final == [
        "latest: Pulling from library/busybox",
        "aaaaaaaaaaaa: Already exists",
        "bbbbbbbbbbbb: Pull complete",
    ]
    assert "\x1b[3A" in out.getvalue()


def test_progress_tty_clips_to_terminal_width() -> None:
    out = io.StringIO()
    p = render.Progress(out, tty=True, width=40)
    p(Event("layer.download", "bbbbbbbbbbbb", 1_200_000, 4_300_000))
    p.finish()
    (line,) = _screen(out.getvalue())
    assert len(line) <= 39
    assert "[" not in line  # narrow terminal: no bar, like docker below 110 columns


# ------------------------------------------------------------------ image rows (docker's imageFormatTaggedAndDigest)
D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


@pytest.mark.parametrize(
    "img, digests, expected",
    [
        ({"RepoTags": [], "RepoDigests": []}, False, [("<none>", "<none>", "<none>")]),
        ({"RepoTags": ["busybox:latest"], "RepoDigests": [f"busybox@{D1}"]}, False,
         [("busybox", "latest", "<none>")]),
        ({"RepoTags": ["busybox:latest"], "RepoDigests": [f"busybox@{D1}"]}, True, [("busybox", "latest", D1)]),
        ({"RepoTags": ["busybox:latest", "busybox:1", "localhost:5000/bb:x"], "RepoDigests": []}, False,
         [("busybox", "latest", "<none>"), ("busybox", "1", "<none>"), ("localhost:5000/bb", "x", "<none>")]),
        ({"RepoTags": [], "RepoDigests": [f"busybox@{D1}", f"busybox@{D2}"]}, False, [("busybox", "<none>", "")]),
        ({"RepoTags": [], "RepoDigests": [f"busybox@{D1}", f"busybox@{D2}"]}, True,
         [("busybox", "<none>", D1), ("busybox", "<none>", D2)]),
    ],
)
def test_image_rows(img: dict[str, t.Any], digests: bool, expected: list[tuple[str, str, str]]) -> None:
    assert images_cmd.image_rows(img, digests) == expected


def test_image_items_fields() -> None:
    img = {"Id": D1, "RepoTags": ["busybox:latest"], "RepoDigests": [], "Created": 1000, "Size": 4261000,
           "SharedSize": -1, "Containers": 0}
    (item,) = images_cmd.image_items([img], trunc=True, digests=False, now=1000 + 2 * WEEK)
    assert item["ID"] == "1" * 12
    assert item["CreatedSince"] == "2 weeks ago"
    assert item["Size"] == "4.26MB"
    assert item["VirtualSize"] == "4.261MB"
    assert item["SharedSize"] == "N/A"
    assert item["Containers"] == "0"


def test_history_items() -> None:
    rows = [
        {"Id": D1, "Created": 0, "CreatedBy": "/bin/sh -c #(nop)  CMD [\"sh\"]", "Size": 0, "Comment": ""},
        {"Id": "<missing>", "Created": 0, "CreatedBy": "/bin/sh -c #(nop) ADD file:" + "f" * 64 + " in / ",
         "Size": 4261000, "Comment": "imported"},
    ]
    a, b = images_cmd.history_items(rows, trunc=True, now=3 * YEAR + 2 * MONTH)
    assert (a["ID"], a["Size"], a["CreatedSince"]) == ("1" * 12, "0B", "3 years ago")
    assert b["ID"] == "<missing>" and b["Size"] == "4.26MB" and b["CreatedBy"].endswith("…")
    assert len(b["CreatedBy"]) == 45


# ------------------------------------------------------------------ system df
def test_df_summary_like_docker() -> None:
    du = {
        "LayersSize": 4261000,
        "Images": [{"Id": D1, "Size": 4261000, "SharedSize": 0, "Containers": 0}],
        "Containers": [],
        "Volumes": [],
        "BuildCache": [],
    }
    rows = system_cmd.df_summary(du)
    assert [(r["Type"], r["TotalCount"], r["Active"], r["Size"], r["Reclaimable"]) for r in rows] == [
        ("Images", "1", "0", "4.261MB", "4.261MB (100%)"),
        ("Containers", "0", "0", "0B", "0B"),
        ("Local Volumes", "0", "0", "0B", "0B"),
        ("Build Cache", "0", "0", "0B", "0B"),
    ]


def test_df_summary_counts_active_use() -> None:
    du = {
        "LayersSize": 300,
        "Images": [{"Size": 200, "SharedSize": 100, "Containers": 1}, {"Size": 200, "SharedSize": 100, "Containers": 0}],
        "Containers": [{"State": "running", "SizeRw": 10}, {"State": "exited", "SizeRw": 30}],
        "Volumes": [{"UsageData": {"Size": 36, "RefCount": 1}}, {"UsageData": {"Size": 12, "RefCount": 0}},
                    {"UsageData": {"Size": -1, "RefCount": -1}}],
        "BuildCache": [{"Size": 5, "InUse": True}, {"Size": 7, "Shared": True}, {"Size": 11}],
    }
    rows = {r["Type"]: r for r in system_cmd.df_summary(du)}
    assert rows["Images"]["Active"] == "1"
    assert rows["Images"]["Reclaimable"] == "200B (66%)"
    assert (rows["Containers"]["Active"], rows["Containers"]["Size"], rows["Containers"]["Reclaimable"]) == (
        "1", "40B", "30B (75%)")
    assert (rows["Local Volumes"]["TotalCount"], rows["Local Volumes"]["Active"],
            rows["Local Volumes"]["Reclaimable"]) == ("3", "1", "12B (25%)")
    assert (rows["Build Cache"]["Active"], rows["Build Cache"]["Size"], rows["Build Cache"]["Reclaimable"]) == (
        "1", "16B", "11B")


def test_df_verbose_sections() -> None:
    du = {"LayersSize": 0, "Images": [{"Id": D1, "RepoTags": ["busybox:latest"], "Created": 0, "Size": 4261000,
                                       "SharedSize": 0, "Containers": 0}]}
    text = system_cmd.df_verbose(du, now=3 * YEAR + 2 * MONTH)
    assert text.startswith("Images space usage:\n\nREPOSITORY   TAG       IMAGE ID       CREATED       SIZE      "
                           "SHARED SIZE   UNIQUE SIZE   CONTAINERS\n")
    assert "busybox      latest    111111111111   3 years ago   4.26MB    0B            4.261MB       0\n" in text
    assert "\nBuild cache usage: 0B\n\n" in text
    assert "\nLocal Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\n" in text


def test_progress_push_plain_lines_like_docker() -> None:
    out = io.StringIO()
    p = render.Progress(out, tty=False, mode="push")
    p.set_header("The push refers to repository [127.0.0.1:5000/app]")
    for ev in (Event("layer.waiting", "aaa", 0, 10), Event("layer.waiting", "bbb", 0, 10),
               Event("layer.waiting", "ccc", 0, 10), Event("layer.upload", "aaa", 5, 10),
               Event("layer.upload", "aaa", 10, 10), Event("layer.done", "aaa", 10, 10),
               Event("layer.exists", "bbb", 10, 10), Event("layer.mounted", "ccc", 10, 10, "Mounted from lib/x")):
        p(ev)
    p.finish()
    assert out.getvalue().splitlines() == [
        "The push refers to repository [127.0.0.1:5000/app]",
        "aaa: Preparing", "bbb: Preparing", "ccc: Preparing",
        "aaa: Pushed", "bbb: Layer already exists", "ccc: Mounted from lib/x",
    ]


def test_progress_push_tty_shows_a_bar_while_pushing() -> None:
    out = io.StringIO()
    p = render.Progress(out, tty=True, width=160, mode="push", rate=0)
    p(Event("layer.waiting", "aaa", 0, 2 << 20))
    p(Event("layer.upload", "aaa", 1 << 20, 2 << 20))
    assert "aaa: Pushing [" in out.getvalue() and "1.049MB/2.097MB" in out.getvalue()
    p(Event("layer.done", "aaa", 2 << 20, 2 << 20))
    p.finish()
    assert out.getvalue().rstrip("\n").rsplit("\x1b[2K", 1)[1] == "aaa: Pushed"
