# SPDX-License-Identifier: GPL-3.0-or-later
"""Optional libraries: declare the import where it happens, validate where it matters.

The community.general ``deps`` pattern, without the Ansible import (the
module object is passed in)::

    with deps.declare("zstandard", reason="for zstd-compressed layers"):
        import zstandard

    deps.validate(module)            # every declared dependency
    deps.validate(module, "zstandard")

A failed import is remembered, not raised; ``validate`` turns it into one
``fail_json`` naming the library, the reason and the interpreter.
"""
from __future__ import annotations

import contextlib
import sys
import traceback
import typing as t


class Dependency:
    def __init__(self, name: str, reason: str | None = None, url: str | None = None, msg: str | None = None) -> None:
        self.name = name
        self.reason = reason
        self.url = url
        self.msg = msg
        self.exc: BaseException | None = None
        self.trace: str | None = None

    @property
    def failed(self) -> bool:
        return self.exc is not None

    @property
    def message(self) -> str:
        if self.msg:
            return self.msg
        text = f"Failed to import the required Python library ({self.name}) on the target's Python {sys.executable}."
        if self.reason:
            text += f" It is needed {self.reason}."
        if self.url:
            text += f" See {self.url}."
        return text + " Install it, or point ansible_python_interpreter at a Python that has it."

    def verify(self, module: t.Any) -> None:
        if self.failed:
            module.fail_json(msg=self.message, exception=self.trace)


_DEPS: dict[str, Dependency] = {}


@contextlib.contextmanager
def declare(
    name: str, reason: str | None = None, url: str | None = None, msg: str | None = None
) -> t.Iterator[Dependency]:
    dep = Dependency(name, reason, url, msg)
    try:
        yield dep
    except Exception as exc:  # an import can fail in many ways, not only ImportError
        dep.exc = exc
        dep.trace = traceback.format_exc()
    finally:
        _DEPS[name] = dep


def _select(spec: str | None) -> list[Dependency]:
    """``None``/"" = all; ``"a,b"`` = only those; ``"-a,b"`` = all but those."""
    if not spec:
        return list(_DEPS.values())
    exclude = spec.startswith("-")
    names = {n.strip() for n in spec.lstrip("-").split(",") if n.strip()}
    unknown = names - set(_DEPS)
    if unknown:
        raise KeyError(f"undeclared dependencies: {', '.join(sorted(unknown))}")
    return [d for n, d in _DEPS.items() if (n in names) != exclude]


def validate(module: t.Any, spec: str | None = None) -> None:
    """``fail_json`` for the first selected dependency whose import failed."""
    for dep in _select(spec):
        dep.verify(module)


def failed(name: str) -> bool:
    return _DEPS[name].failed


def clear() -> None:
    """Forget every declaration (tests)."""
    _DEPS.clear()
