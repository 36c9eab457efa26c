# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``container``, ``container_info`` and ``container_exec`` tasks.

``container`` follows community.docker's flow (docs: ANSIBLE_USERS.md section 2)::

    inspect the container by name
    resolve the image (pull per ``pull``; in check mode predict the pulled ID with remote_digest)
    absent   -> stop (stop_timeout, or kill with force_kill), remove
    existing -> compare the task's normalised options and the image ID with the container's record,
                each completed with its own image's defaults (options.container.differences):
                  a non-updatable difference, another image, or recreate=true -> stop, remove, create
                  only updatable differences (resources, restart policy) -> update in place
                  a changed ``networks`` list -> connect/disconnect in place (options.container.network_changes;
                  ``comparisons: {networks: strict}`` disconnects unlisted networks), unless it is the
                  ``network_mode`` network's aliases or address, which recreate
    missing  -> create
    then     started/healthy: start (or restart with restart=true); pause/unpause per ``paused``
             stopped: stop;  present: leave it as it is
             healthy: wait up to healthy_wait_timeout for the health check to pass

Check mode walks the same decisions without touching anything and reports the same ``changed``,
``actions`` and ``diff`` as the real run.  The diff holds only what differs: the options, ``image``,
``exists``, ``running``, ``paused`` and ``restarted``.
"""
from __future__ import annotations

import os
import time
import typing as t

from ..engine.errors import EngineError, InvalidOption, NotFound
from ..engine.options.compare import Diff
from ..engine.options.image import platform_matches
from ..engine.options.container import (
    COMPAT_REFUSED,
    differences,
    env as normalise_env,
    image_is_id,
    network_changes,
    normalise_options,
    parse_comparisons,
)

if t.TYPE_CHECKING:
    from .runner import TaskContext

#: Seconds between health polls; module-level so tests can shorten them.
HEALTH_POLL = 0.5
_sleep = time.sleep
_monotonic = time.monotonic


class _Result:
    """What a container task did or would do."""

    def __init__(self) -> None:
        self.changed = False
        self.actions: list[str] = []
        self.diff = Diff()

    def act(self, action: str) -> None:
        self.changed = True
        self.actions.append(action)

    def render(self, container: t.Mapping[str, t.Any] | None, **extra: t.Any) -> dict[str, t.Any]:
        out = {"changed": self.changed, "actions": self.actions, "diff": self.diff.as_dict(),
               "container": dict(container or {})}  # fmt: skip
        out.update(extra)
        return out


def _inspect(ctx: TaskContext, name: str) -> dict[str, t.Any] | None:
    try:
        return ctx.engine.containers.inspect(name)
    except NotFound as exc:
        if getattr(exc, "kind", "container") != "container":
            raise
        return None


def _state(container: t.Mapping[str, t.Any] | None) -> dict[str, t.Any]:
    return dict((container or {}).get("State") or {})


def _label(name: str, container: t.Mapping[str, t.Any] | None) -> str:
    cid = str((container or {}).get("Id") or "")
    return f"{name} ({cid[:12]})" if cid else name


# ====================================================================== container
def container(ctx: TaskContext) -> dict[str, t.Any]:
    p = ctx.params
    name = p["name"]
    _refuse_compat(p)
    modes = parse_comparisons(p.get("comparisons"))
    desired = normalise_options(_command_handling(p))
    desired.pop("name", None)
    current = _inspect(ctx, name)
    out = _Result()
    if p["state"] == "absent":
        return _absent(ctx, name, current, out)
    return _present(ctx, name, desired, modes, current, out)


def _refuse_compat(p: t.Mapping[str, t.Any]) -> None:
    """A community.docker option (or value) Berth does not have fails naming it and what to use instead."""
    for key, reason in COMPAT_REFUSED.items():
        option, _sep, value = key.partition("=")
        given = p.get(option)
        if given is None or given in ([], {}):
            continue
        if not value or str(given).lower() == value:
            raise InvalidOption(option, given, reason)


def _command_handling(p: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
    """command_handling=compatibility (community.docker before 3.0.0): a list command or entrypoint is joined
    with spaces and split again like a shell would; an empty one means not specified."""
    if p.get("command_handling") != "compatibility":
        return p
    out = dict(p)
    for option in ("command", "entrypoint"):
        value = out.get(option)
        if isinstance(value, (list, tuple)):
            out[option] = " ".join(str(x) for x in value) or None
    return out


def _pull_policy(value: t.Any) -> str:
    """community.docker's pull: true = always, false = missing; else the policy named."""
    if value is True:
        return "always"
    if value is False or value is None:
        return "missing"
    return str(value)


def _absent(ctx: TaskContext, name: str, current: dict[str, t.Any] | None, out: _Result) -> dict[str, t.Any]:
    if current is None:
        return out.render({})
    if _state(current).get("Running"):
        out.diff.add("running", True, False)
        _stop(ctx, name, current, out)
    out.diff.add("exists", True, False)
    out.act(f"Removed container {_label(name, current)}")
    if ctx.check_mode:
        return out.render(current)
    ctx.engine.containers.remove(name, force=True, volumes=not _keep_volumes(ctx))
    return out.render({})


def _keep_volumes(ctx: TaskContext) -> bool:
    """``keep_volumes`` (default true): false removes the anonymous volumes with the container (docker rm -v)."""
    return ctx.params.get("keep_volumes") is not False


def _stop(ctx: TaskContext, name: str, current: t.Mapping[str, t.Any] | None, out: _Result) -> None:
    p = ctx.params
    svc = ctx.engine.containers
    if p.get("force_kill"):
        out.act(f"Killed container {_label(name, current)}")
        if not ctx.check_mode:
            svc.kill(name, p.get("kill_signal") or "KILL")
            svc.stop(name, timeout=0)  # waits for the exit; a kill_signal the container survives ends in SIGKILL
        return
    out.act(f"Stopped container {_label(name, current)}")
    if not ctx.check_mode:
        timeout = p.get("stop_timeout")
        svc.stop(name, timeout=None if timeout is None else int(timeout))


class _Image(t.NamedTuple):
    id: str | None
    config: dict[str, t.Any] | None  # None: not known (a pull predicted in check mode)


def _resolve_image(ctx: TaskContext, ref: str, policy: str, out: _Result, platform: str | None = None) -> _Image:
    """The image the task asks for, pulled per *policy* (predicted in check mode); with *platform*, a local
    image for another platform counts as missing (community.docker's ``platform``)."""
    images = ctx.engine.images
    local = images.resolve(ref)
    if image_is_id(ref):
        if local is None:
            raise InvalidOption("image", ref, "no such image ID (an image named by ID is never pulled)")
        return _Image(local, images.inspect(local).get("Config") or {})
    fits = local is not None and platform_matches(platform, images.inspect(local))
    if fits and (policy != "always" or "@" in ref):
        return _Image(local, images.inspect(local).get("Config") or {})
    if not fits and policy == "never":
        why = "is not present" if local is None else f"is present but not for platform {platform}"
        raise InvalidOption("pull", policy, f"image {ref} {why}, and pull=never forbids pulling it")
    if ctx.check_mode:
        _digest, new_id = images.remote_digest(ref, platform)
        if new_id != local:
            out.act(f"Pulled image {ref}")
        known = images.resolve(new_id) == new_id
        return _Image(new_id, (images.inspect(new_id).get("Config") or {}) if known else None)
    pulled = images.pull(ref, platform)
    if pulled.image_id != local:
        out.act(f"Pulled image {ref}")
    return _Image(pulled.image_id, images.inspect(pulled.image_id).get("Config") or {})


def _present(
    ctx: TaskContext,
    name: str,
    desired: dict[str, t.Any],
    modes: dict[str, str],
    current: dict[str, t.Any] | None,
    out: _Result,
) -> dict[str, t.Any]:
    p = ctx.params
    svc = ctx.engine.containers
    state = p["state"]
    ref = desired.get("image")
    if current is None and not ref:
        raise InvalidOption("image", None, f"an image is required to create container {name}")
    image = _resolve_image(ctx, ref, _pull_policy(p["pull"]), out, p.get("platform")) if ref else _Image(None, None)

    created = False
    if current is None:
        out.diff.add("exists", False, True)
        out.act(f"Created container {name}")
        _warn_host(ctx, desired)
        if ctx.check_mode:
            svc.check(desired, name=name)
        else:
            svc.create(desired, name=name, pull="never")
        created = True
    else:
        recorded = svc.desired(name)
        current_config = _image_config(ctx, current.get("Image"))
        diffs = differences(
            desired,
            recorded,
            desired_image=image.config if image.config is not None else current_config,
            current_image=current_config,
            comparisons=modes,
        )
        image_differs = _image_differs(desired, recorded, image, current, modes, p.get("image_name_mismatch"))
        for d in diffs:
            out.diff.add(d.name, d.before, d.after, kind=d.comparison_type)
        if image_differs:
            out.diff.add("image", current.get("Image"), image.id)
        # a changed networks list is applied by connect/disconnect, not by a recreate (when it can be)
        plan = network_changes(desired, recorded, modes.get("networks") == "strict") \
            if any(d.name == "networks" for d in diffs) else None
        others = [d for d in diffs if plan is None or d.name != "networks"]
        if p["recreate"] or image_differs or any(not d.updatable for d in others):
            _recreate(ctx, name, desired, current, recorded, out)
            created = True
        else:
            if others:
                out.act(f"Updated container {_label(name, current)}: {', '.join(d.name for d in others)}")
                _warn_host(ctx, desired)
                if not ctx.check_mode:
                    svc.update(name, {d.name: desired.get(d.name) for d in others})
            _apply_networks(ctx, name, current, plan or [], out)

    was_running = bool(_state(current).get("Running"))
    running = was_running and not created
    paused = bool(_state(current).get("Paused")) and not created
    started = False
    if state in ("started", "healthy"):
        if not running:
            out.act(f"Started container {name}")
            started = True
            if not ctx.check_mode:
                svc.start(name)
        elif p["restart"]:
            out.diff.add("restarted", False, True)
            out.act(f"Restarted container {_label(name, current)}")
            if not ctx.check_mode:
                svc.restart(name, timeout=p.get("stop_timeout"))
            paused = False
        running = True
        wanted_pause = p.get("paused")
        if wanted_pause is not None and wanted_pause != paused:
            out.diff.add("paused", paused, wanted_pause)
            out.act(f"{'Paused' if wanted_pause else 'Unpaused'} container {name}")
            if not ctx.check_mode:
                (svc.pause if wanted_pause else svc.unpause)(name)
    elif state == "stopped" and running:
        _stop(ctx, name, current, out)
        running = False
    if running != was_running:
        out.diff.add("running", was_running, running)

    if ctx.check_mode:
        return out.render(current if not created else {})
    after = _inspect(ctx, name) or {}
    if state == "healthy":
        return _wait_healthy(ctx, name, after, out)
    if started and not p.get("detach", True):
        return _wait_exit(ctx, name, after, out)
    return out.render(after)


def _apply_networks(ctx: TaskContext, name: str, current: t.Mapping[str, t.Any],
                    plan: list[tuple[str, dict[str, t.Any]]], out: _Result) -> None:
    """Connect and disconnect an existing container in place (``network_changes``' plan); in check mode the
    networks it joins must exist."""
    svc = ctx.engine.containers
    for action, entry in plan:
        if action == "connect":
            out.act(f"Connected container {_label(name, current)} to network {entry['name']}")
            if ctx.check_mode:
                if entry["name"] != "bridge" and not ctx.engine.networks.exists(entry["name"]):
                    raise NotFound("network", entry["name"])
            else:
                svc.connect(name, entry["name"], entry.get("aliases") or (), entry.get("ipv4_address"))
        else:
            out.act(f"Disconnected container {_label(name, current)} from network {entry['name']}")
            if not ctx.check_mode:
                svc.disconnect(name, entry["name"], force=True)


def _image_config(ctx: TaskContext, image_id: str | None) -> dict[str, t.Any]:
    if not image_id:
        return {}
    try:
        return dict(ctx.engine.images.inspect(image_id).get("Config") or {})
    except NotFound:
        return {}  # the image was removed from under the container


def _image_differs(
    desired: t.Mapping[str, t.Any],
    recorded: t.Mapping[str, t.Any],
    image: _Image,
    current: t.Mapping[str, t.Any],
    modes: t.Mapping[str, str],
    name_mismatch: str | None = "recreate",
) -> bool:
    """Another image ID, or (community.docker's image_name_mismatch=recreate, the default) another image name."""
    if modes.get("image") == "ignore" or image.id is None:
        return False
    if image.id != current.get("Image"):
        return True
    return name_mismatch != "ignore" and desired.get("image") != recorded.get("image")


def _recreate(
    ctx: TaskContext,
    name: str,
    desired: dict[str, t.Any],
    current: t.Mapping[str, t.Any],
    recorded: t.Mapping[str, t.Any],
    out: _Result,
) -> None:
    svc = ctx.engine.containers
    options = dict(desired)
    if not options.get("image"):
        # keep the container's own image: by name while the name still points at it, else by ID
        old = recorded.get("image")
        options["image"] = old if old and ctx.engine.images.resolve(old) == current.get("Image") else current["Image"]
    if _state(current).get("Running"):
        _stop(ctx, name, current, out)
    out.act(f"Removed container {_label(name, current)}")
    out.act(f"Created container {name}")
    _warn_host(ctx, options)
    if ctx.check_mode:
        svc.check(options, name=name)
    else:
        svc.remove(name, force=True, volumes=not _keep_volumes(ctx))
        svc.create(options, name=name, pull="never")


def _warn_host(ctx: TaskContext, options: t.Mapping[str, t.Any]) -> None:
    """The engine's warnings for settings this host cannot apply (recorded, not applied: Docker's rule)."""
    for message in ctx.engine.containers.host_warnings(options):
        ctx.warn(message)


def _wait_healthy(ctx: TaskContext, name: str, container: dict[str, t.Any], out: _Result) -> dict[str, t.Any]:
    """community.docker: wait while the health status is starting or unhealthy; no health check = healthy."""
    limit = float(ctx.params.get("healthy_wait_timeout") or 0)
    deadline = _monotonic() + limit
    while True:
        state = _state(container)
        health = (state.get("Health") or {}).get("Status")
        if health in (None, "healthy") and state.get("Running"):
            return out.render(container)
        if not state.get("Running"):
            return out.render(
                container, failed=True, msg=f"container {name} is {state.get('Status', 'not running')}, not healthy"
            )
        if _monotonic() >= deadline:
            return out.render(
                container,
                failed=True,
                msg=f"container {name} is still {health} after {limit:g}s (healthy_wait_timeout)",
            )
        _sleep(HEALTH_POLL)
        container = _inspect(ctx, name) or {}


def _wait_exit(ctx: TaskContext, name: str, container: dict[str, t.Any], out: _Result) -> dict[str, t.Any]:
    """detach=false: wait for the container to exit; fail with its output when the exit code is not 0."""
    svc = ctx.engine.containers
    try:
        status = svc.wait(name)
    except NotFound:
        return out.render(
            container, failed=True, msg=f"container {name} was removed (auto_remove) before its exit status was read"
        )
    output = _output(ctx, name)
    after = _inspect(ctx, name) or container
    if status != 0:
        return out.render(after, failed=True, status=status, output=output,
                          msg=f"container {name} exited with status {status}: {output}")  # fmt: skip
    return out.render(after, status=status, output=output)


def _output(ctx: TaskContext, name: str) -> str:
    try:
        chunks = [entry.data for entry in ctx.engine.containers.logs(name)]
    except EngineError:
        return ""
    return b"".join(c if isinstance(c, bytes) else str(c).encode() for c in chunks).decode("utf-8", "replace")


# ====================================================================== container_info
def container_info(ctx: TaskContext) -> dict[str, t.Any]:
    found = _inspect(ctx, ctx.params["name"])
    return {"changed": False, "exists": found is not None, "container": found or {}}


# ====================================================================== container_exec
def container_exec(ctx: TaskContext) -> dict[str, t.Any]:
    """Run a command in a running container; always a change (community.docker's docker_container_exec)."""
    import shlex
    import tempfile

    p = ctx.params
    if p.get("argv"):
        argv = [str(a) for a in p["argv"]]
    else:
        try:
            argv = shlex.split(p.get("command") or "")
        except ValueError as exc:
            raise InvalidOption("command", p.get("command"), f"cannot be split into arguments: {exc}") from None
    if not argv:
        raise InvalidOption("command", p.get("command") or p.get("argv"), "no command specified")
    env = normalise_env(p["env"], "env") if p.get("env") else None
    if p.get("chdir") and not str(p["chdir"]).startswith("/"):
        raise InvalidOption("chdir", p["chdir"], "must be an absolute path")
    if ctx.check_mode:
        return {"changed": False, "skipped": True, "msg": "container_exec does not run commands in check mode"}
    from ..engine.api import Stdio

    stdin_text = p.get("stdin")
    if stdin_text is not None and p.get("stdin_add_newline", True):
        stdin_text += "\n"
    with tempfile.TemporaryFile() as fout, tempfile.TemporaryFile() as ferr, tempfile.TemporaryFile() as fin:
        stdin_fd = None
        if stdin_text is not None:
            fin.write(stdin_text.encode())
            fin.flush()
            fin.seek(0)
            stdin_fd = fin.fileno()
        rc = ctx.engine.containers.exec(
            p["container"],
            argv,
            user=p.get("user") or None,
            env=env,
            workdir=p.get("chdir") or None,
            tty=bool(p.get("tty")),
            detach=bool(p.get("detach")),
            privileged=bool(p.get("privileged")),
            stdio=Stdio(stdin_fd, fout.fileno(), ferr.fileno(), bool(p.get("tty"))),
        )
        if p.get("detach"):
            return {"changed": True}
        stdout, stderr = _read_back(fout), _read_back(ferr)
    if p.get("strip_empty_ends", True):
        stdout, stderr = stdout.rstrip("\r\n"), stderr.rstrip("\r\n")
    out = {"changed": True, "rc": rc, "stdout": stdout, "stderr": stderr}
    if rc:  # Ansible fails a result whose rc is not 0: say why
        out["msg"] = f"the command exited with code {rc}"
    return out


def _read_back(fh: t.IO[bytes]) -> str:
    fh.flush()
    os.lseek(fh.fileno(), 0, os.SEEK_SET)
    return fh.read().decode("utf-8", "replace")
