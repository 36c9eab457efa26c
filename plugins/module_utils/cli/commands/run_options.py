# SPDX-License-Identifier: GPL-3.0-or-later
"""The flags of ``run``/``create``/``update`` as engine options, and the engine's refusals as flag errors.

The flags are declared once in ``flags.RUN_FLAGS``; :func:`run_params` turns them into the option-name
parameters that ``options.container.normalise_options`` takes, and an ``InvalidOption`` it raises is
reported against the flag (:func:`flag_error`). On the start path of ``berth run``.
"""
from __future__ import annotations

import os

from ..context import UsageError
from ...engine.errors import InvalidOption, shorten

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time: ``berth run`` is a start-up path (engine/runtime/__init__.py)
    import typing as t

    from ..context import Context
    from ..flags import Flag


def split_kv(item: str) -> tuple[str, str | None]:
    key, sep, value = item.partition("=")
    return key, (value if sep else None)


def run_params(
    args: t.Any, flags: t.Sequence[Flag], environ: t.Mapping[str, str] | None = None
) -> dict[str, t.Any]:
    """The flags the user gave -> ``{option name: value}`` for ``normalise_options`` (nothing for unset flags).

    Raises ``UsageError`` for what docker's flag parser itself refuses (``--sysctl`` without ``=``,
    ``--no-healthcheck`` with a ``--health-*`` flag).
    """
    env_of = os.environ if environ is None else environ
    prog = getattr(args, "_parser", None)
    prog_name = prog.prog if prog is not None else "berth"
    params: dict[str, t.Any] = {}
    health: dict[str, t.Any] = {}
    for f in flags:
        value = getattr(args, f.dest, None)
        if f.option is None or value is None or value is False or value == []:
            continue
        if f.kind == "flag":
            params[f.option] = True
        elif f.kind == "value":
            params[f.option] = value
        elif f.kind == "entrypoint":
            # One executable, never split (docker); --entrypoint "" clears the image's.
            params[f.option] = [value] if value else []
        elif f.kind == "list":
            params[f.option] = list(value)
        elif f.kind == "ulimit":
            # docker's name=soft[:hard] -> the option's name:soft[:hard]
            params[f.option] = [v.replace("=", ":", 1) if "=" in v else v for v in value]
        elif f.kind == "env":
            env: dict[str, str] = {}
            for item in value:
                key, val = split_kv(item)
                if val is not None:
                    env[key] = val
                elif key in env_of:  # -e NAME: our value, or nothing when we have none
                    env[key] = env_of[key]
            if env:
                params[f.option] = env
        elif f.kind == "secret_file":
            params[f.option] = {**env_files(value, environ, field="secret_env_file"), **params.get(f.option, {})}
        elif f.kind == "secret":
            params[f.option] = {**params.get(f.option, {}), **_secret_names(value, env_of, f, prog_name)}
        elif f.kind == "map":
            mapping: dict[str, str] = {}
            for item in value:
                key, val = split_kv(item)
                if val is None:
                    if f.option != "labels":
                        raise UsageError(
                            f'invalid argument "{item}" for "{flag_names(f)}" flag: expected KEY=VALUE', prog_name)
                    val = ""  # -l key: an empty label, as docker
                mapping[key] = val
            params[f.option] = mapping
        elif f.kind == "health":
            health[f.option.split(".", 1)[1]] = value
        elif f.kind == "mount":
            params[f.option] = [parse_mount(item, prog_name) for item in value]
    if params.get("secret_env") == {}:
        del params["secret_env"]
    if getattr(args, "no_healthcheck", False):
        if health:
            raise UsageError("--no-healthcheck conflicts with --health-* options", prog_name)
        params["healthcheck"] = {"test": ["NONE"]}
    elif health:
        params["healthcheck"] = health
    return params


#: docker's ``--mount`` keys -> the ``mounts`` option's keys (a key with None as its value is a flag)
_MOUNT_KEYS = {"type": "type", "source": "source", "src": "source", "target": "target", "destination": "target",
               "dst": "target", "readonly": "read_only", "ro": "read_only", "bind-propagation": "propagation",
               "volume-nocopy": "no_copy", "tmpfs-size": "tmpfs_size", "tmpfs-mode": "tmpfs_mode"}


def parse_mount(item: str, prog: str) -> dict[str, t.Any]:
    """``type=volume,source=data,target=/srv,readonly,volume-label=a=b`` -> a ``mounts`` entry."""
    out: dict[str, t.Any] = {}
    for word in item.split(","):
        key, val = split_kv(word.strip())
        if key == "volume-label":
            name, val2 = split_kv(val or "")
            out.setdefault("labels", {})[name] = val2 or ""
            continue
        if key not in _MOUNT_KEYS:
            raise UsageError(f'invalid argument "{item}" for "--mount" flag: unexpected key \'{key}\' in '
                             f"'{word}'", prog)
        option = _MOUNT_KEYS[key]
        if option in ("read_only", "no_copy"):
            if val not in (None, "1", "true", "0", "false"):
                raise UsageError(f'invalid argument "{item}" for "--mount" flag: invalid value for {key}: {val}', prog)
            out[option] = val in (None, "1", "true")
        else:
            out[option] = val or ""
    return out


def _secret_names(names: t.Sequence[str], env_of: t.Mapping[str, str], f: Flag, prog: str) -> dict[str, str]:
    """``--secret-env NAME``: the value of NAME in our environment. A value on the command line is refused
    (and not repeated: the command line shows in ``ps``), as is a name we have no value for."""
    out = {}
    for item in names:
        key, val = split_kv(item)
        if val is not None:
            raise UsageError(f'invalid argument "{key}=..." for "{flag_names(f)}" flag: give only the variable name '
                             "and its value in our environment, or use --secret-env-file", prog)
        if key not in env_of:
            raise UsageError(f'invalid argument "{key}" for "{flag_names(f)}" flag: {key} is not set in the '
                             "environment", prog)
        out[key] = env_of[key]
    return out


def flag_names(f: Flag) -> str:
    """How docker names a flag in errors: ``-m, --memory`` (short, then the first long name)."""
    short = [x for x in f.flags if not x.startswith("--")]
    long = [x for x in f.flags if x.startswith("--")][:1]
    return ", ".join(short + long)


#: Options set by something other than their own flag.
_OPTION_FLAG_ALIASES = {"restart_retries": "restart_policy", "healthcheck": "healthcheck.test"}


def flag_for(field: str, flags: t.Sequence[Flag]) -> Flag | None:
    """The flag behind an ``InvalidOption`` field (``ulimits[1]``, ``healthcheck.interval``, ``env.A``)."""
    base = field.split("[", 1)[0]
    candidates = [base, base.split(".", 1)[0]]
    for name in candidates:
        name = _OPTION_FLAG_ALIASES.get(name, name)
        for f in flags:
            if f.option == name or (f.option is None and f.dest == name):  # --name: read by the verb
                return f
    return None


def flag_error(exc: InvalidOption, args: t.Any, flags: t.Sequence[Flag]) -> str | None:
    """``invalid argument "1x" for "-m, --memory" flag: <reason>`` for an option a flag set, else None."""
    f = flag_for(exc.field, flags)
    if f is None:
        return None
    raw = getattr(args, f.dest, None)
    given = [str(x) for x in raw] if isinstance(raw, list) else ([] if raw in (None, False) else [str(raw)])
    shown = None
    if "[" in exc.field:
        try:
            index = int(exc.field.split("[", 1)[1].split("]", 1)[0])
            shown = given[index]
        except (ValueError, IndexError):
            shown = None
    if shown is None and f.kind in ("map", "env") and not isinstance(exc.value, dict):
        key = str(exc.value)
        shown = next((g for g in given if g.partition("=")[0] == key), None)
    if shown is None:
        if raw is True:
            shown = "true"
        elif len(given) == 1:
            shown = given[0]
        elif isinstance(exc.value, str):
            shown = exc.value
        else:
            shown = ",".join(given)
    return f'invalid argument "{shorten(shown)}" for "{flag_names(f)}" flag: {exc.reason}'


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def env_files(paths: t.Sequence[str], environ: t.Mapping[str, str] | None = None,
              field: str = "env_file") -> dict[str, str]:
    """Docker's ``--env-file`` (several allowed, later files win): merged below ``-e`` (and the same format
    for ``--secret-env-file``, *field*)."""
    from ...engine.options import container as copts

    lookup = (os.environ if environ is None else environ).get
    out: dict[str, str] = {}
    for path in paths:
        try:
            text = _read_text(path)
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror.lower() if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise InvalidOption(field, path, f"open {path}: {reason}") from None
        out.update(copts.parse_env_file(text, lookup, source=path, field=field))
    return out


def normalised_options(args: t.Any, flags: t.Sequence[Flag], image: str | None = None,
                       command: t.Sequence[str] | None = None) -> dict[str, t.Any]:
    """The flags as the normalised options dict (``normalise_options``); bad values as usage errors."""
    from ...engine.options import container as copts

    prog = args._parser.prog
    try:
        params = run_params(args, flags)
        files = params.pop("env_file", None)
        if files:
            params["env"] = {**env_files(files), **params.get("env", {})}
        if image is not None:
            params["image"] = image
        if command:
            params["command"] = list(command)
        if getattr(args, "name", None) is not None:
            copts.container_name(args.name, "name")  # before any pull, as docker checks it
        aliases, address = getattr(args, "network_alias", None), getattr(args, "ip", None)
        if aliases or address:  # docker's --network-alias/--ip belong to the --network network
            params["networks"] = [{"name": params.get("network_mode") or "bridge", "aliases": aliases or [],
                                   "ipv4_address": address}]
        return copts.normalise_options(params)
    except InvalidOption as exc:
        raise UsageError(flag_error(exc, args, flags) or str(exc), prog) from None


def update_options(args: t.Any, flags: t.Sequence[Flag]) -> dict[str, t.Any]:
    """``update``'s flags normalised one by one: the cross-option checks need the container's other
    values, which ``ContainerService.update`` merges and checks."""
    from ...engine.options import container as copts

    prog = args._parser.prog
    try:
        params = run_params(args, flags)
        policy = params.get("restart_policy")
        if isinstance(policy, str) and policy.startswith("on-failure:"):
            params["restart_policy"] = "on-failure"
            params["restart_retries"] = copts.int_range(0)(policy.partition(":")[2], "restart_policy")
        elif policy is not None:
            params["restart_retries"] = None  # a new policy drops the old retry count
        out: dict[str, t.Any] = {}
        for name, value in params.items():
            if value is None:
                out[name] = None
                continue
            out[name] = copts.CONTAINER_OPTIONS[name].normalise(value)  # type: ignore[attr-defined]
        return out
    except InvalidOption as exc:
        raise UsageError(flag_error(exc, args, flags) or str(exc), prog) from None


def warn_host(ctx: Context, opts: t.Mapping[str, t.Any]) -> None:
    """docker run/create/update print the daemon's warnings first: ``WARNING: ...``."""
    requested = bool(getattr(ctx.args, "platform", None))
    for message in ctx.engine.containers.host_warnings(opts, platform_requested=requested):
        ctx.stderr.write(f"WARNING: {message}\n")
