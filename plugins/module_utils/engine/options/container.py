# SPDX-License-Identifier: GPL-3.0-or-later
"""Options of the container tasks: the ``docker run`` surface, declared once.

:data:`CONTAINER_OPTIONS` is the table the service records and idempotency
compares; names are community.docker's ``docker_container`` names wherever it
has the option, so playbooks migrate by changing the module name.  Each row is
a :class:`ContainerOption`: an :class:`~.model.Option` plus

* ``normaliser(value, field)``: the typed, canonical form (sizes in bytes,
  durations in nanoseconds, capability sets as sorted ``CAP_X`` names, command
  strings shlex-split ...); a bad value raises ``InvalidOption`` naming the
  option;
* ``updatable``: the option can change on a running container
  (``ContainerService.update``) instead of recreating it;
* ``engine_default``: the normalised value in effect when nobody sets it.

What a container *runs with* for an option is its **effective** value
(:func:`effective`): what the task recorded, else what the image says (ENV,
LABEL, CMD, ENTRYPOINT, USER, WORKDIR, STOPSIGNAL, HEALTHCHECK, with Docker's
merge rules), else the engine default.  Comparing effective values on both
sides means a value inherited from the image is never a difference, and
removing an env variable or a label from a task is one.  Because both sides
are normalised records written by Berth itself (nothing else adds a label or a
capability behind the task's back), the default comparison of every option is
``strict``; ``comparisons`` can relax it per option (``allow_more_present``,
``ignore``), community.docker style.  ``stop_timeout`` is ``ignore`` by
default, as in community.docker.

:func:`normalise_options` turns task parameters into the normalised options
dict (only what was set) that ``ContainerService.create`` records, and runs
the cross-option checks (:func:`check_options`).  This module is pure except
for the two files a task may name (``env_file`` and a ``seccomp=PATH``
profile), read through an injectable ``read_file``.
"""
from __future__ import annotations

import posixpath

from ..core.lazy import Pattern
from ..core.reference import ImageReference, looks_like_id
from ..core.value import Value
from ..errors import InvalidOption
from .common import ENGINE_OPTIONS
from .compare import compare
from .model import Option, OptionTable

# ``berth run`` imports this table: no typing, dataclasses (core/value.py), json or re at import time
# (regular expressions are :class:`~..core.lazy.Pattern`, compiled when an option needs one).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    Normaliser = t.Callable[[t.Any, str], t.Any]

#: Docker's defaults, as normalised values.
DEFAULT_SHM_SIZE = 64 * 1024 * 1024
DEFAULT_STOP_SIGNAL = "SIGTERM"
DEFAULT_STOP_TIMEOUT = 10
DEFAULT_WORKING_DIR = "/"
DEFAULT_NETWORK_MODE = "bridge"  # what Docker's "default" means
#: What a container without ``network_mode`` gets today: its own network namespace with only
#: loopback (bridge networking comes later; the service refuses bridge and network names until then).
UNSET_NETWORK_MODE = "none"
DEFAULT_IPC_MODE = "private"
#: Smallest memory limit (and memory reservation) Docker accepts.
MIN_MEMORY = 6 * 1024 * 1024
#: Largest size in bytes: Docker's sizes are int64, and the kernel's page counters (memory.max,
#: memory.limit_in_bytes ...) take at most LONG_MAX bytes (clamped to PAGE_COUNTER_MAX pages).
MAX_SIZE = (1 << 63) - 1
#: Longest container name: the name is a file name in the data root (``names/<name>``, NAME_MAX 255).
MAX_NAME_LENGTH = 255
#: The kernel's largest CFS quota in microseconds (``max_cfs_runtime``: 2^44 - 1).
MAX_CPU_QUOTA = (1 << 44) - 1
#: The largest ``pids.max`` the kernel takes (PID_MAX_LIMIT on 64-bit hosts).
MAX_PIDS = 4 * 1024 * 1024
#: Largest count, timeout or retry number (an int32, as Docker's API has them).
MAX_INT32 = (1 << 31) - 1
#: Where the host lists what ``cpuset_cpus`` / ``cpuset_mems`` may name (absent node file: node 0 only).
ONLINE_FILES = {"cpuset_cpus": "/sys/devices/system/cpu/online", "cpuset_mems": "/sys/devices/system/node/online"}

STATES = ("absent", "present", "stopped", "started", "healthy")
PULL_POLICIES = ("always", "missing", "never")
RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")
LOG_DRIVERS = ("json-file", "none")


class ContainerOption(Option):
    """A container option: an :class:`Option` plus normalisation and update semantics."""

    __slots__ = ("normaliser", "updatable", "engine_default", "comparable")
    _fields = Option._fields + __slots__
    _defaults = {**Option._defaults, "normaliser": None, "updatable": False, "engine_default": None,
                 "comparable": True}
    normaliser: Normaliser | None
    updatable: bool
    engine_default: t.Any
    #: False for options that are not container properties compared for idempotency
    #: (``name`` is the identity, ``image`` is compared by ID, ``env_file`` is folded into ``env``).
    comparable: bool

    def normalise(self, value: t.Any, field: str | None = None) -> t.Any:
        """The canonical form of *value* (``None`` stays ``None``: not specified).

        No string anywhere in *value* may hold a NUL byte: the kernel cuts strings there (execve, mount,
        sethostname), so what ran would not be what was asked for."""
        if value is None:
            return None
        field = field or self.name
        check_no_nul(value, field, secret=self.no_log)
        if self.normaliser is None:
            return value
        return self.normaliser(value, field)


# ====================================================================== normalisers
def _re() -> t.Any:
    """The ``re`` module, for the normalisers' one-off patterns (imported when such an option is given)."""
    import re

    return re


def _fail(field: str, value: t.Any, reason: str) -> t.NoReturn:
    raise InvalidOption(field, value, reason)


def check_no_nul(value: t.Any, field: str, secret: bool = False) -> None:
    """Refuse a NUL byte in *value* or in any string it holds (list items, dict keys and values); the
    error of a *secret* option (``no_log``) shows the mask, never the value."""
    if isinstance(value, str):
        if "\0" in value:
            _fail(field, SECRET_MASK if secret else value, "must not contain a NUL byte")
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\0" in key:
                _fail(field, key, "names must not contain a NUL byte")
            check_no_nul(item, f"{field}.{key}", secret)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_no_nul(item, f"{field}[{i}]", secret)


def _str(value: t.Any, field: str) -> str:
    if not isinstance(value, str):
        _fail(field, value, "must be a string")
    return value


def _bool(value: t.Any, field: str) -> bool:
    if not isinstance(value, bool):
        _fail(field, value, "must be a boolean")
    return value


def _int(value: t.Any, field: str) -> int:
    if isinstance(value, bool):
        _fail(field, value, "must be an integer")
    if isinstance(value, str):
        try:
            return int(value.strip(), 10)
        except ValueError:
            _fail(field, value, "must be an integer")
    if not isinstance(value, int):
        _fail(field, value, "must be an integer")
    return value


def int_range(low: int | None = None, high: int | None = MAX_INT32, *, zero: bool = False) -> Normaliser:
    """A normaliser for integers in ``[low, high]`` (``zero``: 0 is also accepted, meaning unset)."""

    def norm(value: t.Any, field: str) -> int:
        n = _int(value, field)
        if zero and n == 0:
            return 0
        if (low is not None and n < low) or (high is not None and n > high):
            if low is not None and high is not None and (high != MAX_INT32 or n > high):
                span = f"between {low} and {high}"
            elif low is not None and n < low:
                span = f"at least {low}"
            else:
                span = f"at most {high}"
            _fail(field, value, f"must be {span}" + (" (or 0)" if zero else ""))
        return n

    return norm


_SIZE = Pattern(r"(?ai)^(\d{1,30}(?:\.\d{1,30})?) ?([kmgtp])?i?b?$")
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def size(value: t.Any, field: str) -> int:
    """Docker's ``RAMInBytes``: ``512m``, ``1g``, ``1.5GB``, ``100`` -> bytes (binary multiples, truncated)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            _fail(field, value, "must not be negative")
        n = value
    elif not isinstance(value, str):
        _fail(field, value, "must be a size such as 512m or 1g")
    else:
        import fractions  # only when a size is given: keeps fractions/decimal off the no-op path

        m = _SIZE.match(value.strip())
        if not m:
            _fail(field, value, "not a size: use a number with an optional unit b, k, m, g, t or p (e.g. 512m, 1.5g)")
        n = int(fractions.Fraction(m.group(1)) * _UNITS[(m.group(2) or "").lower()])
    if n > MAX_SIZE:
        _fail(field, value, f"too large: at most {MAX_SIZE} bytes (8 EiB), the kernel's limit")
    return n


def size_or_unlimited(value: t.Any, field: str) -> int:
    """:func:`size`, plus ``-1``/``unlimited`` for "no limit" (memory_swap)."""
    if value in (-1, "-1", "unlimited"):
        return -1
    return size(value, field)


_DURATION_UNITS = {
    "ns": 1,
    "us": 1000,
    "µs": 1000,
    "μs": 1000,
    "ms": 1000_000,
    "s": 1000_000_000,
    "m": 60 * 1000_000_000,
    "h": 3600 * 1000_000_000,
}
_DURATION_PART = Pattern(r"(?a)(\d{1,30}(?:\.\d{0,30})?|\.\d{1,30})(ns|us|µs|μs|ms|s|m|h)")


def duration(value: t.Any, field: str) -> int:
    """Go's ``time.ParseDuration`` (``1m30s``, ``500ms``, ``1.5h``) -> nanoseconds; negative values refused."""
    if isinstance(value, bool) or not isinstance(value, str):
        _fail(field, value, "must be a duration string such as 30s, 1m30s or 500ms")
    text = value.strip()
    if text == "0":
        return 0
    if not text:
        _fail(field, value, "empty duration")
    import fractions
    pos, total = 0, fractions.Fraction(0)
    while pos < len(text):
        m = _DURATION_PART.match(text, pos)
        if not m:
            if _re().fullmatch(r"[\d.]+", text[pos:]):
                _fail(field, value, "missing unit in duration (use ns, us, ms, s, m or h, e.g. 30s)")
            _fail(field, value, "not a duration: use e.g. 30s, 1m30s or 500ms (units ns, us, ms, s, m, h)")
        total += fractions.Fraction(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if total > MAX_SIZE:
        _fail(field, value, "too long: at most about 292 years (Go's time.Duration)")
    return int(total)


_DECIMAL = Pattern(r"(?a)^-?(?:\d{1,20}(?:\.\d{0,20})?|\.\d{1,20})$")


def cpus(value: t.Any, field: str) -> int:
    """``1.5`` CPUs -> 1500000000 nano CPUs (Docker's NanoCPUs); 0 means no limit."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        _fail(field, value, "must be a number of CPUs such as 0.5 or 2")
    import fractions

    text = str(value).strip()
    if not _DECIMAL.match(text):
        _fail(field, value, "must be a number of CPUs such as 0.5 or 2")
    amount = fractions.Fraction(text)
    if amount < 0:
        _fail(field, value, "must not be negative")
    nano = amount * 10**9
    if nano.denominator != 1:
        _fail(field, value, "too precise: at most 9 decimal places")
    if nano == 0:
        return 0
    if nano < 10**7:
        _fail(field, value, "the smallest CPU limit is 0.01")
    available = sum(hi - lo + 1 for lo, hi in online("cpuset_cpus"))
    if nano > available * 10**9:
        _fail(field, value, f"the range of CPUs is 0.01 to {available}, as this host has {available} CPUs")
    return int(nano)


def string_list(value: t.Any, field: str) -> list[str]:
    """A command or entrypoint: a string is shlex-split (as community.docker's ``command_handling=correct``)."""
    if isinstance(value, str):
        import shlex

        try:
            return shlex.split(value)
        except ValueError as exc:
            _fail(field, value, f"cannot be split into arguments: {exc}")
    if not isinstance(value, (list, tuple)):
        _fail(field, value, "must be a string or a list of strings")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            _fail(f"{field}[{i}]", item, "must be a string")
        out.append(str(item))
    return out


def command(value: t.Any, field: str) -> list[str] | None:
    """An empty command means "use the image's CMD" (Docker cannot clear CMD), so it normalises to None."""
    args = string_list(value, field)
    return args or None


def _text_value(field: str, key: str, value: t.Any, shown: str | None = None) -> str:
    """A dict value for env/labels/sysctls: strings and integers only (YAML turns yes/1.10 into bool/float).
    An error shows *shown* instead of the value when given (secrets)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    _fail(
        f"{field}.{key}",
        value if shown is None else shown,
        "must be a string; quote values YAML would read as a boolean, a float or null (e.g. \"true\", \"1.10\")",
    )


_ENV_NAME_BAD = Pattern(r"[\s=]")

#: What results, diffs, ``inspect`` and error messages show instead of a ``secret_env`` value.
SECRET_MASK = "********"
#: The after side of a ``--diff`` for a secret whose value changed (the value itself is never shown).
SECRET_CHANGED = SECRET_MASK + " (changed)"
#: How the container record keeps a secret: ``hmac-sha256:<salt>:<HMAC-SHA256(salt, NAME=value)>``.
SEAL_PREFIX = "hmac-sha256:"


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


def seal(name: str, value: str, salt: str) -> str:
    """The record's form of one secret: keyed by the container's random *salt* (hex), bound to *name*."""
    import hashlib
    import hmac

    digest = hmac.new(bytes.fromhex(salt), f"{name}={value}".encode(), hashlib.sha256).hexdigest()
    return f"{SEAL_PREFIX}{salt}:{digest}"


def seal_secrets(secrets: t.Mapping[str, str], salt: str) -> dict[str, str]:
    """Plain ``secret_env`` values -> their seals (what the container record keeps)."""
    return {name: seal(name, value, salt) for name, value in secrets.items()}


def sealed_like(secrets: t.Mapping[str, str], recorded: t.Mapping[str, str] | None) -> dict[str, str]:
    """Plain *secrets* sealed with the salt of each *recorded* seal, so that equal values give equal seals
    (a name the record lacks gets a fresh salt: it differs anyway)."""
    import os

    out = {}
    for name, value in secrets.items():
        old = (recorded or {}).get(name)
        salt = old[len(SEAL_PREFIX):].partition(":")[0] if isinstance(old, str) and old.startswith(SEAL_PREFIX) \
            else ""
        out[name] = seal(name, value, salt if _is_hex(salt) else os.urandom(16).hex())
    return out


def _is_hex(text: str) -> bool:
    return bool(text) and len(text) % 2 == 0 and all(c in "0123456789abcdef" for c in text)


def is_sealed(name: str, value: str, sealed: t.Any) -> bool:
    """Whether plain *value* of secret *name* is the one *sealed* records."""
    import hmac

    return isinstance(sealed, str) and hmac.compare_digest(sealed_like({name: value}, {name: sealed})[name], sealed)


def mask_secrets(secrets: t.Mapping[str, t.Any] | None) -> dict[str, str]:
    """``{NAME: "********"}``: what a result shows of ``secret_env`` (plain or sealed)."""
    return {name: SECRET_MASK for name in secrets or {}}


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


def abs_path(value: t.Any, field: str) -> str:
    text = _str(value, field)
    if not text.startswith("/"):
        _fail(field, value, "must be an absolute path")
    return posixpath.normpath(text)


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


_CPUSET = Pattern(r"(?a)^\d{1,9}(?:-\d{1,9})?(?:,\d{1,9}(?:-\d{1,9})?)*$")


def parse_cpu_list(text: str) -> list[tuple[int, int]]:
    """The kernel's CPU/node list format (``0-3,6``) -> ``[(0, 3), (6, 6)]``; syntax not checked."""
    out = []
    for part in text.strip().split(","):
        if part:
            lo, _sep, hi = part.partition("-")
            out.append((int(lo), int(hi or lo)))
    return out


def online(field: str) -> list[tuple[int, int]]:
    """What the host has online for ``cpuset_cpus`` (CPUs) or ``cpuset_mems`` (memory nodes)."""
    import os

    try:
        with open(ONLINE_FILES[field], encoding="ascii") as fh:
            return parse_cpu_list(fh.read())
    except (OSError, ValueError):
        return [(0, 0)] if field == "cpuset_mems" else [(0, (os.cpu_count() or 1) - 1)]


def missing_from(wanted: list[tuple[int, int]], have: list[tuple[int, int]]) -> list[int]:
    """Numbers of *wanted* not in *have* (the first few; ranges are walked, never expanded)."""
    out: list[int] = []
    for lo, hi in wanted:
        n = lo
        while n <= hi and len(out) < 3:
            cover = next((h for a, h in have if a <= n <= h), None)
            if cover is None:
                out.append(n)
                n += 1
            else:
                n = cover + 1
    return out


def cpuset(value: t.Any, field: str) -> str:
    """``0-3,6``; ranges must ascend and name CPUs (memory nodes for ``cpuset_mems``) that are online.
    Empty means no restriction."""
    text = _str(value, field).replace(" ", "")
    if not text:
        return ""
    if not _CPUSET.match(text):
        _fail(field, value, "must be a list such as 0-3 or 0,2")
    wanted = parse_cpu_list(text)
    for lo, hi in wanted:
        if hi < lo:
            _fail(field, value, f"range {lo}-{hi} is descending")
    base = field.split("[", 1)[0]
    if base in ONLINE_FILES:
        have = online(base)
        gone = missing_from(wanted, have)
        if gone:
            what = "CPUs" if base == "cpuset_cpus" else "memory nodes"
            shown = ",".join(f"{a}-{b}" if b != a else str(a) for a, b in have)
            _fail(field, value, f"{what} {', '.join(map(str, gone))} not available on this host (online: {shown})")
    return text


def pids_limit(value: t.Any, field: str) -> int:
    """0 or less: no limit (normalised to 0); at most what the kernel's pids.max takes."""
    n = _int(value, field)
    if n > MAX_PIDS:
        _fail(field, value, f"must be at most {MAX_PIDS} (the kernel's pid limit), or 0 for no limit")
    return max(n, 0)


def cgroup_parent(value: t.Any, field: str) -> str | None:
    text = _str(value, field).strip()
    if not text:
        return None
    if ".." in text.split("/") or "\0" in text:
        _fail(field, value, "must not contain '..'")
    return posixpath.normpath(text) if text != "/" else "/"


ULIMIT_NAMES = (
    "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
    "rss", "rtprio", "rttime", "sigpending", "stack",
)  # fmt: skip


def ulimits(value: t.Any, field: str) -> list[dict[str, t.Any]]:
    """``["nofile:1024:2048", "nproc:512"]`` -> ``[{name, soft, hard}]`` sorted by name."""
    if not isinstance(value, (list, tuple)):
        _fail(field, value, "must be a list of name:soft[:hard] strings")
    out: dict[str, dict[str, t.Any]] = {}
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, str):
            _fail(where, item, "must be a name:soft[:hard] string such as nofile:1024:2048")
        parts = item.split(":")
        if len(parts) not in (2, 3):
            _fail(where, item, "must be name:soft[:hard], e.g. nofile:1024:2048")
        name = parts[0].strip().lower()
        if name not in ULIMIT_NAMES:
            _fail(where, item, f"unknown ulimit {parts[0]!r} (one of {', '.join(ULIMIT_NAMES)})")
        try:
            if any(len(p) > 20 for p in parts[1:]):
                raise ValueError(item)
            soft = int(parts[1])
            hard = int(parts[2]) if len(parts) == 3 else soft
        except ValueError:
            _fail(where, item, "limits must be integers (-1 for unlimited)")
        if soft < -1 or hard < -1:
            _fail(where, item, "limits must be -1 (unlimited) or more")
        if soft > MAX_SIZE or hard > MAX_SIZE:
            _fail(where, item, f"limits must be at most {MAX_SIZE} (-1 for unlimited)")
        if hard != -1 and (soft == -1 or soft > hard):
            _fail(where, item, "the soft limit must not exceed the hard limit")
        if name in out:
            _fail(where, item, f"ulimit {name} is given twice")
        out[name] = {"name": name, "soft": soft, "hard": hard}
    return [out[k] for k in sorted(out)]


#: Namespaced sysctls a container may set (Docker's ``ValidateSysctl``).
SYSCTL_IPC = (
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
    "kernel.shmmni", "kernel.shm_rmid_forced",
)  # fmt: skip
SYSCTL_PREFIXES = ("net.", "fs.mqueue.")


def sysctls(value: t.Any, field: str) -> dict[str, str]:
    if not isinstance(value, dict):
        _fail(field, value, "must be a dictionary of sysctl names to values")
    out = {}
    for key, val in value.items():
        name = str(key).strip().replace("/", ".")
        if name not in SYSCTL_IPC and not name.startswith(SYSCTL_PREFIXES):
            _fail(
                field,
                key,
                "not a namespaced sysctl a container may set "
                "(kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.*)",
            )
        out[name] = _text_value(field, name, val)
    return {k: out[k] for k in sorted(out)}


#: Linux capability names (without ``CAP_``), in kernel order.
CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE",
)  # fmt: skip


def capabilities(value: t.Any, field: str) -> list[str]:
    """``["net_admin", "CAP_SYS_TIME", "ALL"]`` -> sorted, unique ``["ALL", "CAP_NET_ADMIN", "CAP_SYS_TIME"]``."""
    if not isinstance(value, (list, tuple)):
        _fail(field, value, "must be a list of capability names")
    out = set()
    for i, item in enumerate(value):
        if not isinstance(item, str):
            _fail(f"{field}[{i}]", item, "must be a capability name such as NET_ADMIN")
        name = item.strip().upper()
        if name == "ALL":
            out.add("ALL")
            continue
        bare = name[4:] if name.startswith("CAP_") else name
        if bare not in CAPABILITIES:
            _fail(f"{field}[{i}]", item, "unknown capability")
        out.add("CAP_" + bare)
    return sorted(out)


_DEVICE_MODE = Pattern(r"^[rwm]{1,3}$")


def devices(value: t.Any, field: str) -> list[dict[str, str]]:
    """``host[:container[:perms]]`` (Docker's parseDevice) -> dicts, sorted by container path."""
    if not isinstance(value, (list, tuple)):
        _fail(field, value, "must be a list of host[:container[:permissions]] strings")
    out: dict[str, dict[str, str]] = {}
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, str) or not item:
            _fail(where, item, "must be a host[:container[:permissions]] string")
        parts = item.split(":")
        perms = "rwm"
        if len(parts) == 3:
            src, dst, perms = parts
        elif len(parts) == 2:
            src, dst = parts
            if _DEVICE_MODE.match(dst) and len(set(dst)) == len(dst):
                dst, perms = src, dst
        elif len(parts) == 1:
            src = dst = parts[0]
        else:
            _fail(where, item, "too many ':' (host[:container[:permissions]])")
        if not _DEVICE_MODE.match(perms) or len(set(perms)) != len(perms):
            _fail(where, item, "permissions must be a combination of r, w and m")
        if not src.startswith("/") or not dst.startswith("/"):
            _fail(where, item, "device paths must be absolute")
        dst = posixpath.normpath(dst)
        if dst in out:
            _fail(where, item, f"two devices for {dst}")
        perms = "".join(c for c in "rwm" if c in perms)
        out[dst] = {"path_on_host": posixpath.normpath(src), "path_in_container": dst, "cgroup_permissions": perms}
    return [out[k] for k in sorted(out)]


#: Options Docker's ``mount.ParseTmpfsOptions`` accepts for ``--tmpfs``.
TMPFS_FLAGS = frozenset(
    "ro rw suid nosuid dev nodev exec noexec sync async dirsync remount mand nomand atime noatime diratime "
    "nodiratime bind rbind unbindable runbindable private rprivate shared rshared slave rslave relatime "
    "norelatime strictatime nostrictatime".split()
)
TMPFS_KEYS = frozenset({"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol"})


def tmpfs(value: t.Any, field: str) -> dict[str, str]:
    """``["/run", "/tmp:size=64m,mode=1777"]`` -> ``{"/run": "", "/tmp": "size=64m,mode=1777"}``."""
    if not isinstance(value, (list, tuple)):
        _fail(field, value, "must be a list of /path[:options] strings")
    out: dict[str, str] = {}
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, str):
            _fail(where, item, "must be a /path[:options] string")
        path, _sep, opts = item.partition(":")
        if not path.startswith("/"):
            _fail(where, item, "the mount point must be an absolute path")
        path = posixpath.normpath(path)
        if path == "/":
            _fail(where, item, "cannot mount a tmpfs over /")
        words = [w.strip() for w in opts.split(",") if w.strip()]
        for word in words:
            key, eq, val = word.partition("=")
            if (eq and key not in TMPFS_KEYS) or (not eq and word not in TMPFS_FLAGS):
                _fail(where, item, f"unknown tmpfs option {word!r}")
            if key == "size" and eq:
                size(val, where)
            if key == "mode" and eq and not _re().fullmatch(r"[0-7]{1,4}", val):
                _fail(where, item, f"tmpfs mode {val!r} is not octal")
            if key in ("uid", "gid") and eq and not (val.isascii() and val.isdigit() and int(val) < (1 << 32) - 1):
                _fail(where, item, f"tmpfs {key} {val!r} must be a number below 4294967295")
            if key in ("nr_inodes", "nr_blocks") and eq:
                size(val, where)
        if path in out:
            _fail(where, item, f"two tmpfs mounts on {path}")
        out[path] = ",".join(words)
    return {k: out[k] for k in sorted(out)}


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


_BOOL_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def security_opts(value: t.Any, field: str) -> dict[str, t.Any]:
    """``no-new-privileges[:true|false]``, ``seccomp=unconfined|PATH``, ``systempaths=unconfined``,
    ``apparmor=unconfined`` -> ``{"no-new-privileges": bool, "seccomp": "unconfined"|PATH, ...}``.

    A seccomp PATH is replaced by the parsed profile in :func:`normalise_options`.  SELinux labels and
    AppArmor profiles are refused: Berth applies neither.
    """
    if not isinstance(value, (list, tuple)):
        _fail(field, value, "must be a list of strings such as no-new-privileges or seccomp=unconfined")
    out: dict[str, t.Any] = {}
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, str):
            _fail(where, item, "must be a string")
        key, sep, val = item.partition("=")
        if not sep and ":" in item:
            key, _c, val = item.partition(":")
            sep = ":"
        key = key.strip()
        if key == "no-new-privileges":
            flag = _BOOL_WORDS.get(val.strip().lower()) if sep else True
            if flag is None:
                _fail(where, item, "no-new-privileges takes true or false")
            out[key] = flag
        elif key == "seccomp" and sep == "=" and val:
            out[key] = "unconfined" if val == "unconfined" else val
        elif key == "systempaths" and sep == "=":
            if val != "unconfined":
                _fail(where, item, "only systempaths=unconfined is supported")
            out[key] = val
        elif key == "apparmor" and sep == "=":
            if val != "unconfined":
                _fail(where, item, "Berth does not apply AppArmor profiles; only apparmor=unconfined is accepted")
            out[key] = val
        elif key == "label":
            _fail(where, item, "Berth does not support SELinux labels")
        else:
            _fail(
                where,
                item,
                "unknown security option (no-new-privileges[:true|false], seccomp=unconfined|PATH, "
                "systempaths=unconfined, apparmor=unconfined)",
            )
    return {k: out[k] for k in sorted(out)}


_NAME = Pattern(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


def _container_ref(mode: str, field: str, value: t.Any) -> str:
    """``container:<name or id>`` with a non-empty, valid target."""
    target = mode[len("container:") :]
    if not target or not _NAME.match(target):
        _fail(field, value, "container:<name or ID> needs a valid container name or ID")
    return "container:" + target


def network_mode(value: t.Any, field: str) -> str:
    """``host``, ``none``, ``bridge`` (= ``default``), ``container:<name>``, or a network name."""
    text = _str(value, field).strip()
    if text in ("", "default"):
        return DEFAULT_NETWORK_MODE
    if text.startswith("container:"):
        return _container_ref(text, field, value)
    if text in ("host", "none", "bridge") or _NAME.match(text):
        return text
    _fail(field, value, "must be host, none, bridge, default, container:<name> or a network name")


def ipc_mode(value: t.Any, field: str) -> str:
    text = _str(value, field).strip()
    if text in ("", "private"):
        return "private"
    if text in ("shareable", "host", "none"):
        return text
    if text.startswith("container:"):
        return _container_ref(text, field, value)
    _fail(field, value, "must be private, shareable, host, none or container:<name>")


def pid_mode(value: t.Any, field: str) -> str:
    text = _str(value, field).strip()
    if text in ("", "host"):
        return text
    if text.startswith("container:"):
        return _container_ref(text, field, value)
    _fail(field, value, "must be host or container:<name> (leave it out for a private PID namespace)")


def uts(value: t.Any, field: str) -> str:
    text = _str(value, field).strip()
    if text not in ("", "host"):
        _fail(field, value, "must be host (leave it out for a private UTS namespace)")
    return text


def userns_mode(value: t.Any, field: str) -> str:
    """``""`` (the engine's ``userns-remap`` decides), ``host`` (never a user namespace, Docker's
    ``--userns=host``) or ``private`` (a user namespace with the remap ranges, even when the engine does
    not remap by default). ``host`` is kept as given: with remapping on it differs from the default."""
    text = _str(value, field).strip()
    if text not in ("", "host", "private"):
        _fail(field, value, "must be host or private (leave it out to follow the engine's userns-remap)")
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


# ====================================================================== the table
def _opt(name: str, **kw: t.Any) -> ContainerOption:
    return ContainerOption(name, **kw)


CONTAINER_OPTIONS = OptionTable(
    options=(
        _opt("name", normaliser=container_name, comparable=False, doc="Name of the container."),
        _opt("image", normaliser=image, comparable=False, doc="Image to create the container from."),
        _opt("command", kind="raw", normaliser=command, comparison_type="list",
             doc="Command (arguments) to run; replaces the image's CMD."),
        _opt("entrypoint", kind="raw", normaliser=string_list, comparison_type="list",
             doc="Entrypoint; replaces the image's ENTRYPOINT and clears its CMD."),
        _opt("env", kind="dict", normaliser=env, comparison="strict",
             doc="Environment variables, merged over the image's ENV."),
        _opt("env_file", kind="path", comparable=False, doc="File of KEY=VALUE lines merged below env."),
        _opt("secret_env", kind="dict", no_log=True, normaliser=secret_env, comparison="strict", engine_default={},
             doc="Secret environment variables: given to the process only, compared by a salted hash."),
        _opt("user", normaliser=user, doc="User (and group) to run as."),
        _opt("working_dir", normaliser=working_dir, doc="Working directory of the process."),
        _opt("hostname", normaliser=hostname, doc="Host name of the container."),
        _opt("domainname", normaliser=domainname, engine_default="", doc="Domain name of the container."),
        _opt("labels", kind="dict", normaliser=labels, comparison="strict",
             doc="Labels, merged over the image's labels."),
        _opt("restart_policy", choices=RESTART_POLICIES, normaliser=restart_policy, updatable=True,
             engine_default="no", doc="When the monitor restarts the container."),
        _opt("restart_retries", kind="int", normaliser=int_range(0), updatable=True, engine_default=0,
             doc="Restart attempts with restart_policy=on-failure."),
        _opt("memory", normaliser=size, updatable=True, engine_default=0, doc="Memory limit."),
        _opt("memory_reservation", normaliser=size, updatable=True, engine_default=0,
             doc="Memory soft limit."),
        _opt("memory_swap", normaliser=size_or_unlimited, updatable=True, engine_default=0,
             doc="Memory plus swap limit."),
        _opt("cpus", kind="float", normaliser=cpus, updatable=True, engine_default=0, doc="CPU quota in CPUs."),
        _opt("cpu_shares", kind="int", normaliser=int_range(2, 262144, zero=True), updatable=True,
             engine_default=0, doc="Relative CPU weight."),
        _opt("cpu_period", kind="int", normaliser=int_range(1000, 1000000, zero=True), updatable=True,
             engine_default=0, doc="CFS period in microseconds."),
        _opt("cpu_quota", kind="int", normaliser=int_range(1000, MAX_CPU_QUOTA, zero=True), updatable=True,
             engine_default=0,
             doc="CFS quota in microseconds."),
        _opt("cpuset_cpus", normaliser=cpuset, updatable=True, engine_default="", doc="CPUs to run on."),
        _opt("cpuset_mems", normaliser=cpuset, updatable=True, engine_default="", doc="Memory nodes to use."),
        _opt("pids_limit", kind="int", normaliser=pids_limit, updatable=True,
             engine_default=0, doc="Maximum number of processes."),
        _opt("blkio_weight", kind="int", normaliser=int_range(10, 1000, zero=True), updatable=True,
             engine_default=0, doc="Relative block I/O weight."),
        _opt("cgroup_parent", normaliser=cgroup_parent, doc="Parent cgroup of the container's cgroup."),
        _opt("ulimits", kind="list", elements="str", normaliser=ulimits, comparison="strict",
             comparison_type="set(dict)", engine_default=[], doc="Resource limits, name:soft[:hard]."),
        _opt("sysctls", kind="dict", normaliser=sysctls, comparison="strict", engine_default={},
             doc="Namespaced kernel parameters."),
        _opt("capabilities", kind="list", elements="str", aliases=("cap_add",), normaliser=capabilities,
             comparison="strict", comparison_type="set", engine_default=[], doc="Capabilities to add."),
        _opt("cap_drop", kind="list", elements="str", normaliser=capabilities, comparison="strict",
             comparison_type="set", engine_default=[], doc="Capabilities to drop."),
        _opt("privileged", kind="bool", normaliser=_bool, engine_default=False, doc="Give extended privileges."),
        _opt("read_only", kind="bool", normaliser=_bool, engine_default=False,
             doc="Mount the root file system read-only."),
        _opt("shm_size", normaliser=lambda v, f: size(v, f) or DEFAULT_SHM_SIZE, engine_default=DEFAULT_SHM_SIZE,
             doc="Size of /dev/shm."),
        _opt("init", kind="bool", normaliser=_bool, engine_default=False,
             doc="Run an init process as PID 1 that forwards signals and reaps zombies."),
        _opt("stop_signal", normaliser=signal_name, doc="Signal that stops the container."),
        _opt("stop_timeout", kind="int", normaliser=int_range(-1), comparison="ignore",
             engine_default=DEFAULT_STOP_TIMEOUT, doc="Seconds to wait before killing on stop."),
        _opt("healthcheck", kind="dict", normaliser=healthcheck, doc="Health check, merged over the image's."),
        _opt("log_driver", choices=LOG_DRIVERS, normaliser=log_driver, engine_default="json-file",
             doc="Logging driver."),
        _opt("log_options", kind="dict", aliases=("log_opt",), normaliser=log_options, comparison="strict",
             engine_default={}, doc="Options of the logging driver."),
        _opt("runtime", normaliser=runtime_name, doc="OCI runtime to use."),
        _opt("auto_remove", kind="bool", normaliser=_bool, engine_default=False,
             doc="Remove the container when it exits."),
        _opt("security_opts", kind="list", elements="str", normaliser=security_opts, comparison="strict",
             comparison_type="dict", engine_default={}, doc="Security options."),
        _opt("network_mode", normaliser=network_mode, engine_default=UNSET_NETWORK_MODE, doc="Network mode."),
        _opt("userns_mode", normaliser=userns_mode, engine_default="", doc="User namespace mode."),
        _opt("tty", kind="bool", normaliser=_bool, engine_default=False, doc="Allocate a pseudo-TTY."),
        _opt("interactive", kind="bool", normaliser=_bool, engine_default=False, doc="Keep stdin open."),
        _opt("devices", kind="list", elements="str", normaliser=devices, comparison="strict",
             comparison_type="set(dict)", engine_default=[], doc="Host devices to add."),
        _opt("tmpfs", kind="list", elements="str", normaliser=tmpfs, comparison="strict", comparison_type="dict",
             engine_default={}, doc="tmpfs mounts, /path[:options]."),
        _opt("oom_killer", kind="bool", normaliser=_bool, engine_default=False,
             doc="Disable the OOM killer for the container."),
        _opt("oom_score_adj", kind="int", normaliser=int_range(-1000, 1000), engine_default=0,
             doc="OOM score adjustment."),
        _opt("ipc_mode", normaliser=ipc_mode, engine_default=DEFAULT_IPC_MODE, doc="IPC namespace mode."),
        _opt("pid_mode", normaliser=pid_mode, engine_default="", doc="PID namespace mode."),
        _opt("uts", normaliser=uts, engine_default="", doc="UTS namespace mode."),
        _opt("groups", kind="list", elements="str", normaliser=groups, comparison="strict", comparison_type="set",
             engine_default=[], doc="Supplementary groups."),
    )
)  # fmt: skip

#: The options ``ContainerService.update`` changes in place.
UPDATABLE = tuple(o.name for o in CONTAINER_OPTIONS if o.updatable)

#: Options whose effective value may come from the image config (Docker's merge rules).
IMAGE_INHERITED = ("command", "entrypoint", "env", "labels", "user", "working_dir", "stop_signal", "healthcheck")

# ---------------------------------------------------------------- the module tables
_TASK_OPTIONS = (
    Option("state", default="started", choices=STATES, doc="Desired state of the container."),
    Option("pull", default="missing", choices=PULL_POLICIES, doc="When to pull the image."),
    Option("recreate", kind="bool", default=False, doc="Recreate even when nothing differs."),
    Option("restart", kind="bool", default=False, doc="Restart a running container (state started/healthy)."),
    Option("comparisons", kind="dict", doc="Per-option comparison modes (strict, ignore, allow_more_present)."),
    Option("force_kill", kind="bool", default=False, aliases=("forcekill",), doc="Kill instead of stopping."),
    Option("healthy_wait_timeout", kind="float", default=300.0, doc="Seconds state=healthy waits."),
    Option("detach", kind="bool", default=True, doc="Do not wait for the container to exit."),
    Option("paused", kind="bool", doc="Whether a started container is paused."),
)


def _required_name(table: OptionTable) -> tuple[Option, ...]:
    return tuple(o.replace(required=True) if o.name == "name" else o for o in table)


CONTAINER_TASK_OPTIONS = OptionTable(options=_required_name(CONTAINER_OPTIONS) + _TASK_OPTIONS + ENGINE_OPTIONS)

CONTAINER_INFO_OPTIONS = OptionTable(
    options=(Option("name", required=True, doc="Name or ID of the container to inspect."),) + ENGINE_OPTIONS
)

CONTAINER_EXEC_OPTIONS = OptionTable(
    options=(
        Option("container", required=True, doc="Name or ID of the running container."),
        Option("argv", kind="list", elements="str", doc="Command and arguments, not split further."),
        Option("command", doc="Command line, split like a shell would."),
        Option("chdir", doc="Working directory of the command."),
        Option("user", doc="User (and group) to run the command as."),
        Option("env", kind="dict", doc="Extra environment variables."),
        Option("tty", kind="bool", default=False, doc="Allocate a pseudo-TTY."),
        Option("privileged", kind="bool", default=False, doc="Run with all capabilities."),
        Option("detach", kind="bool", default=False, doc="Do not wait for the command."),
        Option("stdin", doc="Text sent to the command's standard input."),
        Option("stdin_add_newline", kind="bool", default=True, doc="Append a newline to stdin."),
        Option("strip_empty_ends", kind="bool", default=True, doc="Strip empty lines at the end of the output."),
    )
    + ENGINE_OPTIONS,
    mutually_exclusive=(("argv", "command"),),
    required_one_of=(("argv", "command"),),
)


# ====================================================================== normalise a task
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
        raise InvalidOption("security_opts", f"seccomp={path}", f"cannot read the profile: {_read_error(exc)}") from None
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


# ====================================================================== effective values and differences
def _image_env(config: t.Mapping[str, t.Any]) -> dict[str, str]:
    out = {}
    for item in config.get("Env") or []:
        key, _sep, value = str(item).partition("=")
        out[key] = value
    return out


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
