# SPDX-License-Identifier: GPL-3.0-or-later
"""The low-level OCI runtime (the runc/youki analogue).

Layout (see ``docs/dev/runtime-design.md``)::

    syscalls.py    Syscalls seam + LinuxSyscalls (ctypes): mount, umount2, pivot_root, unshare, setns, ...
    sync.py        typed parent <-> child pipe protocol (drawn in its docstring)
    namespaces.py  ordered join (setns by path) / unshare of spec["linux"]["namespaces"]
    rootfs.py      mounts, devices, /dev symlinks, pivot_root, masked/readonly paths (named steps)
    init.py        the ONE ordered container init function
    state.py       OCI state: status, state.json, lifecycle guards, hooks
    oci.py         BerthRuntime (in-process) and ExternalRuntime (runc/crun/berth-runtime binaries)
    validate.py    small checks over a spec, each naming the field it refuses
    cli.py         the runc-compatible ``bin/berth-runtime`` command

Start-path note: the modules on the ``create``/``start``/``run`` path (everything above except
``validate``'s error branch, ``cli``'s help and ``oci.ExternalRuntime``) import ``typing`` only for type
checkers (``TYPE_CHECKING = False`` / ``if TYPE_CHECKING: import typing as t``) and import
``engine.errors`` only when they raise. On the 2-core test machines ``import typing`` alone costs
~14 ms, ``enum`` ~8 ms, ``json``'s ``re`` ~10 ms, against a whole ``runc run`` of 30-45 ms; the
house style's ``import typing as t`` line would double the start time of a container.
"""
