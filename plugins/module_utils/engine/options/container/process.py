# SPDX-License-Identifier: GPL-3.0-or-later
"""Normalisers of what the container runs and as whom: environment, labels, user, paths, names, image,
restart policy, signals, healthcheck, logging, groups and runtime."""
from __future__ import annotations

from ...core.lazy import Pattern
from ...core.reference import ImageReference, looks_like_id
from ...errors import InvalidOption
from .normalise import (
    _NAME,
    MAX_NAME_LENGTH,
    _fail,
    _re,
    _str,
    _text_value,
    abs_path,
    duration,
    int_range,
    size,
)
from .secrets import SECRET_MASK

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time: ``berth run`` imports the option table
    import typing as t

RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")
LOG_DRIVERS = ("json-file", "none")

_ENV_NAME_BAD = Pattern(r"[\s=]")


def env(value: t.Any, field: str, secret: bool = False) -> dict[str, str]:
    """Variable names to values; with *secret* (``secret_env``) no error names a value, and a NUL is refused."""
    shown = SECRET_MASK if secret else None
    if not isinstance(value, dict):
        _fail(field, shown or value, "must be a dictionary of variable names to values")
    out = {}
    for key, val in value.items():
        key = str(key)
        if not key or _ENV_NAME_BAD.search(key):
            _fail(field, key, "environment variable names must be non-empty and contain no '=' or whitespace")
        out[key] = _text_value(field, key, val, shown)
        if secret and "\0" in out[key]:
            _fail(f"{field}.{key}", shown, "an environment value cannot hold a NUL character")
    return out


def secret_env(value: t.Any, field: str) -> dict[str, str]:
    return env(value, field, secret=True)


def labels(value: t.Any, field: str) -> dict[str, str]:
    if not isinstance(value, dict):
        _fail(field, value, "must be a dictionary of label names to values")
    out = {}
    for key, val in value.items():
        key = str(key)
        if not key:
            _fail(field, key, "label names must not be empty")
        out[key] = _text_value(field, key, val)
    return out


def parse_env_file(text: str, lookup: t.Callable[[str], str | None], source: str = "env_file",
                   field: str = "env_file") -> dict[str, str]:
    """Docker's ``--env-file`` format: ``KEY=VALUE`` lines taken literally (no quote removal), ``#`` comments
    and blank lines skipped, leading whitespace trimmed, a bare ``KEY`` takes the caller's value (and is
    left out when the caller has none)."""
    out: dict[str, str] = {}
    if text.startswith("\ufeff"):
        text = text[1:]
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, val = line.partition("=")
        if not key:
            raise InvalidOption(field, source, f"line {number}: no variable name before '='")
        if _re().search(r"\s", key):
            raise InvalidOption(field, source, f"line {number}: variable name {key!r} contains whitespace")
        if "\0" in line:
            raise InvalidOption(field, source, f"line {number}: contains a NUL byte")
        if sep:
            out[key] = val
        else:
            found = lookup(key)
            if found is not None:
                out[key] = found
    return out


_USER = Pattern(r"^[^:\s]+(?::[^:\s]+)?$")


def user(value: t.Any, field: str) -> str | None:
    """``name|uid[:group|gid]``; empty means the image's USER, i.e. not specified."""
    text = _str(value, field).strip()
    if not text:
        return None
    if not _USER.match(text):
        _fail(field, value, "must be user, uid, user:group or uid:gid")
    return text


def working_dir(value: t.Any, field: str) -> str | None:
    text = _str(value, field)
    if not text:
        return None
    return abs_path(text, field)


_HOSTNAME_LABEL = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_HOSTNAME = Pattern(rf"^(?:{_HOSTNAME_LABEL}\.)*{_HOSTNAME_LABEL}$")


def hostname(value: t.Any, field: str) -> str | None:
    text = _str(value, field)
    if not text:
        return None
    if len(text) > 64 or not _HOSTNAME.match(text):
        _fail(field, value, "must be a valid RFC 1123 host name of at most 64 characters")
    return text


def domainname(value: t.Any, field: str) -> str:
    text = _str(value, field)
    if text and (len(text) > 255 or not _HOSTNAME.match(text)):
        _fail(field, value, "must be a valid RFC 1123 domain name")
    return text


_CONTAINER_NAME = Pattern(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


def container_name(value: t.Any, field: str) -> str:
    text = _str(value, field)
    if not _CONTAINER_NAME.match(text):
        _fail(field, value, "container names are [a-zA-Z0-9][a-zA-Z0-9_.-]+ (at least two characters)")
    name = text.lstrip("/")
    if len(name) > MAX_NAME_LENGTH:
        _fail(field, value, f"container names are at most {MAX_NAME_LENGTH} characters long (this one has {len(name)})")
    return name


def image(value: t.Any, field: str) -> str:
    """An image reference (canonical, tag ``latest`` added) or an image ID / ID prefix (kept)."""
    text = _str(value, field).strip()
    if not text:
        _fail(field, value, "must not be empty")
    if looks_like_id(text):
        return text
    return str(ImageReference.parse(text, field=field))


def image_is_id(value: str) -> bool:
    """An image ID or ID prefix (``sha256:...`` or hex): never pulled, looked up as is."""
    return looks_like_id(value)


def restart_policy(value: t.Any, field: str) -> str:
    text = _str(value, field)
    if text not in RESTART_POLICIES:
        _fail(field, value, f"must be one of {', '.join(RESTART_POLICIES)}")
    return text


#: Linux signal numbers (generic layout: x86, arm, arm64, s390x, ppc64le, riscv64).
SIGNALS = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8, "KILL": 9, "USR1": 10,
    "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16, "CHLD": 17, "CONT": 18,
    "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26,
    "PROF": 27, "WINCH": 28, "IO": 29, "PWR": 30, "SYS": 31,
}  # fmt: skip
_SIGNAL_ALIASES = {"IOT": "ABRT", "POLL": "IO", "CLD": "CHLD"}
SIGRTMIN, SIGRTMAX = 34, 64


def signal_name(value: t.Any, field: str) -> str:
    """``TERM``, ``sigterm``, ``15`` -> ``SIGTERM``; ``RTMIN+3`` and 34-64 -> ``SIGRTMIN+3`` style names."""
    if isinstance(value, bool):
        _fail(field, value, "must be a signal name or number")
    text = str(value).strip().upper()
    if text.isascii() and text.isdigit():
        number = int(text)
        for name, num in SIGNALS.items():
            if num == number:
                return "SIG" + name
        if SIGRTMIN <= number <= SIGRTMAX:
            return _rt_name(number)
        _fail(field, value, f"no such signal number (1-{SIGRTMAX})")
    bare = text[3:] if text.startswith("SIG") else text
    bare = _SIGNAL_ALIASES.get(bare, bare)
    if bare in SIGNALS:
        return "SIG" + bare
    m = _re().fullmatch(r"RT(MIN|MAX)(?:([+-])(\d+))?", bare)
    if m:
        base = SIGRTMIN if m.group(1) == "MIN" else SIGRTMAX
        offset = int(m.group(3) or 0)
        if (m.group(2) or ("+" if m.group(1) == "MIN" else "-")) != ("+" if m.group(1) == "MIN" else "-"):
            _fail(field, value, "use RTMIN+n or RTMAX-n")
        number = base + offset if m.group(1) == "MIN" else base - offset
        if SIGRTMIN <= number <= SIGRTMAX:
            return _rt_name(number)
    _fail(field, value, "unknown signal")


def _rt_name(number: int) -> str:
    if number == SIGRTMIN:
        return "SIGRTMIN"
    if number == SIGRTMAX:
        return "SIGRTMAX"
    if number - SIGRTMIN <= 15:
        return f"SIGRTMIN+{number - SIGRTMIN}"
    return f"SIGRTMAX-{SIGRTMAX - number}"


def signal_number(name: str) -> int:
    """A normalised signal name -> its number (``SIGTERM`` -> 15)."""
    bare = name[3:] if name.startswith("SIG") else name
    if bare in SIGNALS:
        return SIGNALS[bare]
    m = _re().fullmatch(r"RT(MIN|MAX)(?:[+-](\d+))?", bare)
    if not m:
        raise InvalidOption("signal", name, "unknown signal")
    offset = int(m.group(2) or 0)
    return SIGRTMIN + offset if m.group(1) == "MIN" else SIGRTMAX - offset


HEALTHCHECK_KEYS = ("test", "interval", "timeout", "retries", "start_period", "start_interval")
_HEALTHCHECK_DURATIONS = ("interval", "timeout", "start_period", "start_interval")
#: Docker's smallest non-zero healthcheck duration.
MIN_HEALTHCHECK_DURATION = 1000_000


def healthcheck(value: t.Any, field: str) -> dict[str, t.Any]:
    """``{test, interval, timeout, retries, start_period, start_interval}``: test as a list starting with
    CMD, CMD-SHELL or NONE (a string is ``CMD-SHELL``; ``NONE`` disables the image's check), durations
    in nanoseconds.  Keys not given are inherited from the image (Docker's merge)."""
    if not isinstance(value, dict):
        _fail(field, value, "must be a dictionary with test, interval, timeout, retries, start_period, start_interval")
    unknown = sorted(set(value) - set(HEALTHCHECK_KEYS))
    if unknown:
        _fail(f"{field}.{unknown[0]}", value[unknown[0]], f"unknown key (one of {', '.join(HEALTHCHECK_KEYS)})")
    out: dict[str, t.Any] = {}
    test = value.get("test")
    if test is not None:
        if isinstance(test, str):
            test_list = ["NONE"] if test.strip().upper() == "NONE" else ["CMD-SHELL", test]
        elif isinstance(test, (list, tuple)) and test and all(isinstance(x, str) for x in test):
            test_list = list(test)
            if test_list[0] not in ("CMD", "CMD-SHELL", "NONE"):
                _fail(f"{field}.test", test, "a list must start with CMD, CMD-SHELL or NONE")
            if test_list[0] == "CMD-SHELL" and len(test_list) != 2:
                _fail(f"{field}.test", test, "CMD-SHELL takes exactly one shell command string")
            if test_list[0] == "CMD" and len(test_list) < 2:
                _fail(f"{field}.test", test, "CMD needs a command")
        else:
            _fail(f"{field}.test", test, "must be a shell command string or a list starting with CMD/CMD-SHELL/NONE")
        if test_list == ["NONE"]:
            return {"test": ["NONE"]}
        out["test"] = test_list
    for key in _HEALTHCHECK_DURATIONS:
        if value.get(key) is not None:
            ns = duration(value[key], f"{field}.{key}")
            if 0 < ns < MIN_HEALTHCHECK_DURATION:
                _fail(f"{field}.{key}", value[key], "must be 0 or at least 1ms")
            out[key] = ns
    if value.get("retries") is not None:
        out["retries"] = int_range(0)(value["retries"], f"{field}.retries")
    return out


LOG_OPTION_KEYS = ("max-size", "max-file")


def log_options(value: t.Any, field: str) -> dict[str, int]:
    """json-file options: ``max-size`` (bytes) and ``max-file`` (at least 1)."""
    if not isinstance(value, dict):
        _fail(field, value, "must be a dictionary")
    out: dict[str, int] = {}
    for key, val in value.items():
        if key == "max-size":
            out[key] = size(str(val) if isinstance(val, int) and not isinstance(val, bool) else val, f"{field}.{key}")
            if out[key] == 0:
                _fail(f"{field}.{key}", val, "must be more than 0 (leave it out for no rotation)")
        elif key == "max-file":
            out[key] = int_range(1)(val, f"{field}.{key}")
        elif key == "compress":
            _fail(f"{field}.{key}", val, "compressed rotation is not supported by Berth's json-file logs")
        else:
            _fail(f"{field}.{key}", val, f"unknown json-file log option (one of {', '.join(LOG_OPTION_KEYS)})")
    return {k: out[k] for k in sorted(out)}


def log_driver(value: t.Any, field: str) -> str:
    text = _str(value, field)
    if text not in LOG_DRIVERS:
        _fail(field, value, f"Berth supports the log drivers {', '.join(LOG_DRIVERS)}")
    return text


def groups(value: t.Any, field: str) -> list[str]:
    if not isinstance(value, (list, tuple)):
        _fail(field, value, "must be a list of group names or IDs")
    out = set()
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            _fail(f"{field}[{i}]", item, "must be a group name or ID")
        text = str(item).strip()
        if not text or ":" in text or _re().search(r"\s", text):
            _fail(f"{field}[{i}]", item, "must be a group name or ID")
        out.add(text)
    return sorted(out)


def runtime_name(value: t.Any, field: str) -> str:
    text = _str(value, field)
    if not _NAME.match(text):
        _fail(field, value, "must be the name of a configured runtime")
    return text
