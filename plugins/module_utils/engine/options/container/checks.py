# SPDX-License-Identifier: GPL-3.0-or-later
"""A task's parameters -> the normalised options dict, and the checks across options.

:func:`normalise_options` runs each option's normaliser (the table in :mod:`.table`), folds ``env_file``
into ``env`` and a ``seccomp=PATH`` profile into ``security_opts``, then :func:`check_options` runs
Docker's daemon-side checks that involve more than one option.  Pure except for those two files, read
through an injectable ``read_file``.
"""
from __future__ import annotations

from ...errors import InvalidOption
from .kernel import SYSCTL_IPC
from .mounts import mount_targets
from .normalise import MIN_MEMORY, _str, int_range
from .process import parse_env_file
from .table import CONTAINER_OPTIONS

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time: ``berth run`` imports this
    import typing as t


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def _read_error(exc: Exception) -> str:
    """Why a file could not be read, without Python's ``[Errno 2] ...: 'path'`` (the path is the value)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return str(exc)


def normalise_options(
    params: t.Mapping[str, t.Any],
    *,
    read_file: t.Callable[[str], str] | None = None,
    environ: t.Mapping[str, str] | None = None,
) -> dict[str, t.Any]:
    """Task parameters -> the normalised options dict: only options that were set, each canonical.

    ``restart_policy: on-failure:3`` is split into policy and retries; ``env_file`` is read and merged
    *below* ``env`` (Docker: ``--env`` wins) and is not kept; a ``seccomp=PATH`` security option is
    replaced by the parsed profile.  Then :func:`check_options` runs the cross-option checks.
    """
    import os

    read = read_file or _read_text
    env_lookup = environ if environ is not None else os.environ
    values = {k: v for k, v in params.items() if v is not None}
    policy = values.get("restart_policy")
    if isinstance(policy, str) and policy.startswith("on-failure:"):
        count = policy.partition(":")[2]
        retries = int_range(0)(count, "restart_policy")
        if values.get("restart_retries") not in (None, retries):
            raise InvalidOption("restart_retries", values["restart_retries"], f"conflicts with restart_policy {policy}")
        values["restart_policy"], values["restart_retries"] = "on-failure", retries

    out: dict[str, t.Any] = {}
    for opt in CONTAINER_OPTIONS:
        if opt.name in values and opt.name != "env_file":
            value = opt.normalise(values[opt.name])
            if value is not None:
                out[opt.name] = value

    if values.get("env_file"):
        path = _str(values["env_file"], "env_file")
        try:
            text = read(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidOption("env_file", path, f"cannot read it: {_read_error(exc)}") from None
        merged = parse_env_file(text, env_lookup.get, source=path)
        merged.update(out.get("env", {}))
        out["env"] = merged

    seccomp = out.get("security_opts", {}).get("seccomp")
    if isinstance(seccomp, str) and seccomp != "unconfined":
        out["security_opts"] = dict(out["security_opts"], seccomp=load_seccomp_profile(seccomp, read))

    check_options(out)
    return out


def load_seccomp_profile(path: str, read: t.Callable[[str], str] | None = None) -> dict[str, t.Any]:
    """Read a seccomp profile (Docker's JSON format or an OCI ``LinuxSeccomp``), as Docker's CLI does."""
    try:
        text = (read or _read_text)(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidOption("security_opts", f"seccomp={path}",
                            f"cannot read the profile: {_read_error(exc)}") from None
    try:
        import json

        profile = json.loads(text)
    except ValueError as exc:
        raise InvalidOption("security_opts", f"seccomp={path}", f"the profile is not valid JSON: {exc}") from None
    if not isinstance(profile, dict) or "defaultAction" not in profile:
        raise InvalidOption("security_opts", f"seccomp={path}", "the profile has no defaultAction")
    return profile


def check_options(opts: t.Mapping[str, t.Any]) -> None:
    """Cross-option checks on normalised options (Docker's daemon-side validation)."""
    memory, swap = opts.get("memory") or 0, opts.get("memory_swap") or 0
    reservation = opts.get("memory_reservation") or 0
    if 0 < memory < MIN_MEMORY:
        raise InvalidOption("memory", memory, "the minimum memory limit is 6MB")
    if 0 < reservation < MIN_MEMORY:
        raise InvalidOption("memory_reservation", reservation, "the minimum memory reservation is 6MB")
    if swap > 0 and not memory:
        raise InvalidOption("memory_swap", swap, "set memory too when limiting memory plus swap")
    if swap > 0 and swap < memory:
        raise InvalidOption("memory_swap", swap, f"must be at least memory ({memory}), as it counts memory plus swap")
    if memory and reservation > memory:
        raise InvalidOption("memory_reservation", reservation, f"must not exceed memory ({memory})")
    if opts.get("cpus") and (opts.get("cpu_period") or opts.get("cpu_quota")):
        raise InvalidOption("cpus", opts["cpus"] / 1e9, "conflicts with cpu_period/cpu_quota; use one or the other")
    policy = opts.get("restart_policy")
    if opts.get("restart_retries") and policy != "on-failure":
        raise InvalidOption("restart_retries", opts["restart_retries"], "only used with restart_policy=on-failure")
    if opts.get("auto_remove") and policy not in (None, "no"):
        raise InvalidOption("auto_remove", True, f"cannot be combined with restart_policy={policy}")
    if opts.get("hostname"):
        if opts.get("uts") == "host":
            raise InvalidOption("hostname", opts["hostname"], "cannot be set with uts=host")
        if str(opts.get("network_mode", "")).startswith("container:"):
            raise InvalidOption("hostname", opts["hostname"], "cannot be set when sharing another container's network")
    for name in opts.get("secret_env") or {}:
        if name in (opts.get("env") or {}):
            raise InvalidOption("secret_env", name, "is also set in env (or env_file): give a variable in env or "
                                                    "in secret_env, not both")
    check_userns(opts, opts.get("userns_mode") == "private")
    for name in opts.get("sysctls") or {}:
        if name.startswith("net.") and opts.get("network_mode") == "host":
            raise InvalidOption("sysctls", name, "network sysctls cannot be set with network_mode=host")
        if (name in SYSCTL_IPC or name.startswith("fs.mqueue.")) and opts.get("ipc_mode") == "host":
            raise InvalidOption("sysctls", name, "IPC sysctls cannot be set with ipc_mode=host")
    seen: dict[str, str] = {}
    for target, option in mount_targets(opts):
        if target in seen:
            raise InvalidOption(option, target, f"two mounts on {target} (one in {seen[target]})")
        seen[target] = option
    if opts.get("log_options") and opts.get("log_driver") == "none":
        raise InvalidOption("log_options", opts["log_options"], "the none log driver takes no options")


def check_userns(opts: t.Mapping[str, t.Any], in_userns: bool) -> None:
    """Docker's rules for a container that gets a user namespace (*in_userns*: ``userns_mode=private``,
    or the engine remaps and ``userns_mode`` is not ``host``; moby ``verifyPlatformContainerSettings``)."""
    if not in_userns:
        return
    why = ("userns_mode=private" if opts.get("userns_mode") == "private"
           else "the engine remaps containers into user namespaces (userns-remap)")
    if opts.get("privileged"):
        raise InvalidOption("privileged", True, f"privileged mode is incompatible with user namespaces ({why}); "
                                                "set userns_mode=host to run it privileged")
    if opts.get("network_mode") == "host":
        raise InvalidOption("network_mode", "host", f"cannot share the host's network namespace when user "
                                                    f"namespaces are enabled ({why}); set userns_mode=host")
    if opts.get("pid_mode") == "host":
        raise InvalidOption("pid_mode", "host", f"cannot share the host PID namespace when user namespaces are "
                                                f"enabled ({why}); set userns_mode=host")
