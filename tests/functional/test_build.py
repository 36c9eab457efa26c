# SPDX-License-Identifier: GPL-3.0-or-later
"""``berth build`` on the real kernel: every Dockerfile instruction, its config, history and files,
layers with whiteouts, ADD extraction and downloads, ONBUILD, multi-stage builds, the step cache,
``.dockerignore``, tarball/git/stdin contexts, and the built image run with ``berth run``.

One data root with busybox imported as ``busybox:latest`` for the module; the engine runs in-process
(``Engine.build``) or as ``bin/berth build``.
"""
from __future__ import annotations

import bz2
import gzip
import http.server
import io
import lzma
import os
import subprocess
import tarfile
import threading
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.api import Engine
from ansible_collections.berth.engine.plugins.module_utils.engine.errors import BuildError, DockerfileError
from tests.support.cli import Berth, scratch_with_busybox

pytestmark = [pytest.mark.functional]

if os.geteuid() != 0:
    pytest.skip("needs root: containers and overlay mounts", allow_module_level=True)


@pytest.fixture(scope="module")
def berth(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs: str) -> Berth:
    return scratch_with_busybox(tmp_path_factory.mktemp("build"), busybox_rootfs, "busybox:latest")


@pytest.fixture
def engine(berth: Berth) -> Engine:
    return Engine.open(data_root=berth.root, config_path=berth.config)


def context(base: t.Any, dockerfile: str, files: t.Mapping[str, t.Any] | None = None) -> str:
    """A context directory below *base*: the Dockerfile and *files* ({path: bytes | (bytes, mode)})."""
    root = os.path.join(os.fspath(base), "ctx")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "Dockerfile"), "w", encoding="utf-8") as fh:
        fh.write(dockerfile)
    for name, value in (files or {}).items():
        data, mode = value if isinstance(value, tuple) else (value, 0o644)
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
        os.chmod(path, mode)
    return root


def build(engine: Engine, ctx: str | None, **kwargs: t.Any) -> tuple[str, list[str], dict[str, t.Any]]:
    lines: list[str] = []
    result = engine.build(ctx, say=lines.append, **kwargs)
    return result["image_id"], lines, result


def layer_names(engine: Engine, image: str, index: int = -1) -> list[str]:
    ref = engine.store.get(image).layers[index]
    with tarfile.open(engine.layout.blob(ref.blob)) as tf:
        return tf.getnames()


def run(berth: Berth, image: str, *argv: str) -> str:
    return berth("run", "--rm", image, *argv).out


EVERY = """\
# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM $BASE AS base
LABEL org.example.name="every one" version=1
ENV APP=/srv/app \\
    GREETING="hello world"
ARG BUILD_ONLY=secret
ARG FROM_CLI
WORKDIR $APP
RUN echo "$GREETING $BUILD_ONLY $FROM_CLI" > built.txt && rm /etc/group && mkdir /gone && touch /gone/x
RUN rm -r /gone
COPY --chown=65534:65534 data/ ./data/
COPY run.sh /usr/local/bin/
USER nobody
EXPOSE 8080 53/udp
VOLUME ["/srv/data"]
STOPSIGNAL SIGINT
SHELL ["/bin/sh", "-ec"]
HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD test -f built.txt
ONBUILD RUN echo child $0 > /tmp/child.txt
ENTRYPOINT ["/usr/local/bin/run.sh"]
CMD ["default"]
"""


@pytest.fixture(scope="module")
def every(berth: Berth, tmp_path_factory: pytest.TempPathFactory) -> str:
    eng = Engine.open(data_root=berth.root, config_path=berth.config)
    ctx = context(tmp_path_factory.mktemp("every"), EVERY, {
        "data/a.txt": (b"a\n", 0o640), "data/sub/b.txt": b"b\n",
        "run.sh": (b"#!/bin/sh\necho \"run: $* $APP\"\n", 0o755),
    })
    image, dummy, dummy2 = build(eng, ctx, tags=["every:1"], build_args={"FROM_CLI": "cli"})
    return image


def test_every_instruction_config(engine: Engine, every: str) -> None:
    cfg = engine.images.inspect("every:1")["Config"]
    # ARG values are not kept; the base has no PATH: Docker's default is added
    assert cfg["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "APP=/srv/app",
                          "GREETING=hello world"]
    assert (cfg["Hostname"], cfg["Tty"], cfg["OpenStdin"]) == ("", False, False)
    assert cfg["Image"].startswith("sha256:")  # the image of the step before, as the classic builder records
    assert cfg["WorkingDir"] == "/srv/app"
    assert cfg["User"] == "nobody"
    assert cfg["Labels"] == {"org.example.name": "every one", "version": "1"}
    assert cfg["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    assert cfg["Volumes"] == {"/srv/data": {}}
    assert cfg["StopSignal"] == "SIGINT"
    assert cfg["Shell"] == ["/bin/sh", "-ec"]
    assert cfg["Healthcheck"] == {"Test": ["CMD-SHELL", "test -f built.txt"], "Interval": 5_000_000_000,
                                  "Timeout": 2_000_000_000, "Retries": 4}
    assert cfg["OnBuild"] == ["RUN echo child $0 > /tmp/child.txt"]
    assert cfg["Entrypoint"] == ["/usr/local/bin/run.sh"]
    assert cfg["Cmd"] == ["default"]


def test_every_instruction_history(engine: Engine, every: str) -> None:
    history = engine.images.inspect("every:1")
    cfg = engine.store.verified_config(every)
    entries = cfg["history"][1:]  # after the base image's
    layered = [h["created_by"] for h in entries if not h.get("empty_layer")]
    assert len(layered) == 5  # WORKDIR (created), two RUNs, two COPYs
    assert layered[0] == "/bin/sh -c #(nop) WORKDIR /srv/app"
    assert layered[1].startswith("|2 BUILD_ONLY=secret FROM_CLI=cli /bin/sh -c echo")
    assert layered[3].startswith("/bin/sh -c #(nop) COPY dir:")
    assert layered[4].startswith("/bin/sh -c #(nop) COPY file:") and layered[4].endswith(" in /usr/local/bin/ ")
    nops = [h["created_by"] for h in entries if h.get("empty_layer")]
    assert "/bin/sh -c #(nop)  ENV APP=/srv/app GREETING=hello world" in nops
    assert '/bin/sh -ec #(nop)  CMD ["default"]' in nops  # after SHELL, its shell (as Docker writes it)
    assert '/bin/sh -ec #(nop)  HEALTHCHECK &{["CMD-SHELL" "test -f built.txt"] "5s" "2s" "0s" \'\\x04\'}' in nops
    assert "/bin/sh -c #(nop)  EXPOSE 53/udp 8080" in nops and "/bin/sh -c #(nop)  VOLUME [/srv/data]" in nops
    assert len(cfg["rootfs"]["diff_ids"]) == len(history["RootFS"]["Layers"]) == 1 + 5
    assert len(engine.images.history("every:1")) == len(cfg["history"])


def test_every_instruction_files_and_run(berth: Berth, every: str) -> None:
    out = run(berth, "every:1")
    assert out == "run: default /srv/app\n"  # ENTRYPOINT with CMD as its arguments, ENV at run time
    assert run(berth, "every:1", "x") == "run: x /srv/app\n"
    stat = berth("run", "--rm", "--entrypoint", "stat", "every:1", "-c", "%n %u:%g %a",
                 "/srv/app", "/srv/app/data", "/srv/app/data/a.txt", "/srv/app/data/sub/b.txt",
                 "/usr/local/bin/run.sh").out
    assert stat.splitlines() == [
        "/srv/app 0:0 755", "/srv/app/data 65534:65534 755", "/srv/app/data/a.txt 65534:65534 640",
        "/srv/app/data/sub/b.txt 65534:65534 644", "/usr/local/bin/run.sh 0:0 755"]
    cat = berth("run", "--rm", "--entrypoint", "cat", "every:1", "built.txt").out
    assert cat == "hello world secret cli\n"
    env = berth("run", "--rm", "--entrypoint", "env", "every:1").out
    assert "BUILD_ONLY" not in env and "FROM_CLI" not in env
    gone = berth("run", "--rm", "--entrypoint", "ls", "every:1", "/etc/group", "/gone", rc=None)
    assert gone.returncode != 0 and "/etc/group" in gone.err + gone.out


def test_whiteouts_in_layers(engine: Engine, every: str) -> None:
    first_run = layer_names(engine, every, 2)
    assert "etc/.wh.group" in first_run and "gone/x" in first_run
    second_run = layer_names(engine, every, 3)
    assert ".wh.gone" in second_run


def test_onbuild_fires_in_child(engine: Engine, berth: Berth, every: str, tmp_path: t.Any) -> None:
    ctx = context(tmp_path, "FROM every:1\nUSER root\nRUN cat /tmp/child.txt\n")
    image, lines, dummy = build(engine, ctx, tags=["child:1"])
    assert "# Executing 1 build trigger" in lines
    # the trigger ran as the parent's user, with its SHELL (/bin/sh -ec: $0 is /bin/sh)
    assert berth("run", "--rm", "--entrypoint", "cat", "child:1", "/tmp/child.txt").out == "child /bin/sh\n"
    assert berth("run", "--rm", "--entrypoint", "stat", "child:1", "-c", "%U", "/tmp/child.txt").out == "nobody\n"
    assert engine.images.inspect("child:1")["Config"].get("OnBuild") in (None, [])


def test_scratch_copy_and_add_archives(engine: Engine, tmp_path: t.Any) -> None:
    def tar_bytes(compress: t.Callable[[bytes], bytes]) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            for name, data, mode, uid in (("top/f", b"x", 0o600, 1234), ("../escape", b"e", 0o644, 0)):
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.uid = len(data), mode, uid
                tf.addfile(info, io.BytesIO(data))
        return compress(buf.getvalue())

    ctx = context(tmp_path, "FROM scratch\nADD a.tar.gz /gz/\nADD a.tar.bz2 /bz/\nADD a.tar.xz /xz\n"
                            "COPY a.tar.gz /copied/\nADD plain.txt /\n", {
                                "a.tar.gz": tar_bytes(gzip.compress), "a.tar.bz2": tar_bytes(bz2.compress),
                                "a.tar.xz": tar_bytes(lzma.compress), "plain.txt": b"p",
                            })
    image, dummy, dummy2 = build(engine, ctx)
    for i, where in enumerate(("gz", "bz", "xz")):
        names = layer_names(engine, image, i)
        assert f"{where}/top/f" in names and f"{where}/escape" in names, names
        assert not any(n.startswith("..") or n.startswith("escape") for n in names)
    with tarfile.open(engine.layout.blob(engine.store.get(image).layers[0].blob)) as tf:
        member = tf.getmember("gz/top/f")
        assert (member.uid, member.mode) == (1234, 0o600)
    assert "copied/a.tar.gz" in layer_names(engine, image, 3)  # COPY does not extract
    assert layer_names(engine, image, 4) == ["plain.txt"]
    assert len(engine.store.get(image).layers) == 5


def test_add_from_url(engine: Engine, berth: Berth, tmp_path: t.Any) -> None:
    served = tmp_path / "www"
    served.mkdir()
    (served / "file.txt").write_bytes(b"downloaded\n")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: t.Any, **kw: t.Any) -> None:
            super().__init__(*a, directory=str(served), **kw)

        def log_message(self, *a: t.Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/file.txt"
        ctx = context(tmp_path, f"FROM busybox\nADD {url} /dl/\n")
        build(engine, ctx, tags=["dl:1"])
        missing = f"http://127.0.0.1:{server.server_address[1]}/missing.txt"
        with pytest.raises(BuildError, match="ADD failed: cannot download .*missing.txt.*404"):
            build(engine, context(tmp_path / "404", f"FROM busybox\nADD {missing} /dl/\n"), tags=["dl:404"])
    finally:
        server.shutdown()
    out = berth("run", "--rm", "dl:1", "stat", "-c", "%a %u", "/dl/file.txt").out
    assert out == "600 0\n"
    assert run(berth, "dl:1", "cat", "/dl/file.txt") == "downloaded\n"


def test_multi_stage_copy_from_and_target(engine: Engine, berth: Berth, tmp_path: t.Any) -> None:
    ctx = context(tmp_path, "FROM busybox AS build\nRUN mkdir /out && echo artefact > /out/a\n"
                            "FROM busybox AS other\nRUN false\n"
                            "FROM scratch\nCOPY --from=build /out/a /a\nCOPY --from=busybox:latest /bin/busybox /bb\n")
    with pytest.raises(BuildError, match="returned a non-zero code: 1"):
        build(engine, ctx)
    ctx = context(tmp_path, "FROM busybox AS build\nRUN mkdir /out && echo artefact > /out/a\n"
                            "FROM busybox AS other\nRUN echo other > /o\n"
                            "FROM scratch\nCOPY --from=build /out/a /a\nCOPY --from=busybox:latest /bin/busybox /bb\n"
                            "COPY --from=0 /out /out\n")
    image, dummy, dummy2 = build(engine, ctx, tags=["multi:1"])
    assert [layer_names(engine, image, i) for i in range(3)] == [["a"], ["bb"], ["out", "out/a"]]
    target, dummy, dummy2 = build(engine, ctx, target="other", tags=["multi:other"])
    assert run(berth, "multi:other", "cat", "/o") == "other\n"


def test_cache_hit_miss_and_no_cache(engine: Engine, tmp_path: t.Any) -> None:
    files = {"a.txt": b"one", "b.txt": b"two"}
    dockerfile = "FROM busybox\nCOPY a.txt /\nRUN echo $RANDOM > /r\nCOPY b.txt /\nCMD [\"x\"]\n"
    ctx = context(tmp_path, dockerfile, files)
    first, dummy, r1 = build(engine, ctx)
    assert r1["cached"] == 0
    os.utime(os.path.join(ctx, "a.txt"), (1, 1))  # a new mtime is no change
    again, lines, r2 = build(engine, ctx)
    assert again == first and r2["cached"] == 4 and lines.count(" ---> Using cache") == 4
    with open(os.path.join(ctx, "b.txt"), "wb") as fh:
        fh.write(b"three")
    changed, dummy, r3 = build(engine, ctx)
    assert changed != first and r3["cached"] == 2  # COPY a.txt and RUN hit; COPY b.txt and CMD run again
    os.chmod(os.path.join(ctx, "a.txt"), 0o600)
    dummy, dummy2, r4 = build(engine, ctx)
    assert r4["cached"] == 0  # a mode is content: the first COPY and everything after it run again
    fresh, dummy, r5 = build(engine, ctx, no_cache=True)
    assert r5["cached"] == 0


def test_dockerignore(engine: Engine, tmp_path: t.Any) -> None:
    ctx = context(tmp_path, "FROM scratch\nCOPY . /ctx/\n", {
        ".dockerignore": b"# comment\n*.log\n!keep.log\nsecret/\n**/tmp\n",
        "a.log": b"", "keep.log": b"", "src/x.py": b"", "src/tmp/t": b"", "secret/key": b"", "Dockerfile.dev": b"",
    })
    image, dummy, dummy2 = build(engine, ctx)
    names = sorted(layer_names(engine, image))
    assert names == ["ctx", "ctx/.dockerignore", "ctx/Dockerfile", "ctx/Dockerfile.dev", "ctx/keep.log",
                     "ctx/src", "ctx/src/x.py"]
    bad = context(tmp_path, "FROM scratch\nCOPY a.log /\n")
    with pytest.raises(BuildError, match="excluded by .dockerignore"):
        build(engine, bad)


def test_tarball_git_and_stdin_contexts(engine: Engine, berth: Berth, tmp_path: t.Any) -> None:
    src = context(tmp_path / "src", "FROM busybox\nCOPY f /f\n", {"f": b"from tar\n"})
    tar = str(tmp_path / "ctx.tar.gz")
    with tarfile.open(tar, "w:gz") as tf:
        tf.add(src, arcname=".")
    build(engine, tar, tags=["fromtar:1"])
    assert run(berth, "fromtar:1", "cat", "/f") == "from tar\n"

    repo = tmp_path / "repo"
    sub = context(repo / "sub", "FROM busybox\nCOPY f /f\n", {"f": b"from git\n"})
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "one"], check=True)
    subprocess.run(git + ["tag", "v1"], check=True)
    with open(os.path.join(sub, "f"), "w") as fh:
        fh.write("changed after v1\n")
    subprocess.run(git + ["commit", "-qam", "two"], check=True)
    build(engine, f"file://{repo}#v1:sub/ctx", tags=["fromgit:1"])
    assert run(berth, "fromgit:1", "cat", "/f") == "from git\n"

    image, dummy, dummy2 = build(engine, None, dockerfile_text="FROM busybox\nRUN echo stdin > /s\n",
                                 tags=["stdin:1"])
    assert run(berth, "stdin:1", "cat", "/s") == "stdin\n"
    with pytest.raises(BuildError, match="no build context"):
        build(engine, None, dockerfile_text="FROM busybox\nCOPY f /f\n")


BAD_BUILDS = [
    ("missing user", "FROM busybox\nUSER nosuchuser\n", DockerfileError, "Dockerfile:2: USER: unable to find user"),
    ("missing file", "FROM busybox\nCOPY nothere /\n", BuildError, "stat nothere: file does not exist"),
    ("failing run", "FROM busybox\nRUN exit 3\n", BuildError, "returned a non-zero code: 3"),
    ("bad healthcheck", "FROM busybox\nHEALTHCHECK --interval=5 CMD true\n", Exception, "interval"),
    ("unknown target", "FROM busybox AS a\n", DockerfileError, "target stage 'b' could not be found"),
    ("bad dockerfile", "FROM busybox\nFOO bar\n", DockerfileError, "Dockerfile:2: FOO: unknown instruction FOO"),
]


@pytest.mark.parametrize("dockerfile, error, message", [b[1:] for b in BAD_BUILDS], ids=[b[0] for b in BAD_BUILDS])
def test_bad_builds(engine: Engine, tmp_path: t.Any, dockerfile: str, error: type, message: str) -> None:
    ctx = context(tmp_path, dockerfile)
    with pytest.raises(error) as info:
        build(engine, ctx, target="b" if "unknown target" in message or "target stage" in message else None)
    assert message in str(info.value)
    assert not os.listdir(os.path.join(engine.root, "containers")) or all(
        not os.path.exists(os.path.join(engine.root, "containers", c, "config.json"))
        for c in os.listdir(os.path.join(engine.root, "containers")))


def test_cli_build(berth: Berth, tmp_path: t.Any) -> None:
    ctx = context(tmp_path, "FROM busybox\nARG WHO\nRUN echo \"built by $WHO\"\nCMD [\"echo\", \"ran\"]\n")
    first = berth("build", "-t", "cli:1", "--build-arg", "WHO=cli", "--label", "a=b", ctx).out.splitlines()
    assert first[0] == "Step 1/4 : FROM busybox"
    assert "built by cli" in first
    assert any(line.startswith(" ---> Running in ") for line in first)
    assert first[-2:][1] == "Successfully tagged cli:1" and first[-2].startswith("Successfully built ")
    again = berth("build", "-t", "cli:1", "--build-arg", "WHO=cli", "--label", "a=b", ctx).out.splitlines()
    assert again.count(" ---> Using cache") == 4  # ARG, RUN, CMD and the --label step
    image = berth("build", "-q", "--build-arg", "WHO=cli", "--label", "a=b", ctx).out.strip()
    assert image.startswith("sha256:") and image.split(":")[1][:12] in again[-2]
    assert berth("run", "--rm", "cli:1").out == "ran\n"
    assert "a" in berth("inspect", "-f", "{{json .Config.Labels}}", "cli:1").out
    history = berth("history", "--no-trunc", "cli:1").out
    assert "/bin/sh -c #(nop)  LABEL a=b" in history and '|1 WHO=cli /bin/sh -c echo "built by $WHO"' in history
    failed = berth("build", "-", input="FROM busybox\nRUN exit 2\n", rc=1)
    assert "The command '/bin/sh -c exit 2' returned a non-zero code: 2" in failed.err
    bad = berth("build", "-f", os.path.join(ctx, "nope"), ctx, rc=125)
    assert "cannot read the Dockerfile" in bad.err


def test_image_task_source_build(engine: Engine, tmp_path: t.Any) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.glue import image_task
    from ansible_collections.berth.engine.plugins.module_utils.glue.runner import TaskContext

    ctx = context(tmp_path, "FROM busybox\nARG V\nCOPY app.txt /\nRUN echo $V > /v\n", {"app.txt": b"1"})
    params = {"name": "task-built", "tag": "latest", "state": "present", "source": "build", "force": False,
              "build": {"path": ctx, "args": {"V": 1}, "labels": {"team": "web"}}}

    def task(check: bool) -> dict[str, t.Any]:
        return image_task.image(TaskContext(engine, params, check_mode=check, diff_mode=True))

    def layer_count() -> int:
        return len(os.listdir(engine.layout.layers_dir))

    predicted = task(True)
    assert predicted["changed"] and predicted["diff"]["before"]["id"] is None
    first = task(False)
    assert first["changed"] and first["image"]["Config"]["Labels"] == {"team": "web"}
    built = first["image"]["Id"]
    layers = layer_count()
    assert task(True)["changed"] is False
    again = task(False)  # every step from the cache: nothing runs, no layer is made
    assert again["changed"] is False and again["image"]["Id"] == built and layer_count() == layers
    with open(os.path.join(ctx, "app.txt"), "wb") as fh:
        fh.write(b"2")
    assert task(True)["changed"] is True
    rebuilt = task(False)
    assert rebuilt["changed"] and rebuilt["image"]["Id"] != built
    assert rebuilt["diff"]["before"]["id"] == built and rebuilt["diff"]["after"]["id"] == rebuilt["image"]["Id"]
    params["build"]["args"] = {"V": 2}
    assert task(True)["changed"] is True and task(False)["changed"] is True


def test_commit_export_import_round_trip(berth: Berth, engine: Engine, tmp_path: t.Any) -> None:
    berth("create", "--name", "to-commit", "-e", "MODE=prod", "busybox", "sh", "-c",
          "echo changed > /etc/motd; rm /etc/group; mkdir -p /data; echo d > /data/f")
    berth("start", "-a", "to-commit")
    out = berth("commit", "-a", "Jane <jane@example.com>", "-m", "first commit", "-c", "CMD [\"cat\", \"/etc/motd\"]",
                "-c", "ENV EXTRA=1", "to-commit", "committed:1").out.strip()
    assert out.startswith("sha256:")
    inspected = engine.images.inspect("committed:1")
    assert inspected["Author"] == "Jane <jane@example.com>" and inspected["Comment"] == "first commit"
    assert inspected["Config"]["Cmd"] == ["cat", "/etc/motd"]
    assert "MODE=prod" in inspected["Config"]["Env"] and "EXTRA=1" in inspected["Config"]["Env"]
    names = layer_names(engine, out)
    assert "etc/.wh.group" in names and "data/f" in names and "etc/motd" in names
    assert not any(n in names for n in ("etc/hosts", "etc/resolv.conf", "etc/hostname", "proc", "sys", "dev"))
    assert berth("run", "--rm", "committed:1").out == "changed\n"
    history = berth("history", "--no-trunc", "committed:1").out
    assert "first commit" in history and "sh -c echo changed" in history
    tar = str(tmp_path / "fs.tar")
    berth("export", "-o", tar, "to-commit")
    berth("import", tar, "reimported:1")
    assert berth("run", "--rm", "reimported:1", "cat", "/data/f").out == "d\n"
    assert berth("run", "--rm", "reimported:1", "ls", "/etc/group", rc=None).returncode != 0
    berth("rm", "to-commit")
    missing = berth("commit", "nosuch", rc=1)
    assert "No such container: nosuch" in missing.err


def test_copy_layers_with_and_without_a_container(engine: Engine, berth: Berth, tmp_path: t.Any) -> None:
    """COPY under directories of the image is a layer of its own entries and those directories as the image
    has them; COPY through a symlink of the image goes through a container, which follows it."""
    ctx = context(tmp_path, "FROM busybox\nRUN mkdir -p /opt/real && chmod 750 /opt/real && ln -s /opt/real /link\n"
                            "COPY f /etc/app.conf\nCOPY f /link/f\nCOPY f /opt/real/g\n", {"f": b"f\n"})
    image, dummy, dummy2 = build(engine, ctx, tags=["links:1"])
    with tarfile.open(engine.layout.blob(engine.store.get(image).layers[-3].blob)) as tf:
        etc = tf.getmember("etc")
        assert etc.isdir() and (etc.mode, etc.uid) == (0o755, 0) and tf.getnames() == ["etc", "etc/app.conf"]
    assert sorted(layer_names(engine, image, -2)) == ["opt", "opt/real", "opt/real/f"]
    with tarfile.open(engine.layout.blob(engine.store.get(image).layers[-1].blob)) as tf:
        assert tf.getmember("opt/real").mode == 0o750
    assert run(berth, "links:1", "cat", "/link/f", "/opt/real/g", "/etc/app.conf") == "f\nf\nf\n"


def test_saved_build_keeps_docker_config_fields(berth: Berth, every: str, tmp_path: t.Any,
                                                busybox_rootfs: str) -> None:
    archive = str(tmp_path / "every.tar")
    berth("save", "-o", archive, "every:1")
    other = scratch_with_busybox(tmp_path / "other", busybox_rootfs, "unused:1")
    other("load", "-i", archive)
    cfg = Engine.open(data_root=other.root, config_path=other.config).images.inspect("every:1")["Config"]
    assert cfg["Healthcheck"]["Test"] == ["CMD-SHELL", "test -f built.txt"]
    assert cfg["OnBuild"] == ["RUN echo child $0 > /tmp/child.txt"] and cfg["Shell"] == ["/bin/sh", "-ec"]
    assert other("run", "--rm", "every:1").out == "run: default /srv/app\n"


def test_container_commit_task(berth: Berth, engine: Engine) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.glue import image_task
    from ansible_collections.berth.engine.plugins.module_utils.glue.runner import TaskContext

    berth("create", "--name", "task-commit", "busybox", "sh", "-c", "cat /proc/sys/kernel/random/uuid > /state")
    berth("start", "-a", "task-commit")
    params = {"container": "task-commit", "name": "committed-task", "tag": "latest", "author": "ops",
              "comment": "m", "changes": ["ENV A=1"], "force": False}

    def task(check: bool) -> dict[str, t.Any]:
        return image_task.container_commit(TaskContext(engine, params, check_mode=check, diff_mode=True))

    try:
        assert task(True)["changed"] is True
        assert engine.images.resolve("committed-task") is None  # check mode made nothing
        first = task(False)
        assert first["changed"] and first["image"]["Author"] == "ops"
        assert task(True)["changed"] is False
        again = task(False)
        assert again["changed"] is False and again["image"]["Id"] == first["image"]["Id"]
        params["comment"] = "other"
        assert task(True)["changed"] is True and task(False)["changed"] is True
        berth("start", "-a", "task-commit")  # writes /state again: new content, new layer digest
        moved = task(False)
        assert moved["changed"] is True
    finally:
        berth("rm", "-f", "task-commit")


def test_container_export_task(berth: Berth, engine: Engine, tmp_path: t.Any) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.glue import image_task
    from ansible_collections.berth.engine.plugins.module_utils.glue.runner import TaskContext

    berth("create", "--name", "task-export", "busybox", "sh", "-c", "cat /proc/sys/kernel/random/uuid > /state")
    berth("start", "-a", "task-export")
    path = str(tmp_path / "fs.tar")
    params = {"container": "task-export", "path": path, "force": False}

    def task(check: bool) -> dict[str, t.Any]:
        return image_task.container_export(TaskContext(engine, params, check_mode=check))

    try:
        assert task(True)["changed"] is True and not os.path.exists(path)
        assert task(False)["changed"] is True
        with tarfile.open(path) as tf:
            assert "state" in tf.getnames() and "bin/busybox" in tf.getnames()
        mtime = os.stat(path).st_mtime_ns
        assert task(True)["changed"] is False
        assert task(False)["changed"] is False and os.stat(path).st_mtime_ns == mtime  # not rewritten
        berth("start", "-a", "task-export")
        assert task(True)["changed"] is True and task(False)["changed"] is True
        params["force"] = True
        assert task(False)["changed"] is True
        assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    finally:
        berth("rm", "-f", "task-export")


def test_untrusted_cache_entry_is_refused(engine: Engine, tmp_path: t.Any) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.engine.errors import UntrustedPath

    ctx = context(tmp_path, "FROM busybox\nRUN echo trust > /t\n")
    build(engine, ctx)
    cache = engine.layout.build_cache_dir
    for name in os.listdir(cache):
        os.chmod(os.path.join(cache, name), 0o666)  # another user could have named any image in it
    try:
        with pytest.raises(UntrustedPath, match="build cache entry"):
            build(engine, ctx)
    finally:
        for name in os.listdir(cache):
            os.chmod(os.path.join(cache, name), 0o600)


def test_intermediate_images_listing_and_prune(tmp_path: t.Any) -> None:
    b = scratch_with_busybox(tmp_path / "own", _rootfs_of(tmp_path), "busybox:latest")
    ctx = context(tmp_path, "FROM busybox\nENV A=1\nRUN echo a > /a\nCMD [\"sh\"]\n")
    image = b("build", "-q", "-t", "steps:1", ctx).out.strip()
    shown = b("images", "-q", "--no-trunc").out.split()
    assert sorted(shown) == sorted([image, b("inspect", "-f", "{{.Id}}", "busybox").out.strip()])
    assert len(b("images", "-a", "-q").out.split()) == 4  # busybox, then ENV, RUN and CMD (steps:1)
    b("image", "prune", "-f")
    again = b("build", "-t", "steps:1", ctx).out
    assert again.count(" ---> Using cache") == 3  # prune kept the steps below a tagged image
    b("rmi", "steps:1")
    b("image", "prune", "-f")
    assert len(b("images", "-a", "-q").out.split()) == 1  # the whole chain went with its last image


def _rootfs_of(tmp_path: t.Any) -> str:
    from tests.support.images import busybox_rootfs

    return busybox_rootfs(tmp_path / "rootfs")


def test_dry_run_on_a_fresh_host_writes_nothing(tmp_path: t.Any) -> None:
    root = str(tmp_path / "never-made")
    config = tmp_path / "daemon.json"
    config.write_text("{}")
    eng = Engine.open(data_root=root, config_path=str(config))
    ctx = context(tmp_path, "FROM busybox\nRUN true\n")
    assert eng.build(ctx, dry_run=True)["image_id"] == ""
    assert not os.path.exists(root)


def test_copy_makes_missing_directories(engine: Engine, tmp_path: t.Any) -> None:
    ctx = context(tmp_path, "FROM busybox\nCOPY --chown=65534:65534 f /new/deep/\nCOPY f g /etc/more/\n",
                  {"f": b"f", "g": b"g"})
    image, dummy, dummy2 = build(engine, ctx)
    with tarfile.open(engine.layout.blob(engine.store.get(image).layers[-2].blob)) as tf:
        assert tf.getnames() == ["new", "new/deep", "new/deep/f"]  # no container: the entries themselves
        assert [(m.mode, m.uid) for m in tf.getmembers()] == [(0o755, 65534)] * 2 + [(0o644, 65534)]
    with tarfile.open(engine.layout.blob(engine.store.get(image).layers[-1].blob)) as tf:
        assert tf.getnames() == ["etc", "etc/more", "etc/more/f", "etc/more/g"]


def test_from_pulls_a_missing_base_and_pull_refreshes_it(engine: Engine, pushed_busybox: t.Any,
                                                         tmp_path: t.Any) -> None:
    ctx = context(tmp_path, f"FROM {pushed_busybox}\nRUN echo pulled > /p\n")
    assert engine.images.resolve(str(pushed_busybox)) is None
    first, lines, dummy = build(engine, ctx)
    assert engine.images.resolve(str(pushed_busybox)) is not None
    again, lines, result = build(engine, ctx, pull=True)  # asks the registry again: the same image
    assert again == first and result["cached"] == 1
    assert engine.build(ctx, pull=True, dry_run=True)["image_id"] == ""  # a dry run cannot know: it would build


def test_run_steps_are_on_the_default_bridge_unless_told(engine: Engine, tmp_path: t.Any) -> None:
    """RUN joins the default bridge as docker build's does (eth0, the engine's resolv.conf); --network none
    gives only loopback. The layer holds what the step wrote, not the network files Berth mounted."""
    ctx = context(tmp_path, "FROM busybox\nRUN ls /sys/class/net > /nets && cat /etc/resolv.conf > /resolv\n")
    image = build(engine, ctx, tags=["net:bridge"], no_cache=True)[0]
    with tarfile.open(engine.layout.blob(engine.store.get(image).layers[-1].blob)) as tf:
        # no hosts/resolv.conf/hostname under etc/ (their mount points; etc itself may come as a copied-up dir)
        files = sorted(m.name for m in tf.getmembers() if not m.isdir())
        assert files == ["nets", "resolv"], [(m.name, m.type) for m in tf]
    with tarfile.open(engine.layout.blob(engine.store.get(image).layers[-1].blob)) as tf:
        nets = tf.extractfile("nets").read().decode().split()  # type: ignore[union-attr]
    assert "eth0" in nets and "lo" in nets, nets
    image = build(engine, ctx, tags=["net:none"], no_cache=True, network="none")[0]
    with tarfile.open(engine.layout.blob(engine.store.get(image).layers[-1].blob)) as tf:
        nets = tf.extractfile("nets").read().decode().split()  # type: ignore[union-attr]
    assert nets == ["lo"], nets


@pytest.mark.timeout(300)
def test_several_run_steps_on_the_bridge(engine: Engine, tmp_path: t.Any) -> None:
    """RUN after RUN on the default bridge: the previous build container's removal (a thread) is over before
    the next start forks (a starter forked beside it inherited the IPAM lock and hung the build)."""
    steps = "".join(f"RUN echo {i} > /f{i}\n" for i in range(4))
    image = build(engine, context(tmp_path, "FROM busybox\n" + steps), tags=["net:steps"], no_cache=True)[0]
    assert len(engine.store.get(image).layers) == 5
