# SPDX-License-Identifier: GPL-3.0-or-later
"""What every part of the ``berth`` command shares: the program name, usage errors and their exit code,
and the :class:`Context` a verb handler gets.

The bottom of the CLI's import graph: ``flags``, ``parser``, ``main`` and ``commands/*`` import this
module, and it imports nothing else of the CLI but ``render`` (a leaf itself), on first use. On the
start path of ``berth run``: no typing at run time (see engine/runtime/__init__.py).
"""
from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

PROG = "berth"
#: Exit code of a usage error (unknown verb or flag, missing argument), as docker's.
USAGE_EXIT = 125


class UsageError(Exception):
    """A command line the parser accepted but the verb cannot use (exit 125)."""

    def __init__(self, message: str, prog: str = PROG) -> None:
        super().__init__(message)
        self.message = message
        self.prog = prog


class UnknownCommand(Exception):
    """``berth frobnicate``: a verb argparse does not know (docker's wording, not argparse's)."""

    def __init__(self, prog: str, name: str) -> None:
        super().__init__(name)
        self.prog = prog
        self.name = name


def usage_error(stderr: t.TextIO, prog: str, message: str) -> int:
    """Write docker's usage error for *message* of the command *prog* and return its exit code."""
    if message.startswith("unrecognized arguments: "):
        first = message[len("unrecognized arguments: "):].split()[0]
        if first.startswith("-"):
            stderr.write(f"unknown flag: {first.split('=', 1)[0]}\nSee '{prog} --help'.\n")
        else:
            stderr.write(f'"{prog}" got an unexpected argument: {first}\nSee \'{prog} --help\'.\n')
        return USAGE_EXIT
    stderr.write(f"{prog}: {message}\nSee '{prog} --help'.\n")
    return USAGE_EXIT


def binary_writer(stream: t.Any) -> t.Callable[[bytes], None]:
    """Write bytes to a text *stream*: to its buffer when it has one (flushed first), else decoded."""
    buf = getattr(stream, "buffer", None)
    if buf is not None:
        stream.flush()
        return buf.write  # type: ignore[no-any-return]
    return lambda data: stream.write(data.decode("utf-8", "replace"))


class Context:
    """What a verb handler gets: its arguments, the streams, and the engine (opened on first use)."""

    def __init__(
        self,
        args: t.Any,
        stdout: t.TextIO,
        stderr: t.TextIO,
        stdin: t.TextIO,
    ) -> None:
        self.args = args
        self.stdout = stdout
        self.stderr = stderr
        self.stdin = stdin
        self._engine: t.Any = None

    @property
    def engine(self) -> t.Any:
        if self._engine is None:
            from ..engine.api import Engine

            root = os.path.abspath(self.args.root) if self.args.root else None
            self._engine = Engine.open(data_root=root, config_path=self.args.config)
        return self._engine

    def out(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def err(self, text: str) -> None:
        self.stderr.write(text + "\n")

    def out_inspected(self, items: t.Sequence[t.Any]) -> None:
        """``docker inspect`` output of *items* in the ``--format`` the verb was given."""
        from . import render

        try:
            lines = render.inspect_lines(items, self.args.format)
        except render.TemplateError as exc:
            raise UsageError(f"template parsing error: {exc}", self.args._parser.prog) from None
        for line in lines:
            self.out(line)

    def inspect_each(self, names: t.Sequence[str], inspect: t.Callable[[str], t.Any]) -> int:
        """``docker inspect`` of each of *names*: what was found is printed, each error reported; the exit code."""
        from ..engine.errors import EngineError

        found, rc = [], 0
        for name in names:
            try:
                found.append(inspect(name))
            except EngineError as exc:
                rc = self.error(exc)
        self.out_inspected(found)
        return rc

    def error(self, exc: BaseException) -> int:
        """Report an engine error for one item and return its exit code (docker's rmi/inspect style)."""
        self.err(f"Error: {exc}")
        return int(getattr(exc, "exit_code", 1) or 1)

    def is_tty(self) -> bool:
        try:
            return self.stdout.isatty()
        except (AttributeError, ValueError):
            return False
