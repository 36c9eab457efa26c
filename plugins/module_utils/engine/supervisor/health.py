# SPDX-License-Identifier: GPL-3.0-or-later
"""Docker's HEALTHCHECK semantics (moby ``daemon/health.go``), as pure scheduling + state.

* ``test``: ``["CMD", arg...]`` runs the arguments, ``["CMD-SHELL", "cmd"]`` runs ``/bin/sh -c cmd``,
  ``["NONE"]`` (or no test) disables the check.
* Durations (nanoseconds, 0 = default): interval 30 s, timeout 30 s, start_period 0, start_interval 5 s;
  retries 3 (0 = default).
* Status ``starting`` until the first success (``healthy``) or until *retries* failures in a row
  (``unhealthy``); a success resets ``FailingStreak``. While still ``starting`` and within the start
  period, failures are logged but not counted.
* The first probe runs one interval after the start; the next one an interval after the previous one
  ended. The interval is ``start_interval`` while the container is still ``starting`` inside its start
  period, ``interval`` otherwise.
* A probe that outlives its timeout counts as a failure with exit code -1 and the output
  ``Health check exceeded timeout (30s)``. Output is stdout and stderr together, cut at 4096 bytes
  (``...`` appended when cut). ``Log`` keeps the last 5 results ``{Start, End, ExitCode, Output}``.

The monitor owns one :class:`HealthChecker` per running container and runs the probe through
``runtime.exec`` in a worker process (``begin()`` ... ``record()``); ``check()`` does both with a blocking
*run* callable. Nothing here touches a process or the clock except through the injected callables, so
the tests drive it with a fake clock.

Imported by every monitor: ``typing`` is for type checkers only (see ``runtime/__init__``).
"""
from __future__ import annotations

import time

from .logs import rfc3339_nano

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    Runner = t.Callable[[t.List[str], float], t.Tuple[int, bytes]]

SECOND = 1_000_000_000
DEFAULT_INTERVAL = 30 * SECOND
DEFAULT_TIMEOUT = 30 * SECOND
DEFAULT_START_PERIOD = 0
DEFAULT_START_INTERVAL = 5 * SECOND
DEFAULT_RETRIES = 3
MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096

STARTING, HEALTHY, UNHEALTHY = "starting", "healthy", "unhealthy"

#: normalised option key -> Docker API key (both spellings are accepted).
_KEYS = {"test": "Test", "interval": "Interval", "timeout": "Timeout", "start_period": "StartPeriod",
         "start_interval": "StartInterval", "retries": "Retries"}
_DEFAULTS = {"interval": DEFAULT_INTERVAL, "timeout": DEFAULT_TIMEOUT, "start_period": DEFAULT_START_PERIOD,
             "start_interval": DEFAULT_START_INTERVAL, "retries": DEFAULT_RETRIES}


def normalise(config: t.Mapping[str, t.Any] | None) -> dict[str, t.Any] | None:
    """``{test, interval, timeout, start_period, start_interval, retries}`` with defaults applied, from
    the normalised container option or Docker's ``Healthcheck`` keys; None when there is no check."""
    if not config:
        return None
    out: dict[str, t.Any] = {}
    for key, docker_key in _KEYS.items():
        value = config.get(key, config.get(docker_key))
        out[key] = value
    test = list(out["test"] or [])
    if not test or test[0] == "NONE":
        return None
    if test[0] not in ("CMD", "CMD-SHELL") or len(test) < 2:
        raise ValueError(f"healthcheck test {test!r} must start with CMD, CMD-SHELL or NONE")
    out["test"] = test
    for key, default in _DEFAULTS.items():
        value = out[key]
        out[key] = int(value) if value else default
    return out


def command(test: t.Sequence[str]) -> list[str]:
    """The process arguments for a test (``CMD-SHELL`` runs ``/bin/sh -c``, as Docker on Linux)."""
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", test[1]]
    return list(test[1:])


def initial(config: t.Mapping[str, t.Any] | None, previous: t.Mapping[str, t.Any] | None = None
            ) -> dict[str, t.Any] | None:
    """``State.Health`` at a (re)start: ``starting``, streak 0, the earlier log kept; None without a check."""
    if normalise(config) is None:
        return None
    return {"Status": STARTING, "FailingStreak": 0, "Log": list((previous or {}).get("Log") or [])}


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String()``: ``30s``, ``1m30s``, ``500ms``, ``1.5s``, ``2h0m0s``."""
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns < SECOND:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _fraction(ns, size) + unit
    hours, rest = divmod(ns, 3600 * SECOND)
    minutes, rest = divmod(rest, 60 * SECOND)
    text = _fraction(rest, SECOND) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


def _fraction(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}." + f"{frac:0{digits}d}".rstrip("0")


def truncate_output(output: bytes) -> str:
    if len(output) > MAX_OUTPUT:
        return output[:MAX_OUTPUT].decode("utf-8", "replace") + "..."
    return output.decode("utf-8", "replace")


class HealthChecker:
    """Schedule and judge the probes of one running container.

    *run(argv, timeout_seconds) -> (exit_code, output)* raises ``TimeoutError`` when the probe outlived
    *timeout_seconds*. *now* is a monotonic clock in seconds (scheduling, start period); *wall* gives
    nanoseconds since the epoch (the ``Start``/``End`` of log entries). *health* continues an existing
    ``State.Health`` (its log is kept).
    """

    def __init__(
        self,
        config: t.Mapping[str, t.Any],
        run: Runner | None = None,
        now: t.Callable[[], float] = time.monotonic,
        wall: t.Callable[[], int] = time.time_ns,
        health: t.Mapping[str, t.Any] | None = None,
    ) -> None:
        cfg = normalise(config)
        if cfg is None:
            raise ValueError("no healthcheck configured")
        self.config = cfg
        self.argv = command(cfg["test"])
        self.timeout = cfg["timeout"] / SECOND
        self._run = run
        self._now = now
        self._wall = wall
        self.started = now()
        previous = dict(health) if health else {}
        self.health: dict[str, t.Any] = {"Status": STARTING, "FailingStreak": 0,
                                         "Log": list(previous.get("Log") or [])}
        self.in_flight = False
        self.next_due = self.started + self._interval()

    def _interval(self) -> float:
        """moby ``getInterval``: start_interval while starting inside the start period."""
        cfg = self.config
        in_start_period = (self._now() - self.started) * SECOND < cfg["start_period"]
        if in_start_period and self.health["Status"] == STARTING:
            return float(cfg["start_interval"] / SECOND)
        return float(cfg["interval"] / SECOND)

    @property
    def status(self) -> str:
        return str(self.health["Status"])

    def due(self, now: float | None = None) -> bool:
        """A probe should start now (never while one is running)."""
        return not self.in_flight and (self._now() if now is None else now) >= self.next_due

    def begin(self) -> tuple[list[str], float, float, int]:
        """Start a probe: ``(argv, timeout_seconds, monotonic_start, wall_start_ns)`` for :meth:`record`."""
        self.in_flight = True
        return list(self.argv), self.timeout, self._now(), self._wall()

    def record(self, exit_code: int, output: bytes, started: float, start_ns: int,
               timed_out: bool = False) -> dict[str, t.Any]:
        """Judge one probe result (moby ``handleProbeResult``); returns the new ``State.Health``."""
        self.in_flight = False
        end_ns = self._wall()
        if timed_out:
            exit_code = -1
            text = f"Health check exceeded timeout ({go_duration(self.config['timeout'])})"
        else:
            text = truncate_output(output)
        h = self.health
        log = list(h["Log"]) + [{"Start": rfc3339_nano(start_ns), "End": rfc3339_nano(end_ns),
                                 "ExitCode": exit_code, "Output": text}]
        status, streak = h["Status"], int(h["FailingStreak"])
        if exit_code == 0:
            status, streak = HEALTHY, 0
        else:
            counts = True
            if status == STARTING and (started - self.started) * SECOND < self.config["start_period"]:
                counts = False  # still inside the start period: log it, do not count it
            if counts:
                streak += 1
                if streak >= self.config["retries"]:
                    status = UNHEALTHY
        self.health = {"Status": status, "FailingStreak": streak, "Log": log[-MAX_LOG_ENTRIES:]}
        self.next_due = self._now() + self._interval()
        return self.health

    def skip(self) -> None:
        """The probe did not run (the container is paused): try again one interval later."""
        self.in_flight = False
        self.next_due = self._now() + self._interval()

    def check(self) -> dict[str, t.Any]:
        """Run one probe now with the blocking *run* callable and record it."""
        if self._run is None:
            raise ValueError("HealthChecker.check() needs a run callable")
        argv, timeout, started, start_ns = self.begin()
        try:
            code, output = self._run(argv, timeout)
        except TimeoutError:
            return self.record(-1, b"", started, start_ns, timed_out=True)
        except BaseException:
            self.in_flight = False
            raise
        return self.record(code, output, started, start_ns)
