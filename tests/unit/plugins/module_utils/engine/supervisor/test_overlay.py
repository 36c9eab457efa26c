# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import json
import os

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.supervisor import overlay


class RecordingMounter:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def mount(self, source, target, fstype, flags, data) -> None:
        self.calls.append((source, target, fstype, flags, data, os.getcwd()))

    def umount2(self, target, flags) -> None:
        self.calls.append(("umount2", target, flags))


@pytest.mark.parametrize(
    "given, expected",
    [
        (["a", "b", "c"], ["a", "b", "c"]),
        (["a", "b", "a"], ["a", "b"]),  # the lower copy of a repeated layer is covered by the upper one
        (["x", "x", "x"], ["x"]),
        ([], []),
    ],
)
def test_stack_keeps_the_top_most_place(given, expected) -> None:
    assert overlay.stack(given) == expected


def test_short_stack_mounts_with_absolute_paths(tmp_path) -> None:
    m = RecordingMounter()
    overlay.mount_rootfs(m, str(tmp_path), ["/l/top", "/l/base"], str(tmp_path / "u"), str(tmp_path / "w"),
                         str(tmp_path / "rootfs"), str(tmp_path / "empty"))
    (source, target, fstype, flags, data, _cwd), = m.calls
    assert (source, fstype, flags) == ("overlay", "overlay", 0)
    assert data == f"lowerdir=/l/top:/l/base,upperdir={tmp_path}/u,workdir={tmp_path}/w"
    assert target == str(tmp_path / "rootfs")
    assert os.path.isdir(tmp_path / "u") and os.path.isdir(tmp_path / "w")


def test_no_layers_uses_the_empty_dir(tmp_path) -> None:
    m = RecordingMounter()
    overlay.mount_rootfs(m, str(tmp_path), [], str(tmp_path / "u"), str(tmp_path / "w"), str(tmp_path / "r"),
                         str(tmp_path / "empty"))
    assert m.calls[0][4].startswith(f"lowerdir={tmp_path}/empty,")


def test_short_links_are_stable_and_relative(tmp_path) -> None:
    target = tmp_path / "layers" / "sha256" / ("ab" * 32) / "diff"
    target.mkdir(parents=True)
    first = overlay.short_links(str(tmp_path), [str(target)])
    assert first == overlay.short_links(str(tmp_path), [str(target)])
    link = tmp_path / first[0]
    assert os.readlink(link).startswith("../layers/")
    assert os.path.samefile(link, target)


class FileRecordingMounter:
    """Records into a file: a long stack is mounted from a child process."""

    def __init__(self, path) -> None:
        self.path = path

    def mount(self, source, target, fstype, flags, data) -> None:
        with open(self.path, "a") as fh:
            fh.write(f"{os.getcwd()}|{data}\n")


def test_long_stack_below_a_base_mounts_with_paths_relative_to_it(tmp_path) -> None:
    base = tmp_path / "containers" / ("c" * 64) / "idmapped"
    base.mkdir(parents=True)
    lower = [str(base / str(i)) for i in range(200)]  # ~110 characters each: far more than a page
    m = FileRecordingMounter(tmp_path / "calls")
    overlay.mount_rootfs(m, str(tmp_path), lower, str(tmp_path / "u"), str(tmp_path / "w"), str(tmp_path / "r"),
                         str(tmp_path / "empty"), base=str(base))
    (cwd, data), = [ln.split("|") for ln in (tmp_path / "calls").read_text().splitlines()]
    assert cwd == str(base)
    assert data == "lowerdir=" + ":".join(str(i) for i in range(200)) + f",upperdir={tmp_path}/u,workdir={tmp_path}/w"
    assert not (tmp_path / "l").exists()  # no links for these


def test_long_stack_elsewhere_goes_through_short_links(tmp_path) -> None:
    lower = [str(tmp_path / "layers" / "sha256" / (f"{i:02x}" * 32) / "diff") for i in range(60)]
    m = FileRecordingMounter(tmp_path / "calls")
    overlay.mount_rootfs(m, str(tmp_path), lower, str(tmp_path / "u"), str(tmp_path / "w"), str(tmp_path / "r"),
                         str(tmp_path / "empty"), base=str(tmp_path / "elsewhere"))
    (cwd, data), = [ln.split("|") for ln in (tmp_path / "calls").read_text().splitlines()]
    assert cwd == str(tmp_path) and data.startswith("lowerdir=l/")


def test_readonly_mount_has_no_upper_and_two_lower_dirs_at_least(tmp_path) -> None:
    m = RecordingMounter()
    overlay.mount_readonly(m, str(tmp_path), ["/c/upper", "/l/top", "/l/base"], str(tmp_path / "t"), "/empty")
    overlay.mount_readonly(m, str(tmp_path), ["/c/upper"], str(tmp_path / "t"), "/empty")
    (source, target, fstype, flags, data, dummy), (dummy2, dummy3, dummy4, flags2, data2, dummy5) = m.calls
    assert (source, target, fstype, flags) == ("overlay", str(tmp_path / "t"), "overlay", overlay.MS_RDONLY)
    assert data == "lowerdir=/c/upper:/l/top:/l/base"
    assert (flags2, data2) == (overlay.MS_RDONLY, "lowerdir=/c/upper:/empty")  # overlayfs refuses a single lower dir
    assert not os.path.exists(tmp_path / "t")  # the caller makes the target


def test_readonly_mount_of_a_long_stack_uses_short_links(tmp_path) -> None:
    layers = []
    for i in range(60):
        d = tmp_path / "layers" / "sha256" / (f"{i:02d}" * 32) / "diff"
        d.mkdir(parents=True)
        layers.append(str(d))
    log = tmp_path / "calls"

    class ChildRecorder:  # the mount runs in a forked child: it leaves its arguments in a file
        def mount(self, source, target, fstype, flags, data) -> None:
            log.write_text(json.dumps([flags, data, os.getcwd()]))

    overlay.mount_readonly(ChildRecorder(), str(tmp_path), layers, str(tmp_path / "t"), str(tmp_path / "empty"))
    flags, data, cwd = json.loads(log.read_text())
    assert flags == overlay.MS_RDONLY and cwd == str(tmp_path)  # from a child in the data root: relative links
    assert data.startswith("lowerdir=l/") and data.count(":") == 59 and "upperdir" not in data
