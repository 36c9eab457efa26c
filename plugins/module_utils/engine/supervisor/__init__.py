# SPDX-License-Identifier: GPL-3.0-or-later
"""The container supervisor (the conmon / containerd-shim analogue): everything about a container that
is not the OCI runtime itself.

Layout (see ``docs/dev/runtime-design.md``)::

    lifecycle.py        the container record's state (ContainerState, ``containers/<id>/state.json``):
                        statuses, guards, transitions, locking, reconciling lost monitors, file removal
    spec.py             options + image config -> the OCI runtime spec (pure; its parts: spec_process.py, the
                        process, exec processes and users; spec_linux.py, namespaces, resources, cgroup paths,
                        devices, rlimits, seccomp)
    overlay.py idmap.py the rootfs stack: overlay mounts, idmapped layers for user namespaces
    monitor.py          the detached per-container monitor (its parts: monitor_streams.py, monitor_exit.py,
                        policy.py, plumbing.py, fds.py); outside the idle monitor: monitor_ops.py (the
                        caller's side), monitor_jobs.py (its workers' jobs)
    health.py logs.py   HEALTHCHECK scheduling; the json-file log writer and reader

``supervisor`` may use ``runtime`` (through its front door), never the reverse.

The front door: code outside this package (``services``) imports the names of ``__all__`` from here, never
a module of the package (``tests/unit/test_architecture.py`` checks it). ``lifecycle``, ``spec``,
``overlay``, ``idmap`` and ``logs`` are offered as namespaces (their functions are the services' verbs:
``lifecycle.update``, ``spec.build``...). Names are looked up lazily (``core.frontdoor.lazy_names``):
importing the package imports nothing, so the idle monitor (``python3 -S -I``, one per container) loads
only the modules it uses.
"""
from __future__ import annotations

from ..core.frontdoor import lazy_names

TYPE_CHECKING = False
if TYPE_CHECKING:  # never run. For type checkers, and for AnsiballZ: it ships the module_utils files a task
    # reaches through static imports only (never an import by name, as lazy_names and the monitor's boot do), and
    # a container started by a task runs its monitor from a copy of that payload (core/libcopy.py)
    from . import (  # noqa: F401
        health, idmap, lifecycle, logs, monitor, monitor_jobs, monitor_ops, overlay, policy, spec,
    )

#: The front door: public name -> "module" (the same name there), "module:name", or "module:" (the module).
_EXPORTS = {
    "lifecycle": "lifecycle:", "ContainerState": "lifecycle", "ContainerStatus": "lifecycle",
    "spec": "spec:", "INIT_PATH": "spec",
    "overlay": "overlay:", "idmap": "idmap:", "logs": "logs:", "go_duration": "health",
    "anonymous_volumes": "policy",
    # the caller's side of the monitor
    "prefork": "monitor_ops", "spawn": "monitor_ops", "wait_exit": "monitor_ops", "attach_connect": "monitor_ops",
    "read_frames": "monitor_ops", "adopt": "monitor_ops",
}
__all__ = tuple(_EXPORTS)

__getattr__ = lazy_names(__name__, _EXPORTS)
