# SPDX-License-Identifier: GPL-3.0-or-later
"""The hot path, named in one place: the modules that ``berth run`` loads (the CLI, the starter it forks,
the container's init), the per-container monitor, and the other start paths (user namespaces, cgroup v2,
``-t``, ``bin/berth-runtime``). Nothing imports this module; it is the list the tests hold the code to.

Start time is a feature (docs/dev/runtime-design.md, "Start path"), and these files earn tricks for it:
``TYPE_CHECKING = False`` instead of ``import typing``, imports inside functions, ``_json``/``_socket``/
``_sha256`` instead of ``json``/``socket``/``hashlib``, ``core.value.Value`` instead of dataclasses,
``core.lazy.Pattern`` instead of ``re`` at import time. **Every other file** is written in the house style
(``../shared/STYLE.md``): ``import typing as t``, dataclasses, enum, json, imports at the top.

* ``tests/unit/plugins/module_utils/engine/test_hot_path.py``: a file outside :data:`MODULES` that uses a
  trick fails, and so does a name in :data:`MODULES` that is no file.
* ``tests/functional/test_start_path.py``: every engine module ``berth run`` loads is in :data:`MODULES`,
  and the standard library it loads beyond the interpreter's own start stays within :data:`STDLIB`: the
  import budget. A new file or library on the path joins these lists with a measured reason in the commit
  message, or the code does without it.
"""
from __future__ import annotations

#: Modules (relative to ``plugins/module_utils``) that may use start-time tricks.
MODULES = frozenset({
    "cli",
    "cli.commands",
    "cli.commands.interact",
    "cli.commands.run",
    "cli.commands.run_options",
    "cli.context",
    "cli.flags",
    "cli.main",
    "engine",
    "engine.api",
    "engine.config",
    "engine.config.daemon",
    "engine.core",
    "engine.core.accounts",
    "engine.core.cjson",
    "engine.core.escape",
    "engine.core.eventlog",
    "engine.core.fasthash",
    "engine.core.frontdoor",
    "engine.core.fs",
    "engine.core.layout",
    "engine.core.lazy",
    "engine.core.libcopy",
    "engine.core.locks",
    "engine.core.reference",
    "engine.core.trust",
    "engine.core.units",
    "engine.core.value",
    "engine.core.version",
    "engine.errors",
    "engine.options",
    "engine.options.common",
    "engine.options.compare",
    "engine.options.container",
    "engine.options.container.checks",
    "engine.options.container.effective",
    "engine.options.container.kernel",
    "engine.options.container.mounts",
    "engine.options.container.network",
    "engine.options.container.normalise",
    "engine.options.container.process",
    "engine.options.container.secrets",
    "engine.options.container.table",
    "engine.options.model",
    "engine.runtime",
    "engine.runtime.cgroups",
    "engine.runtime.cgroups.base",
    "engine.runtime.cgroups.detect",
    "engine.runtime.cgroups.v1",
    "engine.runtime.external",
    "engine.runtime.init",
    "engine.runtime.mountinfo",
    "engine.runtime.namespaces",
    "engine.runtime.netns",
    "engine.runtime.oci",
    "engine.runtime.procs",
    "engine.runtime.rootfs",
    "engine.runtime.seccomp",
    "engine.runtime.seccomp_default",
    "engine.runtime.security",
    "engine.runtime.state",
    "engine.runtime.sync",
    "engine.runtime.syscalls",
    "engine.runtime.validate",
    "engine.runtime.cgroups.resources",
    "engine.services",
    "engine.services.containers",
    "engine.services.containers._common",
    "engine.services.containers.create",
    "engine.services.containers.records",
    "engine.services.containers.service",
    "engine.services.containers.start",
    "engine.supervisor",
    "engine.supervisor.fds",
    "engine.supervisor.health",
    "engine.supervisor.lifecycle",
    "engine.supervisor.logs",
    "engine.supervisor.monitor",
    "engine.supervisor.monitor_exit",
    "engine.supervisor.monitor_jobs",
    "engine.supervisor.monitor_ops",
    "engine.supervisor.monitor_streams",
    "engine.supervisor.overlay",
    "engine.supervisor.plumbing",
    "engine.supervisor.policy",
    "engine.supervisor.spec",
    "engine.supervisor.spec_linux",
    "engine.supervisor.spec_process",
    # other start paths
    "engine.network",  # bridge networking: the start path of every container on a bridge (run wires it next)
    "engine.network.dns",  # the same
    "engine.network.firewall",  # the same
    "engine.network.ipam",  # the same
    "engine.network.links",  # the same (pyroute2 itself only inside its functions)
    "engine.services.networks",  # the same: the default bridge is every container's network unless told otherwise
    "engine.runtime.cgroups.devices",  # cgroup v2 hosts: the device cgroup's eBPF program
    "engine.runtime.cgroups.v2",  # cgroup v2 hosts
    "engine.runtime.cli",  # bin/berth-runtime, the runc-compatible command (timed against runc)
    "engine.runtime.console",  # run -t (the console socket)
    "engine.supervisor.idmap",  # containers in a user namespace (idmapped layers)
})

#: The standard library ``berth run`` may load beyond ``python3 -S -c pass``'s own (the import budget;
#: ``_sha2`` is ``_sha256`` from Python 3.12 on).
STDLIB = frozenset({
    "__future__", "_collections_abc", "_ctypes", "_json", "_sha2", "_sha256", "_socket", "_stat", "_struct",
    "atexit", "ctypes", "ctypes._endian", "errno", "fcntl", "gc", "genericpath", "os", "posixpath", "resource",
    "select", "stat", "struct", "types",
})
