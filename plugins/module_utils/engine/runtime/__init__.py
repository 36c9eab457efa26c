# SPDX-License-Identifier: GPL-3.0-or-later
"""The low-level OCI runtime (the runc/youki analogue).

Layout (see ``docs/dev/runtime-design.md``)::

    syscalls.py    Syscalls seam + LinuxSyscalls (ctypes): mount, umount2, pivot_root, unshare, setns, ...
    sync.py        typed parent <-> child pipe protocol (drawn in its docstring)
    namespaces.py  ordered join (setns by path) / unshare of spec["linux"]["namespaces"]
    rootfs.py      mounts, devices, /dev symlinks, pivot_root, masked/readonly paths (named steps)
    init.py        the ONE ordered container init function
    state.py       the OCI runtime's own record of a container (RuntimeState, <root>/runtime/<name>/<id>/state.json)
    oci.py         BerthRuntime (in-process): the OciRuntime protocol
    external.py    ExternalRuntime: the same protocol over runc/crun/berth-runtime binaries
    procs.py       waiting for the runtime's own children (both runtimes)
    validate.py    small checks over a spec, each naming the field it refuses
    cli.py         the runc-compatible ``bin/berth-runtime`` command
    cgroups/       v1/v2 managers (``detect.manager``), the OCI resources -> cgroup files translation
    seccomp.py, seccomp_default.py, security.py, console.py, netns.py, mountinfo.py

The front door: code outside this package (``supervisor``, ``services``) imports the names of ``__all__``
from here, never a module of the package (``tests/unit/test_architecture.py`` checks it). They are
looked up lazily (``core.frontdoor.lazy_names``): importing the package imports nothing, so the monitor
and the start path pay only for the modules they use.

Start-path note: the modules on the ``create``/``start``/``run`` path (everything above except
``validate``'s error branch, ``cli``'s help and ``external``) import ``typing`` only for type
checkers (``TYPE_CHECKING = False`` / ``if TYPE_CHECKING: import typing as t``) and import
``engine.errors`` only when they raise. On the 2-core test machines ``import typing`` alone costs
~14 ms, ``enum`` ~8 ms, ``json``'s ``re`` ~10 ms, against a whole ``runc run`` of 30-45 ms; the
house style's ``import typing as t`` line would double the start time of a container.
"""
from __future__ import annotations

from ..core.frontdoor import lazy_names

TYPE_CHECKING = False
if TYPE_CHECKING:  # never run. For type checkers, and for AnsiballZ: it ships the module_utils files a task
    # reaches through static imports only (never an import by name, as lazy_names does)
    from . import console, external, mountinfo, oci, rootfs, seccomp_default, security, state, syscalls  # noqa: F401
    from .cgroups import base, detect, resources  # noqa: F401

#: The front door: public name -> "module" (the same name there) or "module:name".
_EXPORTS = {
    # the runtime (oci.py) and its record of a container
    "BerthRuntime": "oci", "ExternalRuntime": "external", "set_subreaper": "oci",
    "RuntimeState": "state",
    # system calls and the kernel's vocabulary
    "Syscalls": "syscalls", "LinuxSyscalls": "syscalls", "CLONE_NEWUSER": "syscalls", "MNT_DETACH": "syscalls",
    "OPEN_TREE_CLONE": "syscalls", "PR_SET_CHILD_SUBREAPER": "syscalls",
    "unescape_mountinfo": "mountinfo:unescape", "secure_join": "rootfs", "ConsoleProxy": "console",
    # capabilities, rlimits and the default seccomp profile (for spec preparation)
    "RLIM_INFINITY": "security", "all_caps": "security", "resolve_caps": "security", "current_rlimits": "security",
    "SECCOMP_ARCHITECTURES": "seccomp_default:ARCHITECTURES",
    "default_seccomp_profile": "seccomp_default:default_profile",
    "kernel_version": "seccomp_default", "native_arch": "seccomp_default",
    # cgroups
    "cgroup_manager": "cgroups.detect:manager", "cgroup_layout": "cgroups.detect:layout",
    "io_weight_supported": "cgroups.detect", "CgroupError": "cgroups.base",
    "memory_swap_total": "cgroups.resources",
}
__all__ = tuple(_EXPORTS)

__getattr__ = lazy_names(__name__, _EXPORTS)
