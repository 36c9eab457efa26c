# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``berth`` command as a user runs it: bin/berth in a subprocess, docker's output and exit codes."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import typing as t

import pytest

from tests.support import cli
from tests.support.cli import pycache_env

pytestmark = [pytest.mark.functional]

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BERTH = os.path.join(REPO_ROOT, "bin", "berth")
ARCHIVE_PY = os.path.join(REPO_ROOT, "plugins", "module_utils", "engine", "store", "archive", "__init__.py")
needs_archive = pytest.mark.skipif(
    not os.path.exists(ARCHIVE_PY), reason="engine archive support (store/archive/: import/load/save) not there yet"
)
HEX12 = re.compile(r"^[0-9a-f]{12}$")
FULL_ID = re.compile(r"^sha256:[0-9a-f]{64}$")


# Each call is a fresh interpreter: let it cache bytecode (outside the work tree) as a user's would.
_PYCACHE: dict[str, str] = {}


def cli_env(extra: t.Mapping[str, str] | None = None) -> dict[str, str]:
    if not _PYCACHE:
        import tempfile

        _PYCACHE["dir"] = tempfile.mkdtemp(prefix="berth-cli-pycache-")
    return {**pycache_env(_PYCACHE["dir"]), **(extra or {})}


@pytest.fixture(scope="module", autouse=True)
def _drop_pycache() -> t.Iterator[None]:
    yield
    if _PYCACHE:
        import shutil

        shutil.rmtree(_PYCACHE.pop("dir"), ignore_errors=True)


class Berth(cli.Berth):
    """tests/support/cli.py's runner; *env* adds variables to :func:`cli_env`."""

    def __call__(self, *args: str, env: dict[str, str] | None = None, **kwargs: t.Any) -> t.Any:
        return super().__call__(*args, env=cli_env(env), **kwargs)


@pytest.fixture
def berth(berth_root: str, berth_config: t.Callable[..., str], registry: t.Any) -> Berth:
    return Berth(berth_root, berth_config())


@pytest.fixture
def offline_berth(berth_root: str, berth_config: t.Callable[..., str]) -> Berth:
    return Berth(berth_root, berth_config())


def image_table(out: str) -> list[list[str]]:
    """Split a docker table on runs of 3+ spaces (cells never contain them here)."""
    return [re.split(r"\s{3,}", line.rstrip()) for line in out.splitlines()]


# ------------------------------------------------------------------ pull
def test_pull_plain_output_then_up_to_date_then_quiet(berth: Berth, pushed_busybox: t.Any) -> None:
    first = berth("pull", pushed_busybox)
    lines = first.out.splitlines()
    assert lines[0] == "latest: Pulling from library/busybox"
    layer_lines = [x for x in lines if re.match(r"^[0-9a-f]{12}: ", x)]
    assert layer_lines, first.out
    layer = layer_lines[0].split(":")[0]
    assert f"{layer}: Pulling fs layer" in lines
    assert f"{layer}: Pull complete" in lines
    assert lines.index(f"{layer}: Pulling fs layer") < lines.index(f"{layer}: Pull complete")
    assert len(layer_lines) == len(set(layer_lines)), "one line per state change"
    assert not any("\x1b" in x or "Downloading" in x for x in lines), "no progress bars off a terminal"
    assert lines[-3:] == [
        f"Digest: {pushed_busybox.digest}",
        f"Status: Downloaded newer image for {pushed_busybox}",
        str(pushed_busybox),
    ]

    again = berth("pull", pushed_busybox)
    assert again.out.splitlines() == [
        "latest: Pulling from library/busybox",
        f"Digest: {pushed_busybox.digest}",
        f"Status: Image is up to date for {pushed_busybox}",
        str(pushed_busybox),
    ]
    assert berth("pull", "-q", pushed_busybox).out == f"{pushed_busybox}\n"


def test_pull_default_tag_and_unknown_tag(berth: Berth, registry: t.Any, pushed_busybox: t.Any) -> None:
    untagged = f"{registry.host}/library/busybox"
    out = berth("pull", untagged).out.splitlines()
    assert out[0] == "Using default tag: latest"
    assert out[-1] == f"{untagged}:latest"
    bad = berth("pull", f"{registry.host}/library/busybox:nope", rc=1)
    assert bad.err.startswith("Error: ") and "nope" in bad.err
    assert "Traceback" not in bad.err
    debug = berth("--debug", "pull", f"{registry.host}/library/busybox:nope", rc=1)
    assert "Traceback" in debug.err


def test_pull_image_for_another_platform_warns(berth: Berth, registry: t.Any, tmp_path: t.Any) -> None:
    from tests.support import images as timages

    layouts = timages.platform_layouts(tmp_path / "layout")
    host_arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    plat = next(p for p in layouts if p.split("/")[1] != host_arch)
    pushed = timages.push(layouts[plat], layouts[plat].tag, registry.host, "foreign/cli:1")
    res = berth("pull", str(pushed))
    assert res.out.splitlines()[-1] == str(pushed)
    assert res.err.startswith(f"WARNING: The requested image's platform ({plat}) does not match the detected host")


def test_login_pull_logout(berth: Berth, auth_registry: t.Any, busybox_layout: t.Any) -> None:
    from tests.support import images as timages

    host = auth_registry.host
    pushed = timages.push(busybox_layout, "latest", host, "private/busybox:latest",
                          creds=(auth_registry.username, auth_registry.password))
    auth_json = os.path.join(os.path.dirname(berth.config), "auth.json")
    denied = berth("pull", str(pushed), rc=1)
    assert f"log in first: berth login {host} (the credentials go to {auth_json})" in denied.err
    bad = berth("login", "-u", "berth", "--password-stdin", host, input="wrong-pw\n", rc=1)
    assert "rejected" in bad.err and "wrong-pw" not in bad.err and not os.path.exists(auth_json)
    ok = berth("login", "-u", "berth", "--password-stdin", host, input=auth_registry.password + "\n")
    assert ok.out == "Login Succeeded\n" and auth_json in ok.err
    assert os.stat(auth_json).st_mode & 0o777 == 0o600
    lock = os.path.join(os.path.dirname(auth_json), ".auth.json.lock")  # changed under the lock (one place)
    assert os.stat(lock).st_mode & 0o777 == 0o600
    assert json.load(open(auth_json))["auths"][host]["auth"]
    berth("pull", str(pushed))
    assert berth("logout", host).out == f"Removing login credentials for {host}\n"
    assert berth("logout", host).out == f"Not logged in to {host}\n"
    assert "Cannot perform an interactive login from a non TTY device" in berth("login", host, rc=1).err


def test_pull_on_a_terminal_redraws_progress(berth: Berth, pushed_busybox: t.Any) -> None:
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    argv = [sys.executable, BERTH, "--root", berth.root, "--config", berth.config, "pull", pushed_busybox]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE, env=cli_env())
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed its side
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=60) == 0, proc.stderr.read().decode() if proc.stderr else ""
    text = b"".join(chunks).decode()
    assert "Pull complete" in text
    assert "\x1b[2K" in text and re.search(r"\x1b\[\d+A", text), "lines are rewritten in place"
    assert f"Status: Downloaded newer image for {pushed_busybox}" in text


# ------------------------------------------------------------------ push
def test_push_plain_output_mount_then_existing(berth: Berth, registry: t.Any, pushed_busybox: t.Any) -> None:
    berth("pull", "-q", pushed_busybox)
    target = f"{registry.host}/cli/pushed"
    berth("tag", pushed_busybox, f"{target}:1")
    lines = berth("push", f"{target}:1").out.splitlines()
    assert lines[0] == f"The push refers to repository [{target}]"
    layers = [x.split(": ", 1) for x in lines if re.match(r"^[0-9a-f]{12}: ", x)]
    assert layers and {how for _l, how in layers} == {"Preparing", "Mounted from library/busybox"}
    assert lines[-1] == f"1: digest: {pushed_busybox.digest} size: {len(timages_raw(pushed_busybox))}"
    again = berth("push", f"{target}:1").out.splitlines()
    assert {x.split(": ", 1)[1] for x in again if re.match(r"^[0-9a-f]{12}: ", x)} == {
        "Preparing", "Layer already exists"}
    assert berth("push", "-q", f"{target}:1").out == f"{target}:1\n"
    berth("tag", pushed_busybox, target)
    untagged = berth("push", target).out.splitlines()
    assert untagged[0] == "Using default tag: latest"
    missing = berth("push", f"{target}:nope", rc=1)
    assert missing.err.startswith("Error: ") and "nope" in missing.err and "Traceback" not in missing.err


def timages_raw(ref: str) -> bytes:
    from tests.support import images as timages

    return timages.skopeo_inspect_raw(ref)


# ------------------------------------------------------------------ images / tag / inspect / rmi
def test_images_table_quiet_json_filters(berth: Berth, pushed_busybox: t.Any, registry: t.Any) -> None:
    empty = berth("images")
    assert empty.out == "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n"
    berth("pull", "-q", pushed_busybox)
    repo = f"{registry.host}/library/busybox"
    assert berth("tag", pushed_busybox, "mine/app:1").out == ""

    rows = image_table(berth("images").out)
    assert rows[0] == ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    by_name = {(r[0], r[1]): r for r in rows[1:]}
    assert set(by_name) == {(repo, "latest"), ("mine/app", "1")}
    row = by_name[("mine/app", "1")]
    assert HEX12.match(row[2]) and row[3].endswith(" ago") and re.match(r"^\d[\d.]*[kMG]?B$", row[4])

    quiet = berth("images", "-q").out.splitlines()
    assert quiet == [row[2]], "one unique ID for two tags"
    full = berth("images", "-q", "--no-trunc").out.splitlines()
    assert len(full) == 1 and FULL_ID.match(full[0]) and full[0][7:19] == row[2]

    digests = image_table(berth("images", "--digests").out)
    assert digests[0] == ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"]
    assert [repo, "latest", pushed_busybox.digest] == digests[[r[0] for r in digests].index(repo)][:3]

    objs = [json.loads(x) for x in berth("images", "--format", "json").out.splitlines()]
    assert {(o["Repository"], o["Tag"]) for o in objs} == set(by_name)
    assert all(o["ID"] == row[2] and o["Digest"] == "<none>" for o in objs)
    # Like docker, only the matching tags of a matching image are shown.
    assert berth("images", "--format", "{{.Repository}}:{{.Tag}}", "mine/app").out.splitlines() == ["mine/app:1"]

    assert ["mine/app", "1"] in [r[:2] for r in image_table(berth("images", "-f", "reference=mine/*").out)]
    assert len(berth("images", "-f", "dangling=true").out.splitlines()) == 1
    bad = berth("images", "-f", "colour=red", rc=125)  # InvalidOption.exit_code
    assert bad.err.startswith("Error: ") and "colour" in bad.err
    assert berth("images", "-f", "nonsense", rc=125).err.startswith("berth images: bad format of filter")
    assert berth("image", "ls", "-q").out == berth("image", "list", "-q").out == berth("images", "-q").out


def test_inspect_history_rmi(berth: Berth, pushed_busybox: t.Any) -> None:
    berth("pull", "-q", pushed_busybox)
    berth("tag", pushed_busybox, "app:1")
    info = json.loads(berth("image", "inspect", "app:1").out)
    assert isinstance(info, list) and len(info) == 1 and info[0]["Config"]["Cmd"] == ["sh"]
    assert json.loads(berth("inspect", "app:1", pushed_busybox).out)[1]["Id"] == info[0]["Id"]
    assert berth("inspect", "-f", "{{.Id}} {{json .Config.Cmd}}", "app:1").out == f"{info[0]['Id']} [\"sh\"]\n"
    missing = berth("image", "inspect", "nope:1", rc=1)
    assert missing.out == "[]\n" and missing.err == "Error: No such image: nope:1\n"

    hist = image_table(berth("history", "app:1").out)
    assert hist[0] == ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
    assert hist[1][0] == info[0]["Id"][7:19]
    assert berth("image", "history", "-q", "app:1").out.splitlines()[0] == info[0]["Id"][7:19]

    assert berth("rmi", "app:1").out == "Untagged: app:1\n"
    out = berth("image", "rm", pushed_busybox).out.splitlines()
    assert out[0] == f"Untagged: {pushed_busybox}"
    assert f"Untagged: {pushed_busybox.by_digest}" in out
    assert f"Deleted: {info[0]['Id']}" in out
    assert all(re.match(r"^(Untagged: .+|Deleted: sha256:[0-9a-f]{64})$", x) for x in out)
    gone = berth("rmi", "x", rc=1)
    assert gone.err == "Error: No such image: x\n" and gone.out == ""
    assert berth("images", "-q").out == ""


# ------------------------------------------------------------------ import / save / load / prune / df
@needs_archive
def test_import_file_and_stdin(offline_berth: Berth, rootfs_tar: str) -> None:
    b = offline_berth
    image_id = b("import", "-m", "from a file", "-c", "CMD [\"sh\"]", rootfs_tar, "imp:file").out.strip()
    assert FULL_ID.match(image_id)
    info = json.loads(b("image", "inspect", "imp:file").out)[0]
    assert info["Id"] == image_id and info["Config"]["Cmd"] == ["sh"]
    with open(rootfs_tar, "rb") as fh:
        from_stdin = b("image", "import", "-", "imp:stdin", input=fh.read()).out.strip()
    assert FULL_ID.match(from_stdin)
    assert ("imp", "stdin") in {tuple(r[:2]) for r in image_table(b("images").out)[1:]}


@needs_archive
def test_save_load_round_trip(offline_berth: Berth, rootfs_tar: str, tmp_path: t.Any) -> None:
    b = offline_berth
    image_id = b("import", rootfs_tar, "round:trip").out.strip()
    archive = str(tmp_path / "saved.tar")
    assert b("save", "-o", archive, "round:trip").out == ""
    assert os.path.getsize(archive) > 100_000
    b("rmi", "round:trip")
    assert b("load", "-i", archive).out == "Loaded image: round:trip\n"
    assert b("images", "-q", "--no-trunc").out.strip() == image_id
    oci = str(tmp_path / "saved-oci.tar")
    b("save", "--format", "oci-archive", "-o", oci, "round:trip")
    with open(archive, "rb") as fh:
        assert b("load", "-q", input=fh.read()).out == "Loaded image: round:trip\n"


@needs_archive
def test_load_oci_layout_skips_an_image_not_for_this_host(offline_berth: Berth, busybox_layout: t.Any,
                                                          tmp_path: t.Any) -> None:
    import hashlib
    import shutil

    lay = tmp_path / "layout"
    shutil.copytree(busybox_layout.path, lay)
    foreign = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "0" * 64, "size": 10,
         "platform": {"os": "linux", "architecture": "s390x"}}]}).encode()
    digest = hashlib.sha256(foreign).hexdigest()
    (lay / "blobs" / "sha256" / digest).write_bytes(foreign)
    (lay / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": f"sha256:{digest}", "size": len(foreign),
         "annotations": {"io.containerd.image.name": "docker.io/library/mainframe:1"}},
        dict(busybox_layout.descriptor(), annotations={"io.containerd.image.name": "docker.io/library/bb:1"}),
    ]}))
    res = offline_berth("load", "-i", str(lay))
    assert res.out == "Loaded image: bb:1\n"
    assert res.err.startswith("WARNING: skipped mainframe:1: ") and "s390x" in res.err


@needs_archive
def test_image_prune_and_system_df(offline_berth: Berth, rootfs_tar: str) -> None:
    b = offline_berth
    df = image_table(b("system", "df").out)
    assert df == [
        ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
        ["Images", "0", "0", "0B", "0B"],
        ["Containers", "0", "0", "0B", "0B"],
        ["Local Volumes", "0", "0", "0B", "0B"],
        ["Build Cache", "0", "0", "0B", "0B"],
    ]
    first = b("import", "-c", "LABEL v=1", rootfs_tar, "app:latest").out.strip()
    b("import", "-c", "LABEL v=2", rootfs_tar, "app:latest")  # moves the tag: the first is dangling
    df = image_table(b("system", "df").out)
    assert df[1][:3] == ["Images", "2", "0"] and df[1][4].endswith("(100%)")
    assert "Images space usage:" in b("system", "df", "-v").out
    assert [json.loads(x)["Type"] for x in b("system", "df", "--format", "json").out.splitlines()] == [
        "Images", "Containers", "Local Volumes", "Build Cache"]
    dangling = b("images", "-f", "dangling=true", "--format", "{{.Repository}} {{.Tag}} {{.ID}}").out
    assert dangling == f"<none> <none> {first[7:19]}\n"

    no = b("image", "prune", input="n\n")
    assert no.out == "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "
    assert len(b("images", "-q").out.split()) == 2
    pruned = b("image", "prune", "-f").out.splitlines()
    assert pruned[:2] == ["Deleted Images:", f"deleted: {first}"]
    assert pruned[-2] == "" and re.match(r"^Total reclaimed space: \d[\d.]*[kMG]?B$", pruned[-1])
    assert len(b("images", "-q").out.split()) == 1
    again = b("image", "prune", "-a", input="y\n").out
    assert again.startswith("WARNING! This will remove all images without at least one container")
    assert "untagged: app:latest" in again
    assert b("images", "-q").out == ""


# ------------------------------------------------------------------ usage
def test_usage_errors_and_help(offline_berth: Berth, tmp_path: t.Any) -> None:
    b = offline_berth
    unknown = b("foo", rc=125)
    assert unknown.err == "berth: 'foo' is not a berth command.\nSee 'berth --help'\n"
    bad_flag = b("images", "--bogus", rc=125)
    assert bad_flag.err == "unknown flag: --bogus\nSee 'berth images --help'.\n"
    assert b("tag", "only-one", rc=125).err.startswith("berth tag: ")
    assert b("image", "frobnicate", rc=125).err.startswith("berth: 'image frobnicate' is not a berth command.")
    assert "Commands:" in b("image").out
    assert "Commands:" in b().out
    assert re.match(r"^Berth version \d+\.\d+\.\d+", b("--version").out)
    assert "--root DIR" in b("--help").out
    env_root = b("images", "-q", env={"BERTH_ROOT": "relative/path"})  # --root wins over the env
    assert env_root.out == ""
    # Without --root/--config the environment is used; an engine error is "Error: …" and its exit code.
    bad = tmp_path / "bad.json"
    bad.write_text('{"no-such-key": 1}')
    env = cli_env({"BERTH_ROOT": str(tmp_path / "r"), "BERTH_CONFIG": str(bad)})
    proc = subprocess.run([sys.executable, BERTH, "images"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1 and proc.stderr.startswith("Error: invalid engine configuration " + str(bad))
