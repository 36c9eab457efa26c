# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``berth`` command line as argparse parsers: every verb, ``--help``, docker's usage errors.

Split from ``main`` so that a plain ``berth run ...``, ``berth build ...`` or ``berth version`` (read by
``flags.parse_run``/``flags.parse_simple`` from the same flag tables) never imports argparse (~6 ms with
``re`` and ``gettext``, ~9 ms with its help formatter) nor builds a parser. Every other command line, and
any of those that the flags readers do not fully understand, goes through :func:`build_parser`.
Verb parsers themselves are built only when argparse dispatches to them (:class:`_LazyVerbs`).
"""
from __future__ import annotations

import argparse
import typing as t

from .context import PROG, UnknownCommand, UsageError
from .flags import (BUILD_FLAGS, BUILD_TARGET, GLOBAL_FLAGS, RESOURCE_FLAGS, RUN_FLAGS, RUN_TARGET, VERSION_FLAGS,
                    VERSION_TARGET, add_arguments)

if t.TYPE_CHECKING:
    _Verb = t.Tuple[t.Sequence[str], t.Callable[[argparse.ArgumentParser], None], str, str]


class _Parser(argparse.ArgumentParser):
    """argparse with docker's error style: message, ``See 'berth VERB --help'.``, exit 125."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> t.NoReturn:
        raise UsageError(message, self.prog)

    def _check_value(self, action: argparse.Action, value: t.Any) -> None:
        # Refuse an unknown verb the way docker does instead of argparse's "invalid choice".
        if isinstance(action, argparse._SubParsersAction) and value not in (action.choices or {}):
            raise UnknownCommand(self.prog, str(value))
        super()._check_value(action, value)  # type: ignore[misc]


def _handler(p: argparse.ArgumentParser, target: str) -> None:
    p.set_defaults(_run=target, _parser=p)


def _add_pull(p: argparse.ArgumentParser) -> None:
    p.add_argument("--platform", metavar="PLATFORM", help="Set platform if server is multi-platform capable (os/arch[/variant])")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    p.add_argument("name", metavar="NAME[:TAG|@DIGEST]")
    _handler(p, "images.pull")


def _add_push(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    p.add_argument("name", metavar="NAME[:TAG]")
    _handler(p, "images.push")


def _add_images(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Show all images (default hides intermediate images)")
    p.add_argument("--digests", action="store_true", help="Show digests")
    p.add_argument("-f", "--filter", action="append", default=[], metavar="FILTER",
                   help="Filter output based on conditions provided (dangling=, reference=, before=, since=, label=)")
    p.add_argument("--format", metavar="FORMAT",
                   help="Format output: 'table', 'json', 'table {{.Field}}…' or '{{.Field}}…'")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    p.add_argument("repository", nargs="?", metavar="REPOSITORY[:TAG]")
    _handler(p, "images.images")


def _add_inspect(p: argparse.ArgumentParser, with_type: bool = False) -> None:
    p.add_argument("-f", "--format", metavar="FORMAT", help="Format output: 'json' or '{{.Field}}…'")
    if with_type:
        p.add_argument("--type", choices=["image"], help="Only inspect objects of the given type")
    p.add_argument("names", nargs="+", metavar="IMAGE")
    _handler(p, "images.inspect")


def _add_tag(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
    p.add_argument("target", metavar="TARGET_IMAGE[:TAG]")
    _handler(p, "images.tag")


def _add_rmi(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="Force removal of the image")
    p.add_argument("names", nargs="+", metavar="IMAGE")
    _handler(p, "images.rmi")


def _add_prune(p: argparse.ArgumentParser, handler: str = "images.prune") -> None:
    p.add_argument("-a", "--all", action="store_true", help="Remove all unused images, not just dangling ones")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p.add_argument("--filter", action="append", default=[], metavar="FILTER",
                   help='Provide filter values (e.g. "until=<timestamp>")')
    _handler(p, handler)


def _add_load(p: argparse.ArgumentParser) -> None:
    p.add_argument("-i", "--input", metavar="FILE", help="Read from tar archive file (or OCI layout), instead of STDIN")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress the load output")
    _handler(p, "images.load")


def _add_save(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", metavar="FILE", help="Write to a file, instead of STDOUT")
    p.add_argument("--format", default="docker-archive", choices=["docker-archive", "oci-archive"],
                   help="Archive format (default docker-archive)")
    p.add_argument("names", nargs="+", metavar="IMAGE")
    _handler(p, "images.save")


def _add_import(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--change", action="append", default=[], metavar="CHANGE",
                   help="Apply Dockerfile instruction to the created image")
    p.add_argument("-m", "--message", default="", metavar="MESSAGE", help="Set commit message for imported image")
    p.add_argument("--platform", metavar="PLATFORM", help="Set platform (os/arch[/variant])")
    p.add_argument("file", metavar="FILE|-")
    p.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")
    _handler(p, "images.import_")


def _add_build(p: argparse.ArgumentParser) -> None:
    add_arguments(p, BUILD_FLAGS)
    p.add_argument("context", metavar="PATH|URL|-")
    _handler(p, BUILD_TARGET)


def _add_history(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", metavar="FORMAT", help="Format output: 'table', 'json' or a '{{.Field}}' template")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    p.add_argument("name", metavar="IMAGE")
    _handler(p, "images.history")


def _add_info(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", metavar="FORMAT",
                   help="Format output using a custom template: 'json' or a Go template")
    _handler(p, "system.info")


def _add_login(p: argparse.ArgumentParser) -> None:
    p.add_argument("-u", "--username", metavar="USERNAME", help="Username")
    p.add_argument("-p", "--password", metavar="PASSWORD", help="Password")
    p.add_argument("--password-stdin", action="store_true", help="Take the password from stdin")
    p.add_argument("server", metavar="SERVER", nargs="?", help="Registry host[:port] (default: Docker Hub)")
    _handler(p, "images.login")


def _add_logout(p: argparse.ArgumentParser) -> None:
    p.add_argument("server", metavar="SERVER", nargs="?", help="Registry host[:port] (default: Docker Hub)")
    _handler(p, "images.logout")


def _add_events(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--filter", action="append", default=[], metavar="FILTER",
                   help="Filter output based on conditions provided (container=, event=, type=, image=, label=)")
    p.add_argument("--format", metavar="STRING",
                   help="Format output using a custom template: 'json' or a Go template")
    p.add_argument("--since", metavar="STRING", help="Show all events created since timestamp")
    p.add_argument("--until", metavar="STRING", help="Stream events until this timestamp")
    _handler(p, "system.events")


def _add_version(p: argparse.ArgumentParser) -> None:
    add_arguments(p, VERSION_FLAGS)
    _handler(p, VERSION_TARGET)


def _add_df(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", metavar="FORMAT", help="Format output: 'table' or 'json'")
    p.add_argument("-v", "--verbose", action="store_true", help="Show detailed information on space usage")
    _handler(p, "system.df")


def _add_check(p: argparse.ArgumentParser) -> None:
    p.add_argument("-r", "--repair", action="store_true",
                   help="Remove the damaged blobs and layers (pull their images again to restore them)")
    p.add_argument("--format", metavar="FORMAT", help="Format output: 'table' or 'json'")
    _handler(p, "system.check")


def _add_help(p: argparse.ArgumentParser) -> None:
    # run/create/exec use -h for other things (docker's --hostname): --help only.
    p.add_argument("--help", action="help", help="Print usage")


def _add_run(p: argparse.ArgumentParser, create: bool = False) -> None:
    _add_help(p)
    add_arguments(p, RUN_FLAGS, skip=("--detach",) if create else ())
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="[COMMAND] [ARG...]")
    _handler(p, "run.create" if create else RUN_TARGET)


def _add_names(p: argparse.ArgumentParser, target: str, metavar: str = "CONTAINER") -> None:
    p.add_argument("names", nargs="+", metavar=metavar)
    _handler(p, target)


def _add_start(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--attach", action="store_true", help="Attach STDOUT/STDERR and forward signals")
    p.add_argument("--detach-keys", metavar="STRING", help="Override the key sequence for detaching a container")
    p.add_argument("-i", "--interactive", action="store_true", help="Attach container's STDIN")
    _add_names(p, "run.start")


def _add_stop(p: argparse.ArgumentParser, target: str = "manage.stop", signal: bool = True) -> None:
    if signal:
        p.add_argument("-s", "--signal", metavar="STRING", help="Signal to send to the container")
    p.add_argument("-t", "--time", "--timeout", dest="time", type=int, metavar="INT",
                   help="Seconds to wait before killing the container")
    _add_names(p, target)


def _add_kill(p: argparse.ArgumentParser) -> None:
    p.add_argument("-s", "--signal", default="KILL", metavar="STRING", help='Signal to send to the container (default "KILL")')
    _add_names(p, "manage.kill")


def _add_rm(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="Force the removal of a running container (uses SIGKILL)")
    p.add_argument("-v", "--volumes", action="store_true", help="Remove anonymous volumes associated with the container")
    _add_names(p, "manage.rm")


def _add_ps(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Show all containers (default shows just running)")
    p.add_argument("-f", "--filter", action="append", default=[], metavar="FILTER",
                   help="Filter output based on conditions provided")
    p.add_argument("--format", metavar="STRING", help="Format output: 'table', 'json', 'table {{.Field}}…' or '{{.Field}}…'")
    p.add_argument("-n", "--last", type=int, default=-1, metavar="INT",
                   help="Show n last created containers (includes all states)")
    p.add_argument("-l", "--latest", action="store_true", help="Show the latest created container (includes all states)")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display container IDs")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    _handler(p, "query.ps")


def _add_logs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--details", action="store_true", help="Show extra details provided to logs")
    p.add_argument("-f", "--follow", action="store_true", help="Follow log output")
    p.add_argument("--since", metavar="STRING",
                   help='Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m")')
    p.add_argument("-n", "--tail", default="all", metavar="STRING", help='Number of lines to show from the end of the logs')
    p.add_argument("-t", "--timestamps", action="store_true", help="Show timestamps")
    p.add_argument("--until", metavar="STRING",
                   help='Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m")')
    p.add_argument("name", metavar="CONTAINER")
    _handler(p, "query.logs")


def _add_exec(p: argparse.ArgumentParser) -> None:
    _add_help(p)
    p.add_argument("-d", "--detach", action="store_true", help="Detached mode: run command in the background")
    p.add_argument("-e", "--env", action="append", default=[], metavar="LIST", help="Set environment variables")
    p.add_argument("--env-file", action="append", default=[], metavar="LIST", help="Read in a file of environment variables")
    p.add_argument("-i", "--interactive", action="store_true", help="Keep STDIN open even if not attached")
    p.add_argument("--privileged", action="store_true", help="Give extended privileges to the command")
    p.add_argument("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    p.add_argument("-u", "--user", metavar="STRING", help="Username or UID (format: <name|uid>[:<group|gid>])")
    p.add_argument("-w", "--workdir", metavar="STRING", help="Working directory inside the container")
    p.add_argument("name", metavar="CONTAINER")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND [ARG...]")
    _handler(p, "interact.exec_")


def _add_attach(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detach-keys", metavar="STRING", help="Override the key sequence for detaching a container")
    p.add_argument("--no-stdin", action="store_true", help="Do not attach STDIN")
    p.add_argument("--sig-proxy", default="true", metavar="BOOL", help="Proxy all received signals to the process")
    p.add_argument("name", metavar="CONTAINER")
    _handler(p, "interact.attach")


def _add_container_inspect(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", metavar="STRING", help="Format output: 'json' or '{{.Field}}…'")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    p.add_argument("names", nargs="+", metavar="CONTAINER")
    p.set_defaults(type="container")
    _handler(p, "query.inspect")


def _add_any_inspect(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", metavar="STRING", help="Format output: 'json' or '{{.Field}}…'")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes if the type is container")
    p.add_argument("--type", choices=["container", "image"], help="Return JSON for specified type")
    p.add_argument("names", nargs="+", metavar="NAME|ID")
    _handler(p, "query.inspect")


def _add_top(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="CONTAINER")
    p.add_argument("ps_args", nargs=argparse.REMAINDER, metavar="[ps OPTIONS]")
    _handler(p, "query.top")


def _add_diff(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="CONTAINER")
    _handler(p, "files.diff")


def _add_cp(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--archive", action="store_true", help="Archive mode (copy all uid/gid information)")
    p.add_argument("-L", "--follow-link", action="store_true", help="Always follow symbol link in SRC_PATH")
    p.add_argument("src", metavar="SRC")
    p.add_argument("dest", metavar="DEST")
    _handler(p, "files.cp")


def _add_commit(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--author", default="", metavar="STRING",
                   help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    p.add_argument("-c", "--change", action="append", default=[], metavar="CHANGE",
                   help="Apply Dockerfile instruction to the created image")
    p.add_argument("-m", "--message", default="", metavar="MESSAGE", help="Commit message")
    p.add_argument("-p", "--pause", default="true", choices=["true", "false"], nargs="?", const="true",
                   help="Accepted for docker: Berth does not pause the container during the commit")
    p.add_argument("name", metavar="CONTAINER")
    p.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")
    _handler(p, "build.commit")


def _add_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", metavar="FILE", help="Write to a file, instead of STDOUT")
    p.add_argument("name", metavar="CONTAINER")
    _handler(p, "files.export")


def _add_stats(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Show all containers (default shows just running)")
    p.add_argument("--format", metavar="STRING", help="Format output: 'table', 'json', 'table {{.Field}}…' or '{{.Field}}…'")
    p.add_argument("--no-stream", action="store_true", help="Disable streaming stats and only pull the first result")
    p.add_argument("--no-trunc", action="store_true", help="Do not truncate output")
    p.add_argument("names", nargs="*", metavar="CONTAINER")
    _handler(p, "query.stats")


def _add_rename(p: argparse.ArgumentParser) -> None:
    p.add_argument("old", metavar="CONTAINER")
    p.add_argument("new", metavar="NEW_NAME")
    _handler(p, "manage.rename")


def _add_update(p: argparse.ArgumentParser) -> None:
    add_arguments(p, RESOURCE_FLAGS)
    _add_names(p, "manage.update")


def _add_container_prune(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p.add_argument("--filter", action="append", default=[], metavar="FILTER",
                   help='Provide filter values (e.g. "until=<timestamp>")')
    _handler(p, "manage.prune")


# Verbs of `berth container` (the first name), most also at the top level (docker's shortcuts).
_CONTAINER_VERBS: list[_Verb] = [
    (("attach",), _add_attach, "Attach local standard input, output, and error streams to a running container",
     "[OPTIONS] CONTAINER"),
    (("commit",), _add_commit, "Create a new image from a container's changes",
     "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]"),
    (("create",), lambda p: _add_run(p, create=True), "Create a new container", "[OPTIONS] IMAGE [COMMAND] [ARG...]"),
    (("cp",), _add_cp, "Copy files/folders between a container and the local filesystem",
     "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n       berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH"),
    (("diff",), _add_diff, "Inspect changes to files or directories on a container's filesystem", "CONTAINER"),
    (("exec",), _add_exec, "Execute a command in a running container", "[OPTIONS] CONTAINER COMMAND [ARG...]"),
    (("export",), _add_export, "Export a container's filesystem as a tar archive", "[OPTIONS] CONTAINER"),
    (("inspect",), _add_container_inspect, "Display detailed information on one or more containers",
     "[OPTIONS] CONTAINER [CONTAINER...]"),
    (("kill",), _add_kill, "Kill one or more running containers", "[OPTIONS] CONTAINER [CONTAINER...]"),
    (("logs",), _add_logs, "Fetch the logs of a container", "[OPTIONS] CONTAINER"),
    (("ls", "list", "ps"), _add_ps, "List containers", "[OPTIONS]"),
    (("pause",), lambda p: _add_names(p, "manage.pause"), "Pause all processes within one or more containers",
     "CONTAINER [CONTAINER...]"),
    (("prune",), _add_container_prune, "Remove all stopped containers", "[OPTIONS]"),
    (("rename",), _add_rename, "Rename a container", "CONTAINER NEW_NAME"),
    (("restart",), lambda p: _add_stop(p, "manage.restart"), "Restart one or more containers",
     "[OPTIONS] CONTAINER [CONTAINER...]"),
    (("rm", "remove"), _add_rm, "Remove one or more containers", "[OPTIONS] CONTAINER [CONTAINER...]"),
    (("run",), _add_run, "Create and run a new container from an image", "[OPTIONS] IMAGE [COMMAND] [ARG...]"),
    (("start",), _add_start, "Start one or more stopped containers", "[OPTIONS] CONTAINER [CONTAINER...]"),
    (("stats",), _add_stats, "Display a live stream of container(s) resource usage statistics",
     "[OPTIONS] [CONTAINER...]"),
    (("stop",), _add_stop, "Stop one or more running containers", "[OPTIONS] CONTAINER [CONTAINER...]"),
    (("top",), _add_top, "Display the running processes of a container", "CONTAINER [ps OPTIONS]"),
    (("unpause",), lambda p: _add_names(p, "manage.unpause"),
     "Unpause all processes within one or more containers", "CONTAINER [CONTAINER...]"),
    (("update",), _add_update, "Update configuration of one or more containers", "[OPTIONS] CONTAINER [CONTAINER...]"),
    (("wait",), lambda p: _add_names(p, "query.wait"),
     "Block until one or more containers stop, then print their exit codes", "CONTAINER [CONTAINER...]"),
]

#: The container verbs docker also has at the top level (`docker ps` is `docker container ls`).
_TOP_CONTAINER_VERBS = ("attach", "commit", "cp", "create", "diff", "exec", "export", "kill", "logs", "pause", "rename",
                        "restart", "rm", "run", "start", "stats", "stop", "top", "unpause", "update", "wait")

# (names, adder, one-line help, usage) — shared by the top level and `berth image`.
_IMAGE_VERBS: list[_Verb] = [
    (("build",), _add_build, "Build an image from a Dockerfile", "[OPTIONS] PATH | URL | -"),
    (("history",), _add_history, "Show the history of an image", "IMAGE"),
    (("import",), _add_import, "Import the contents from a tarball to create a filesystem image",
     "[OPTIONS] FILE|- [REPOSITORY[:TAG]]"),
    (("inspect",), _add_inspect, "Display detailed information on one or more images", "[OPTIONS] IMAGE [IMAGE...]"),
    (("load",), _add_load, "Load an image from a tar archive or STDIN", "[OPTIONS]"),
    (("ls", "list"), _add_images, "List images", "[OPTIONS] [REPOSITORY[:TAG]]"),
    (("prune",), _add_prune, "Remove unused images", "[OPTIONS]"),
    (("pull",), _add_pull, "Download an image from a registry", "[OPTIONS] NAME[:TAG|@DIGEST]"),
    (("push",), _add_push, "Upload an image to a registry", "[OPTIONS] NAME[:TAG]"),
    (("rm", "remove"), _add_rmi, "Remove one or more images", "[OPTIONS] IMAGE [IMAGE...]"),
    (("save",), _add_save, "Save one or more images to a tar archive (streamed to STDOUT by default)",
     "[OPTIONS] IMAGE [IMAGE...]"),
    (("tag",), _add_tag, "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]"),
]

_TOP_VERBS: list[tuple[str, t.Callable[..., None], str, str]] = [
    ("build", _add_build, "Build an image from a Dockerfile", "[OPTIONS] PATH | URL | -"),
    ("events", _add_events, "Get real time events from the engine", "[OPTIONS]"),
    ("history", _add_history, "Show the history of an image", "IMAGE"),
    ("images", _add_images, "List images", "[OPTIONS] [REPOSITORY[:TAG]]"),
    ("info", _add_info, "Display system-wide information", "[OPTIONS]"),
    ("import", _add_import, "Import the contents from a tarball to create a filesystem image",
     "[OPTIONS] FILE|- [REPOSITORY[:TAG]]"),
    ("inspect", _add_any_inspect, "Return low-level information on Berth objects",
     "[OPTIONS] NAME|ID [NAME|ID...]"),
    ("load", _add_load, "Load an image from a tar archive or STDIN", "[OPTIONS]"),
    ("login", _add_login, "Log in to a registry", "[OPTIONS] [SERVER]"),
    ("logout", _add_logout, "Log out from a registry", "[SERVER]"),
    ("pull", _add_pull, "Download an image from a registry", "[OPTIONS] NAME[:TAG|@DIGEST]"),
    ("push", _add_push, "Upload an image to a registry", "[OPTIONS] NAME[:TAG]"),
    ("rmi", _add_rmi, "Remove one or more images", "[OPTIONS] IMAGE [IMAGE...]"),
    ("save", _add_save, "Save one or more images to a tar archive (streamed to STDOUT by default)",
     "[OPTIONS] IMAGE [IMAGE...]"),
    ("tag", _add_tag, "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]"),
    ("version", _add_version, "Show the Berth version information", "[OPTIONS]"),
]


#: Verbs whose ``-h`` is a flag of their own (docker's ``run -h HOSTNAME``): they get ``--help`` only.
_NO_H = ("run", "create", "exec")


class _LazyVerbs(argparse._SubParsersAction):
    """Sub-commands whose parsers are built only when chosen.

    ``berth --help`` and ``berth ps`` never build the run/create flag table (~60 flags, twice): a verb is
    a help line and a builder until argparse dispatches to it.
    """

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy: dict[str, tuple[t.Sequence[str], t.Callable[[], argparse.ArgumentParser]]] = {}

    def add_lazy(self, names: t.Sequence[str], help_: str, build: t.Callable[[], argparse.ArgumentParser]) -> None:
        self._choices_actions.append(self._ChoicesPseudoAction(names[0], list(names[1:]), help_))
        for n in names:
            self._name_parser_map[n] = None  # type: ignore[assignment]  # a known choice, built on demand
            self._lazy[n] = (names, build)

    def parser_for(self, name: str) -> argparse.ArgumentParser:
        if name in self._lazy:
            names, build = self._lazy[name]
            parser = build()
            for n in names:
                self._name_parser_map[n] = parser
                self._lazy.pop(n, None)
        return self._name_parser_map[name]

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: t.Any,
                 option_string: str | None = None) -> None:
        if values and values[0] in self._name_parser_map:
            self.parser_for(values[0])
        super().__call__(parser, namespace, values, option_string)


def _verb(sub: _LazyVerbs, prefix: str, names: t.Sequence[str], add: t.Callable[[argparse.ArgumentParser], None],
          help_: str, usage: str) -> None:
    def build() -> argparse.ArgumentParser:
        p = _Parser(prog=f"{prefix} {names[0]}", usage=f"{prefix} {names[0]} {usage}".rstrip(), description=help_,
                    add_help=names[0] not in _NO_H)
        add(p)
        return p

    sub.add_lazy(names, help_, build)


def _group(sub: _LazyVerbs, name: str, help_: str,
           verbs: t.Sequence[t.Tuple[t.Sequence[str], t.Callable[[argparse.ArgumentParser], None], str, str]]) -> None:
    def build() -> argparse.ArgumentParser:
        p = _Parser(prog=f"{PROG} {name}", usage=f"{PROG} {name} COMMAND", description=help_)
        p.set_defaults(_run=None, _parser=p)
        group_sub = p.add_subparsers(dest=f"{name}_verb", metavar="COMMAND", title="Commands", action=_LazyVerbs)
        for names, add, verb_help, usage in verbs:
            _verb(group_sub, f"{PROG} {name}", names, add, verb_help, usage)
        return p

    sub.add_lazy((name,), help_, build)


def _add_volume_create(p: argparse.ArgumentParser) -> None:
    p.add_argument("-d", "--driver", default="local", metavar="STRING", help='Specify volume driver name (default "local")')
    p.add_argument("--label", action="append", default=[], metavar="LIST", help="Set metadata for a volume")
    p.add_argument("--name", dest="name_flag", metavar="STRING", help="Specify volume name")
    p.add_argument("-o", "--opt", action="append", default=[], metavar="MAP",
                   help="Set driver specific options (type, o, device)")
    p.add_argument("name", nargs="?", metavar="VOLUME")
    _handler(p, "volumes.create")


def _add_volume_ls(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--filter", action="append", default=[], metavar="FILTER",
                   help="Provide filter values (e.g. 'dangling=true', 'name=', 'label=')")
    p.add_argument("--format", metavar="FORMAT",
                   help="Format output: 'table', 'json', 'table {{.Field}}…' or '{{.Field}}…'")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display volume names")
    _handler(p, "volumes.ls")


def _add_volume_inspect(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", metavar="FORMAT", help="Format output: 'json' or '{{.Field}}…'")
    p.add_argument("names", nargs="+", metavar="VOLUME")
    _handler(p, "volumes.inspect")


def _add_volume_rm(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true",
                   help="Force the removal of one or more volumes (also from stopped containers)")
    p.add_argument("names", nargs="+", metavar="VOLUME")
    _handler(p, "volumes.rm")


def _add_volume_prune(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Remove all unused volumes, not just anonymous ones")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p.add_argument("--filter", action="append", default=[], metavar="FILTER",
                   help='Provide filter values (e.g. "label=<label>")')
    _handler(p, "volumes.prune")


_VOLUME_VERBS: list[_Verb] = [
    (("create",), _add_volume_create, "Create a volume", "[OPTIONS] [VOLUME]"),
    (("inspect",), _add_volume_inspect, "Display detailed information on one or more volumes",
     "[OPTIONS] VOLUME [VOLUME...]"),
    (("ls", "list"), _add_volume_ls, "List volumes", "[OPTIONS]"),
    (("prune",), _add_volume_prune, "Remove unused local volumes", "[OPTIONS]"),
    (("rm", "remove"), _add_volume_rm, "Remove one or more volumes", "[OPTIONS] VOLUME [VOLUME...]"),
]


def _add_system_prune(p: argparse.ArgumentParser) -> None:
    _add_prune(p, "system.prune")
    p.add_argument("--volumes", action="store_true", help="Prune anonymous volumes")


def _add_network_create(p: argparse.ArgumentParser) -> None:
    p.add_argument("-d", "--driver", default="bridge", help="Driver to manage the Network")
    p.add_argument("--gateway", action="append", default=[], help="IPv4 Gateway for the master subnet")
    p.add_argument("--internal", action="store_true", help="Restrict external access to the network")
    p.add_argument("--ip-range", action="append", default=[], help="Allocate container ip from a sub-range")
    p.add_argument("--label", action="append", default=[], help="Set metadata on a network")
    p.add_argument("-o", "--opt", action="append", default=[], help="Set driver specific options")
    p.add_argument("--subnet", action="append", default=[], help="Subnet in CIDR format")
    p.add_argument("name", metavar="NETWORK")
    _handler(p, "networks.create")


def _add_network_ls(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-trunc", action="store_true", help="Do not truncate the output")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display network IDs")
    _handler(p, "networks.ls")


def _add_network_names(p: argparse.ArgumentParser, handler: str, inspect: bool = False) -> None:
    if inspect:
        p.add_argument("-f", "--format", metavar="FORMAT", help="Format output: 'json' or '{{.Field}}…'")
    p.add_argument("names", nargs="+", metavar="NETWORK")
    _handler(p, handler)


def _add_network_connect(p: argparse.ArgumentParser) -> None:
    p.add_argument("--alias", action="append", default=[], help="Add network-scoped alias for the container")
    p.add_argument("--ip", help="IPv4 address (e.g., 172.30.100.104)")
    p.add_argument("network", metavar="NETWORK")
    p.add_argument("container", metavar="CONTAINER")
    _handler(p, "networks.connect")


def _add_network_disconnect(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="Force the container to disconnect from a network")
    p.add_argument("network", metavar="NETWORK")
    p.add_argument("container", metavar="CONTAINER")
    _handler(p, "networks.disconnect")


def _add_network_prune(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    _handler(p, "networks.prune")


def _add_port(p: argparse.ArgumentParser) -> None:
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("private_port", nargs="?", metavar="PRIVATE_PORT[/PROTO]")
    _handler(p, "networks.port")


_NETWORK_VERBS: list[_Verb] = [
    (("connect",), _add_network_connect, "Connect a container to a network", "[OPTIONS] NETWORK CONTAINER"),
    (("create",), _add_network_create, "Create a network", "[OPTIONS] NETWORK"),
    (("disconnect",), _add_network_disconnect, "Disconnect a container from a network", "[OPTIONS] NETWORK CONTAINER"),
    (("inspect",), lambda p: _add_network_names(p, "networks.inspect", inspect=True),
     "Display detailed information on one or more networks", "[OPTIONS] NETWORK [NETWORK...]"),
    (("ls", "list"), _add_network_ls, "List networks", "[OPTIONS]"),
    (("prune",), _add_network_prune, "Remove all unused networks", "[OPTIONS]"),
    (("rm", "remove"), lambda p: _add_network_names(p, "networks.rm"), "Remove one or more networks",
     "NETWORK [NETWORK...]"),
]

_SYSTEM_VERBS: list[_Verb] = [
    (("check",), _add_check, "Verify the image store: blobs, unpacked layers, image records", "[OPTIONS]"),
    (("df",), _add_df, "Show disk usage", "[OPTIONS]"),
    (("events",), _add_events, "Get real time events from the engine", "[OPTIONS]"),
    (("info",), _add_info, "Display system-wide information", "[OPTIONS]"),
    (("prune",), _add_system_prune, "Remove unused data", "[OPTIONS]"),
    (("restore",), lambda p: _handler(p, "manage.system_restore"),
     "Start the containers whose restart policy says they should run (after a reboot)", ""),
]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        usage=f"{PROG} [OPTIONS] COMMAND",
        description="A daemonless container engine: docker's image and container commands on this host.",
        epilog=f"Run '{PROG} COMMAND --help' for more information on a command.",
    )
    add_arguments(parser, GLOBAL_FLAGS)
    parser.set_defaults(_run=None, _parser=parser)
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND", title="Commands", action=_LazyVerbs)
    _group(sub, "image", "Manage images", _IMAGE_VERBS)
    _group(sub, "container", "Manage containers", _CONTAINER_VERBS)
    _group(sub, "system", "Manage Berth", _SYSTEM_VERBS)
    _group(sub, "volume", "Manage volumes", _VOLUME_VERBS)
    _group(sub, "network", "Manage networks", _NETWORK_VERBS)
    by_name = {names[0]: (add, help_, usage) for names, add, help_, usage in _CONTAINER_VERBS}
    top: list[_Verb] = [((name,), add, help_, usage) for name, add, help_, usage in _TOP_VERBS]
    top += [((n,), *by_name[n]) for n in _TOP_CONTAINER_VERBS]
    top.append((("ps",), _add_ps, "List containers", "[OPTIONS]"))
    top.append((("port",), _add_port, "List port mappings or a specific mapping for the container",
                "CONTAINER [PRIVATE_PORT[/PROTO]]"))
    for names, add, help_, usage in sorted(top, key=lambda v: v[0][0]):
        _verb(sub, PROG, names, add, help_, usage)
    return parser
