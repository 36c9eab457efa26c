# SPDX-License-Identifier: GPL-3.0-or-later
"""Effective values (Docker's merge rules with the image config) and the differences idempotency reports.

What a container *runs with* for an option is its **effective** value (:func:`effective`): what the task
recorded, else what the image says (ENV, LABEL, CMD, ENTRYPOINT, USER, WORKDIR, STOPSIGNAL, HEALTHCHECK,
with Docker's merge rules), else the engine default.  Comparing effective values on both sides means a
value inherited from the image is never a difference, and removing an env variable or a label from a
task is one.  :func:`differences` compares them with the one comparator (:func:`..compare.compare`) in
the mode :func:`parse_comparisons` gives each option; its :class:`Difference` list feeds ``--diff``,
check mode and the decision between update and recreate.
"""
from __future__ import annotations

import posixpath

from ...core.value import Value
from ...errors import InvalidOption
from ..compare import compare
from .normalise import DEFAULT_STOP_SIGNAL, DEFAULT_WORKING_DIR
from .process import signal_name
from .secrets import SECRET_CHANGED, SECRET_MASK, mask_secrets, sealed_like
from .table import CONTAINER_OPTIONS

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time: ``berth run`` imports this
    import typing as t


def _image_env(config: t.Mapping[str, t.Any]) -> dict[str, str]:
    out = {}
    for item in config.get("Env") or []:
        key, _sep, value = str(item).partition("=")
        out[key] = value
    return out


def healthcheck_from_image(config: t.Mapping[str, t.Any] | None) -> dict[str, t.Any] | None:
    """An image config's ``Healthcheck`` (Docker keys) in the normalised form (zero durations left out)."""
    if not config:
        return None
    out: dict[str, t.Any] = {}
    if config.get("Test"):
        out["test"] = list(config["Test"])
    for key, docker_key in (
        ("interval", "Interval"),
        ("timeout", "Timeout"),
        ("start_period", "StartPeriod"),
        ("start_interval", "StartInterval"),
        ("retries", "Retries"),
    ):
        if config.get(docker_key):
            out[key] = int(config[docker_key])
    return out or None


def effective(options: t.Mapping[str, t.Any], image_config: t.Mapping[str, t.Any] | None = None) -> dict[str, t.Any]:
    """The value each comparable option has for a container created with *options* from an image
    with *image_config* (the OCI config section: ``Env``, ``Cmd``, ``Entrypoint``, ...).

    Docker's rules: env and labels are the image's overlaid by the container's; a non-empty entrypoint
    clears the image's CMD, an empty one keeps it; the healthcheck inherits every key not given.
    """
    img = image_config or {}
    out: dict[str, t.Any] = {}
    for opt in CONTAINER_OPTIONS:
        if opt.comparable:
            value = options.get(opt.name)
            out[opt.name] = value if value is not None else opt.engine_default
    out["env"] = {**_image_env(img), **(options.get("env") or {})}
    out["labels"] = {**{str(k): str(v) for k, v in (img.get("Labels") or {}).items()}, **(options.get("labels") or {})}
    entrypoint = options.get("entrypoint")
    out["entrypoint"] = list(entrypoint) if entrypoint is not None else list(img.get("Entrypoint") or [])
    cmd = options.get("command")
    if cmd is None:
        cmd = [] if entrypoint else list(img.get("Cmd") or [])
    out["command"] = list(cmd)
    out["user"] = options.get("user") or img.get("User") or ""
    out["working_dir"] = options.get("working_dir") or (
        posixpath.normpath(img["WorkingDir"]) if img.get("WorkingDir") else DEFAULT_WORKING_DIR
    )
    stop = options.get("stop_signal") or img.get("StopSignal")
    try:
        out["stop_signal"] = signal_name(stop, "stop_signal") if stop else DEFAULT_STOP_SIGNAL
    except InvalidOption:  # an image with an odd STOPSIGNAL: compare it as written
        out["stop_signal"] = stop
    base = healthcheck_from_image(img.get("Healthcheck"))
    mine = options.get("healthcheck")
    if mine and mine.get("test") == ["NONE"]:
        out["healthcheck"] = {"test": ["NONE"]}
    elif mine or base:
        out["healthcheck"] = {**(base or {}), **(mine or {})}
    else:
        out["healthcheck"] = None
    return out


class Difference(Value):
    """One option whose current effective value does not satisfy the desired one."""

    __slots__ = _fields = ("name", "before", "after", "comparison_type", "updatable")
    name: str
    before: t.Any
    after: t.Any
    comparison_type: str
    updatable: bool


def parse_comparisons(value: t.Mapping[str, t.Any] | None) -> dict[str, str]:
    """The ``comparisons`` task option -> a mode for ``image`` and every comparable option.

    Keys are option names or aliases, ``image``, or ``*`` (``strict``/``ignore`` for every option not named).
    """
    modes = {o.name: o.compare_mode for o in CONTAINER_OPTIONS if o.comparable}
    modes["image"] = "strict"
    if not value:
        return modes
    if not isinstance(value, dict):
        raise InvalidOption("comparisons", value, "must be a dictionary of option names to comparison modes")
    aliases = {a: o.name for o in CONTAINER_OPTIONS for a in o.aliases}
    types = {o.name: o.compare_type for o in CONTAINER_OPTIONS}
    types["image"] = "value"
    if "*" in value:
        if value["*"] not in ("strict", "ignore"):
            raise InvalidOption("comparisons.*", value["*"], "the wildcard takes strict or ignore")
        modes = {k: value["*"] for k in modes}
    seen: dict[str, str] = {}
    for key, mode in value.items():
        if key == "*":
            continue
        name = aliases.get(key, key)
        if name not in modes:
            raise InvalidOption(
                "comparisons", key, "not an option that is compared (see the comparisons documentation)"
            )
        if name in seen:
            raise InvalidOption("comparisons", key, f"{name} is already given as {seen[name]}")
        seen[name] = key
        if mode not in ("strict", "ignore", "allow_more_present"):
            raise InvalidOption(f"comparisons.{key}", mode, "must be strict, ignore or allow_more_present")
        if mode == "allow_more_present" and types[name] == "value":
            raise InvalidOption(f"comparisons.{key}", mode, "allow_more_present needs a list, set or dictionary option")
        modes[name] = mode
    return modes


def differences(
    desired: t.Mapping[str, t.Any],
    current: t.Mapping[str, t.Any],
    *,
    desired_image: t.Mapping[str, t.Any] | None = None,
    current_image: t.Mapping[str, t.Any] | None = None,
    comparisons: t.Mapping[str, str] | None = None,
) -> list[Difference]:
    """Options the task sets whose effective value the container does not satisfy.

    *desired* and *current* are normalised options (the task's, and ``ContainerService.desired()`` of
    the container); each is completed with its own image's config.  Only options the task sets are
    compared; ``command`` also counts as set when ``entrypoint`` is (an entrypoint decides the CMD).

    ``secret_env`` is plain in *desired* and sealed in *current* (the record): the desired values are
    sealed with the record's salts before comparing, and its Difference shows masks, never values
    (:data:`SECRET_CHANGED` for a changed value).
    """
    modes = comparisons or parse_comparisons(None)
    if desired.get("secret_env"):
        desired = {**desired, "secret_env": sealed_like(desired["secret_env"], current.get("secret_env"))}
    want = effective(desired, desired_image)
    have = effective(current, current_image)
    given = {k for k, v in desired.items() if v is not None}
    if "entrypoint" in given:
        given.add("command")
    out = []
    for opt in CONTAINER_OPTIONS:
        if not opt.comparable or opt.name not in given:
            continue
        mode = modes.get(opt.name, opt.compare_mode)
        if not compare(mode, opt.compare_type, want[opt.name], have[opt.name], field=f"comparisons.{opt.name}"):
            before, after = have[opt.name], want[opt.name]
            if opt.name == "secret_env":
                before, after = _masked_change(before, after)
            out.append(Difference(opt.name, before, after, opt.compare_type, opt.updatable))
    return out


def _masked_change(before: t.Mapping[str, str], after: t.Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """A ``secret_env`` difference as masks: the names on each side, a changed value marked as such."""
    before = before or {}
    return mask_secrets(before), {n: SECRET_MASK if before.get(n) == v else SECRET_CHANGED for n, v in after.items()}
