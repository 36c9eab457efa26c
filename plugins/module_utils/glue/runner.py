# SPDX-License-Identifier: GPL-3.0-or-later
"""The one bridge between an Ansible module and the engine.

``run_task(AnsibleModule, IMAGE_OPTIONS, task=image)`` builds the module
from the option table, opens the engine, runs the task function and reports:
``EngineError`` -> ``fail_json(msg=str(e))`` (the message already names the
field, value or path); anything else -> ``fail_json`` with the traceback.

The AnsibleModule class is passed in, so nothing here imports Ansible.
Task functions take a :class:`TaskContext` and return the result dict
(``changed``, ``actions``, ``diff``...); they never exit.
"""
from __future__ import annotations

import dataclasses
import traceback
import typing as t

from ..engine.errors import EngineError
from ..engine.options.common import engine_kwargs
from .argspec import module_kwargs

if t.TYPE_CHECKING:
    from ..engine.api import Engine
    from ..engine.options.model import OptionTable

    TaskFunction = t.Callable[["TaskContext"], t.Dict[str, t.Any]]


@dataclasses.dataclass
class TaskContext:
    """What a task function gets: the engine, the validated parameters and the run mode."""

    #: None for a task that opens no engine (``run_task(..., open_engine=False)``: daemon_config, which may
    #: have to repair a configuration the engine cannot load)
    engine: Engine
    params: t.Mapping[str, t.Any]
    check_mode: bool = False
    diff_mode: bool = False
    warnings: list[str] = dataclasses.field(default_factory=list)

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def run_task(module_cls: t.Any, options: OptionTable, task: TaskFunction, open_engine: bool = True) -> None:
    """Build the module, run the task function against the engine, exit or fail.  Never returns.
    The module file imports *task* itself: a static import, so AnsiballZ ships the task's code."""
    module = module_cls(**module_kwargs(options))
    name = getattr(task, "__name__", "task")
    try:
        result = _run(module, task, open_engine)
    except EngineError as exc:
        module.fail_json(msg=str(exc))
        raise  # fail_json exits; only a fake module gets here
    except Exception as exc:
        module.fail_json(
            msg=f"{name}: unexpected {type(exc).__name__}: {exc}",
            exception=traceback.format_exc(),
        )
        raise
    module.exit_json(**result)


def _run(module: t.Any, func: TaskFunction, open_engine: bool = True) -> dict[str, t.Any]:
    from ..engine.api import Engine

    params = module.params
    engine = Engine.open(**engine_kwargs(params)) if open_engine else t.cast("Engine", None)
    ctx = TaskContext(
        engine=engine,
        params=params,
        check_mode=bool(module.check_mode),
        diff_mode=bool(getattr(module, "_diff", False)),
    )
    result = func(ctx)
    for message in ctx.warnings:
        module.warn(message)
    if not ctx.diff_mode:
        result.pop("diff", None)
    return result
