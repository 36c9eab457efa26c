# SPDX-License-Identifier: GPL-3.0-or-later
"""The OCI ``process`` of a container and of ``docker exec`` (part of ``spec.py``'s pure translation):
Docker's ENTRYPOINT/CMD and environment rules, and the user resolved like runc's ``GetExecUser`` against
the container's own ``/etc/passwd`` and ``/etc/group`` (``user_db``). ``spec.py`` re-exports the public
names.

On the start path: no typing at import time (see ``spec.py``).
"""
from __future__ import annotations

import posixpath

from ..core.accounts import parse_group, parse_passwd
from ..errors import InvalidOption
from ..runtime import all_caps

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    #: ``kind -> text | None`` for ``"passwd"`` and ``"group"`` (None: the file is missing)
    UserDb = t.Callable[[str], t.Optional[str]]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# ====================================================================== process
def process_args(options: t.Mapping[str, t.Any], image_config: t.Mapping[str, t.Any]) -> list[str]:
    """Docker's ENTRYPOINT/CMD combination (daemon ``merge`` + ``getEntrypointAndArgs``)."""
    entrypoint = options.get("entrypoint")
    command = options.get("command")
    if entrypoint is None:
        entrypoint = list(image_config.get("Entrypoint") or [])
        if not command:
            command = list(image_config.get("Cmd") or [])
    elif not entrypoint and not command:
        command = list(image_config.get("Cmd") or [])  # an empty entrypoint resets it and keeps CMD
    args = list(entrypoint or []) + list(command or [])
    if not args or not args[0]:
        raise InvalidOption("command", command, "no command specified: the image has no CMD or ENTRYPOINT; set command")
    return args


def _env_key(item: str) -> str:
    return item.partition("=")[0]


def _replace_or_append(env: list[str], more: t.Iterable[str]) -> list[str]:
    """Docker's ReplaceOrAppendEnvValues: same key replaces in place, new keys are appended."""
    out = list(env)
    index = {_env_key(e): i for i, e in enumerate(out)}
    for item in more:
        key = _env_key(item)
        if key in index:
            out[index[key]] = item
        else:
            index[key] = len(out)
            out.append(item)
    return out


def process_env(
    options: t.Mapping[str, t.Any], image_config: t.Mapping[str, t.Any], *, hostname: str, home: str
) -> list[str]:
    """``PATH``, ``HOSTNAME``, ``TERM`` (tty), then the task's env and secret_env (plain values here), then
    the image's env, then ``HOME``."""
    config_env = [f"{k}={v}" for k, v in (options.get("env") or {}).items()]
    config_env += [f"{k}={v}" for k, v in (options.get("secret_env") or {}).items()]
    mine = {_env_key(e) for e in config_env}
    config_env += [str(e) for e in image_config.get("Env") or [] if _env_key(str(e)) not in mine]
    base = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}"]
    if options.get("tty"):
        base.append("TERM=xterm")
    env = _replace_or_append(base, config_env)
    if "HOME" not in {_env_key(e) for e in env}:
        env.append(f"HOME={home}")
    return env


def exec_process(
    spec: t.Mapping[str, t.Any],
    command: t.Sequence[str],
    *,
    user: str | None = None,
    env: t.Mapping[str, str] | None = None,
    workdir: str | None = None,
    tty: bool = False,
    privileged: bool = False,
    user_db: UserDb | None = None,
    cap_last: int | None = None,
) -> dict[str, t.Any]:
    """The OCI ``process`` of ``docker exec`` in a container started from *spec*.

    Inherits the container's process (env, cwd, user, capabilities, rlimits, no_new_privs); *user*
    is resolved against the container's files (*user_db*, with HOME following the user), *env* replaces
    or extends the environment, ``TERM=xterm`` is added for a tty, *privileged* grants every capability.
    """
    base = spec.get("process") or {}
    args = [str(a) for a in command]
    if not args or not args[0]:
        raise InvalidOption("command", list(command), "no command specified")
    if workdir and not workdir.startswith("/"):
        raise InvalidOption("chdir", workdir, "the working directory must be an absolute path")
    proc_env = list(base.get("env") or [])
    if tty and "TERM" not in {_env_key(e) for e in proc_env}:
        proc_env.append("TERM=xterm")
    process: dict[str, t.Any] = {
        "terminal": bool(tty),
        "user": dict(base.get("user") or {"uid": 0, "gid": 0}),
        "args": args,
        "env": proc_env,
        "cwd": posixpath.normpath(workdir) if workdir else base.get("cwd") or "/",
        "noNewPrivileges": bool(base.get("noNewPrivileges")),
    }
    if user:
        resolved = resolve_user(user, user_db)
        process["user"] = {"uid": resolved["uid"], "gid": resolved["gid"]}
        if resolved["additional_gids"]:
            process["user"]["additionalGids"] = resolved["additional_gids"]
        process["env"] = _replace_or_append(process["env"], [f"HOME={resolved['home']}"])
    if env:
        process["env"] = _replace_or_append(process["env"], [f"{k}={v}" for k, v in env.items()])
    if privileged:
        caps = all_caps(cap_last)
        process["capabilities"] = {"bounding": list(caps), "effective": list(caps), "permitted": list(caps)}
    elif base.get("capabilities") is not None:
        process["capabilities"] = {k: list(v) for k, v in base["capabilities"].items()}
    for key in ("rlimits", "oomScoreAdj", "apparmorProfile"):
        if base.get(key) is not None:
            process[key] = base[key]
    return process


# ====================================================================== user and groups
_MAX_ID = 2**31 - 1


def _numeric(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def resolve_user(spec: str, user_db: UserDb | None, extra_groups: t.Iterable[str] = ()) -> dict[str, t.Any]:
    """runc's ``GetExecUser`` (defaults uid 0, gid 0, HOME /) plus Docker's ``--group-add``.

    Returns ``{"uid", "gid", "additional_gids", "home"}``; a user or group *name* that the container's
    files do not know raises ``InvalidOption("user"/"groups", ...)``; numeric IDs need no entry.
    """
    read = user_db or (lambda _kind: None)
    passwd = parse_passwd(read("passwd"))
    group = parse_group(read("group"))
    user_part, _sep, group_part = spec.partition(":")
    uid_arg, gid_arg = _numeric(user_part), _numeric(group_part)
    uid, gid, home, sgids = 0, 0, "/", []

    if user_part:
        found = [u for u in passwd if (u.id == uid_arg if uid_arg is not None else u.name == user_part)]
    else:
        found = [u for u in passwd if u.id == 0]
    matched = ""
    if found:
        matched, uid, gid, home = found[0].name, found[0].id, found[0].gid, found[0].home or "/"
    elif user_part:
        if uid_arg is None:
            raise InvalidOption("user", spec, f"no user {user_part!r} in the container's /etc/passwd")
        if uid_arg > _MAX_ID:
            raise InvalidOption("user", spec, "the uid is out of range")
        uid = uid_arg

    if group_part:
        hits = [g for g in group if (g.id == gid_arg if gid_arg is not None else g.name == group_part)]
        if hits:
            gid = hits[0].id
        elif gid_arg is None:
            raise InvalidOption("user", spec, f"no group {group_part!r} in the container's /etc/group")
        elif gid_arg > _MAX_ID:
            raise InvalidOption("user", spec, "the gid is out of range")
        else:
            gid = gid_arg
    elif matched:
        sgids = [g.id for g in group if matched in g.members]

    for item in extra_groups:
        number = _numeric(str(item))
        if number is not None:
            sgids.append(number)
            continue
        hits = [g for g in group if g.name == item]
        if not hits:
            raise InvalidOption("groups", item, "no such group in the container's /etc/group")
        sgids.append(hits[0].id)
    unique: list[int] = []
    for g in sgids:
        if g not in unique:
            unique.append(g)
    return {"uid": uid, "gid": gid, "additional_gids": unique, "home": home}
