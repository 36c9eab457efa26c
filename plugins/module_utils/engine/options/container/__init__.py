# SPDX-License-Identifier: GPL-3.0-or-later
"""Options of the container tasks: the ``docker run`` surface, declared once.

:data:`CONTAINER_OPTIONS` is the table the service records and idempotency compares; names are
community.docker's ``docker_container`` names wherever it has the option, so playbooks migrate by
changing the module name.  Each row is a :class:`ContainerOption`: an :class:`~..model.Option` plus its
normaliser, whether it is ``updatable`` on a running container, and its ``engine_default``.

What a container *runs with* for an option is its **effective** value (:func:`effective`): what the task
recorded, else what the image says (Docker's merge rules), else the engine default.  Because both sides
are normalised records written by Berth itself (nothing else adds a label or a capability behind the
task's back), the default comparison of every option is ``strict``; ``comparisons`` can relax it per
option (``allow_more_present``, ``ignore``), community.docker style.  ``stop_timeout`` is ``ignore`` by
default, as in community.docker.

The package, one room per concept (each imports only the rooms above it)::

    secrets.py    secret_env: seals kept in the record, masks shown in results
    normalise.py  building blocks: scalars, sizes, durations, argument lists, the NUL check;
                  Docker's defaults and the kernel's limits
    process.py    what runs and as whom: env, labels, env_file, user, paths, names, image,
                  restart policy, signals, healthcheck, logging, groups, runtime
    kernel.py     what the kernel enforces: cpus, cpusets, pids, cgroup parent, ulimits, sysctls,
                  capabilities, devices, tmpfs, security options, namespace modes
    mounts.py     volumes (-v), mounts (--mount) and volumes_from
    table.py      ContainerOption, CONTAINER_OPTIONS and the container/info/exec module tables
    checks.py     normalise_options (task parameters -> normalised options) and the cross-option checks
    effective.py  effective values (Docker's merge with the image config), comparisons, differences

This front door re-exports every public name of the rooms, so callers import from
``options.container`` and need not know the rooms.  Re-exports are bindings, not aliases: a test that
patches a module constant (``ONLINE_FILES``) patches it in its room (``options.container.kernel``).

``berth run`` imports this package: no ``typing``, ``dataclasses``, ``json`` or ``re`` at import time in
any room (``TYPE_CHECKING = False`` guards; regular expressions are :class:`~...core.lazy.Pattern`,
compiled when an option needs one); engine/runtime/__init__.py says why.
"""
from __future__ import annotations

from .checks import check_options, check_userns, load_seccomp_profile, normalise_options
from .effective import Difference, differences, effective, healthcheck_from_image, parse_comparisons
from .kernel import (
    CAPABILITIES, ONLINE_FILES, SYSCTL_IPC, SYSCTL_PREFIXES, TMPFS_FLAGS, TMPFS_KEYS, ULIMIT_NAMES, capabilities,
    cgroup_parent, cpus, cpuset, devices, ipc_mode, missing_from, network_mode, online, parse_cpu_list, pid_mode,
    pids_limit, security_opts, sysctls, tmpfs, ulimits, userns_mode, uts,
)
from .mounts import (
    DEFAULT_PROPAGATION, DEFAULT_TMPFS_MODE, MOUNT_TYPES, PROPAGATIONS, mount_targets, mounts, volumes, volumes_from,
)
from .network import (
    PROTOCOLS, dns_servers, etc_hosts, exposed_ports, mac_address, network_changes, networks, published_ports,
    uses_bridge, words,
)
from .normalise import (
    DEFAULT_IPC_MODE, DEFAULT_NETWORK_MODE, DEFAULT_SHM_SIZE, DEFAULT_STOP_SIGNAL, DEFAULT_STOP_TIMEOUT,
    DEFAULT_WORKING_DIR, MAX_CPU_QUOTA, MAX_INT32, MAX_NAME_LENGTH, MAX_PIDS, MAX_SIZE, MIN_MEMORY,
    UNSET_NETWORK_MODE, abs_path, check_no_nul, command, duration, int_range, size, size_or_unlimited, string_list,
)
from .process import (
    HEALTHCHECK_KEYS, LOG_DRIVERS, LOG_OPTION_KEYS, MIN_HEALTHCHECK_DURATION, RESTART_POLICIES, SIGNALS, SIGRTMAX,
    SIGRTMIN, container_name, domainname, env, groups, healthcheck, hostname, image, image_is_id, labels,
    log_driver, log_options, parse_env_file, restart_policy, runtime_name, secret_env, signal_name, signal_number,
    user, working_dir,
)
from .secrets import SEAL_PREFIX, SECRET_CHANGED, SECRET_MASK, is_sealed, mask_secrets, seal, seal_secrets, sealed_like
from .table import (
    COMPAT_REFUSED, CONTAINER_EXEC_OPTIONS, CONTAINER_INFO_OPTIONS, CONTAINER_OPTIONS, CONTAINER_TASK_OPTIONS,
    IMAGE_INHERITED, PULL_CHOICES, PULL_POLICIES, STATES, UPDATABLE, ContainerOption,
)

__all__ = ["CAPABILITIES", "COMPAT_REFUSED", "CONTAINER_EXEC_OPTIONS", "CONTAINER_INFO_OPTIONS", "CONTAINER_OPTIONS",
           "CONTAINER_TASK_OPTIONS", "ContainerOption", "DEFAULT_IPC_MODE", "DEFAULT_NETWORK_MODE",
           "DEFAULT_PROPAGATION", "DEFAULT_SHM_SIZE", "DEFAULT_STOP_SIGNAL", "DEFAULT_STOP_TIMEOUT",
           "DEFAULT_TMPFS_MODE", "DEFAULT_WORKING_DIR", "Difference", "HEALTHCHECK_KEYS", "IMAGE_INHERITED",
           "LOG_DRIVERS", "LOG_OPTION_KEYS", "MAX_CPU_QUOTA", "MAX_INT32", "MAX_NAME_LENGTH", "MAX_PIDS", "MAX_SIZE",
           "MIN_HEALTHCHECK_DURATION", "MIN_MEMORY", "MOUNT_TYPES", "ONLINE_FILES", "PROPAGATIONS", "PROTOCOLS",
           "PULL_CHOICES", "PULL_POLICIES", "RESTART_POLICIES", "SEAL_PREFIX", "SECRET_CHANGED", "SECRET_MASK",
           "SIGNALS", "SIGRTMAX", "SIGRTMIN", "STATES", "SYSCTL_IPC", "SYSCTL_PREFIXES", "TMPFS_FLAGS", "TMPFS_KEYS",
           "ULIMIT_NAMES", "UNSET_NETWORK_MODE", "UPDATABLE", "abs_path", "capabilities", "cgroup_parent",
           "check_no_nul", "check_options", "check_userns", "command", "container_name", "cpus", "cpuset", "devices",
           "differences", "dns_servers", "domainname", "duration", "effective", "env", "etc_hosts", "exposed_ports",
           "groups", "healthcheck", "healthcheck_from_image", "hostname", "image", "image_is_id", "int_range",
           "ipc_mode", "is_sealed", "labels", "load_seccomp_profile", "log_driver", "log_options", "mac_address",
           "mask_secrets", "missing_from", "mount_targets", "mounts", "network_changes", "network_mode", "networks",
           "normalise_options", "online", "parse_comparisons", "parse_cpu_list", "parse_env_file", "pid_mode", "pids_limit",
           "published_ports", "restart_policy", "runtime_name", "seal", "seal_secrets", "sealed_like", "secret_env",
           "security_opts", "signal_name", "signal_number", "size", "size_or_unlimited", "string_list", "sysctls",
           "tmpfs", "ulimits", "user", "userns_mode", "uses_bridge",
           "uts", "volumes", "volumes_from", "words", "working_dir"]
