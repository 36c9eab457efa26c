# SPDX-License-Identifier: GPL-3.0-or-later
"""runtime.security: capability tables, Docker's cap-add/cap-drop semantics, rlimit checks, and the
order of the capability calls (recorded by a fake)."""
from __future__ import annotations

import resource
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.errors import InvalidOption
from ansible_collections.berth.engine.plugins.module_utils.engine.runtime import security as sec

DEFAULTS = list(sec.DOCKER_DEFAULT_CAPS)
ALL_40 = [sec.CAP_NAMES[b] for b in range(41)]


# -- tables ------------------------------------------------------------------------------------------


def test_capability_table_covers_bits_0_to_40_once() -> None:
    assert sorted(sec.CAPABILITIES.values()) == list(range(41))
    assert len(set(sec.CAPABILITIES)) == 41


@pytest.mark.parametrize(
    "name, bit",
    [
        ("CAP_CHOWN", 0),
        ("CAP_DAC_READ_SEARCH", 2),
        ("CAP_KILL", 5),
        ("CAP_SETPCAP", 8),
        ("CAP_NET_BIND_SERVICE", 10),
        ("CAP_NET_ADMIN", 12),
        ("CAP_NET_RAW", 13),
        ("CAP_SYS_CHROOT", 18),
        ("CAP_SYS_PTRACE", 19),
        ("CAP_SYS_ADMIN", 21),
        ("CAP_SYS_RESOURCE", 24),
        ("CAP_MKNOD", 27),
        ("CAP_AUDIT_WRITE", 29),
        ("CAP_SETFCAP", 31),
        ("CAP_SYSLOG", 34),
        ("CAP_AUDIT_READ", 37),
        ("CAP_PERFMON", 38),
        ("CAP_BPF", 39),
        ("CAP_CHECKPOINT_RESTORE", 40),
    ],
)
def test_capability_bits(name: str, bit: int) -> None:
    assert sec.CAPABILITIES[name] == bit
    assert sec.CAP_NAMES[bit] == name


def test_docker_default_caps() -> None:
    assert set(DEFAULTS) == {
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
        "CAP_AUDIT_WRITE",
    }
    assert len(DEFAULTS) == 14


@pytest.mark.parametrize(
    "names, mask",
    [
        ([], 0),
        (["CAP_CHOWN"], 0x1),
        (["chown", "KILL"], 0x21),
        (["cap_sys_admin", "CAP_NET_ADMIN"], (1 << 21) | (1 << 12)),
        (["CAP_CHECKPOINT_RESTORE"], 1 << 40),
        (["CHOWN", "chown"], 0x1),
    ],
)
def test_cap_names_to_mask(names: list[str], mask: int) -> None:
    assert sec.cap_names_to_mask(names) == mask


def test_mask_round_trip_and_unknown_bits() -> None:
    assert sec.mask_to_cap_names(sec.cap_names_to_mask(DEFAULTS)) == sorted(DEFAULTS, key=sec.CAPABILITIES.get)
    assert sec.mask_to_cap_names((1 << 41) | 1) == ["CAP_CHOWN", "CAP_UNKNOWN_41"]
    assert sec.mask_to_cap_names(0x1FFFFFFFFFF) == ALL_40


def test_unknown_capability_names_the_field() -> None:
    with pytest.raises(InvalidOption) as exc:
        sec.cap_names_to_mask(["CAP_FLY"], field="process.capabilities.bounding")
    assert exc.value.field == "process.capabilities.bounding"
    assert exc.value.value == "CAP_FLY"


def test_last_cap(tmp_path) -> None:
    f = tmp_path / "cap_last_cap"
    f.write_text("37\n")
    assert sec.last_cap(str(f)) == 37
    assert sec.last_cap(str(tmp_path / "missing")) == 40
    assert sec.all_caps(last=37) == ALL_40[:38]
    assert 0 < sec.last_cap() <= 63  # the running kernel


def test_all_caps_is_what_the_bounding_set_holds(tmp_path) -> None:
    """moby's caps.GetAllCapabilities: --privileged gets the engine's bounding set, not the kernel's list."""
    status = tmp_path / "status"
    status.write_text("Name:\tberth\nCapPrm:\t000001fffeffffff\nCapBnd:\t000001fffefcffff\nCapAmb:\t0\n")
    mask = sec.bounding_set(str(status))
    assert mask == 0x1FFFEFCFFFF
    missing = {"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_RESOURCE"}
    assert sec.all_caps(last=40, bounding=mask) == [c for c in ALL_40 if c not in missing]
    assert sec.all_caps(last=40) == ALL_40  # a described kernel, no bounding set given: all of them
    assert sec.bounding_set(str(tmp_path / "missing")) is None
    here = sec.bounding_set()  # this process: all_caps() without arguments follows it
    assert here is not None and sec.all_caps() == sec.mask_to_cap_names(here & ((1 << (sec.last_cap() + 1)) - 1))


# -- Docker's cap_add / cap_drop -------------------------------------------------------------------


@pytest.mark.parametrize(
    "add, drop, privileged, expected",
    [
        (None, None, False, DEFAULTS),
        ([], [], False, DEFAULTS),
        (["NET_ADMIN"], None, False, DEFAULTS + ["CAP_NET_ADMIN"]),
        (["net_admin"], None, False, DEFAULTS + ["CAP_NET_ADMIN"]),
        (["cap_sys_admin", "Sys_Ptrace"], None, False, DEFAULTS + ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"]),
        (["CHOWN"], None, False, DEFAULTS),  # already there: no duplicate
        (None, ["MKNOD"], False, [c for c in DEFAULTS if c != "CAP_MKNOD"]),
        (None, ["cap_net_raw", "setfcap"], False, [c for c in DEFAULTS if c not in ("CAP_NET_RAW", "CAP_SETFCAP")]),
        (None, ["NET_ADMIN"], False, DEFAULTS),  # dropping one we do not have
        (["SYS_TIME"], ["KILL"], False, [c for c in DEFAULTS if c != "CAP_KILL"] + ["CAP_SYS_TIME"]),
        (["ALL"], None, False, ALL_40),
        (["all"], ["NET_ADMIN", "sys_admin"], False,
         [c for c in ALL_40 if c not in ("CAP_NET_ADMIN", "CAP_SYS_ADMIN")]),
        (None, ["ALL"], False, []),
        (["NET_BIND_SERVICE", "chown"], ["ALL"], False, ["CAP_NET_BIND_SERVICE", "CAP_CHOWN"]),
        (["ALL"], ["ALL"], False, ALL_40),  # add ALL wins, as in moby
        (None, None, True, ALL_40),
        (["NET_ADMIN"], ["ALL"], True, ALL_40),  # privileged ignores add/drop
    ],
)
def test_resolve_caps_docker_semantics(add, drop, privileged, expected) -> None:
    assert sec.resolve_caps(add, drop, privileged, last=40) == expected


def test_resolve_caps_privileged_follows_the_kernel() -> None:
    assert sec.resolve_caps(None, None, True, last=37) == ALL_40[:38]
    assert sec.resolve_caps(["ALL"], ["CHOWN"], False, last=37) == ALL_40[1:38]


@pytest.mark.parametrize("add, drop, field, value", [
    (["FOO"], None, "cap_add", "FOO"),
    (None, ["NET_ADMIN", "cap_bar"], "cap_drop", "cap_bar"),
    (["ALL", "nope"], None, "cap_add", "nope"),
])
def test_resolve_caps_unknown_name(add, drop, field, value) -> None:
    with pytest.raises(InvalidOption) as exc:
        sec.resolve_caps(add, drop, False, last=40)
    assert (exc.value.field, exc.value.value) == (field, value)
    assert "unknown capability" in str(exc.value)


# -- /proc/<pid>/status ------------------------------------------------------------------------------

STATUS = """Name:\tsh
CapInh:\t0000000000000000
CapPrm:\t00000000a80425fb
CapEff:\t00000000a80425fb
CapBnd:\t00000000a80425fb
CapAmb:\t0000000000000400
NoNewPrivs:\t1
"""


def test_parse_status_caps() -> None:
    caps = sec.parse_status_caps(STATUS)
    assert sorted(caps["effective"]) == sorted(DEFAULTS)  # 0xa80425fb is Docker's default set
    assert caps["permitted"] == caps["bounding"] == caps["effective"]
    assert caps["inheritable"] == []
    assert caps["ambient"] == ["CAP_NET_BIND_SERVICE"]


def test_read_caps_of_this_process() -> None:
    caps = sec.read_caps()
    assert set(caps) == {"effective", "permitted", "inheritable", "bounding", "ambient"}
    assert set(caps["effective"]) <= set(caps["permitted"])


# -- apply_capabilities: the order of the calls ------------------------------------------------------


class RecordingCaps:
    def __init__(self, effective: int, permitted: int, inheritable: int = 0, bounding: int = (1 << 41) - 1):
        self.state = [effective, permitted, inheritable]
        self.bounding = bounding
        self.calls: list[tuple] = []

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0) -> int:
        self.calls.append(("prctl", option, arg2, arg3))
        if option == sec.PR_CAPBSET_READ:
            return 1 if self.bounding & (1 << arg2) else 0
        if option == sec.PR_CAPBSET_DROP:
            self.bounding &= ~(1 << arg2)
        return 0

    def capget(self) -> tuple[int, int, int]:
        self.calls.append(("capget",))
        return tuple(self.state)  # type: ignore[return-value]

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        self.calls.append(("capset", effective, permitted, inheritable))
        self.state = [effective, permitted, inheritable]


def _significant(calls: list[tuple]) -> list[tuple]:
    return [c for c in calls if not (c[0] == "prctl" and c[1] == sec.PR_CAPBSET_READ)]


def test_apply_capabilities_order_and_values() -> None:
    fake = RecordingCaps(effective=(1 << 41) - 1, permitted=(1 << 41) - 1)
    want = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    mask = sec.cap_names_to_mask(want)
    sec.apply_capabilities(
        {"bounding": want, "effective": want, "permitted": want, "inheritable": [], "ambient": []},
        fake, last=40,
    )
    calls = _significant(fake.calls)
    assert calls[0] == ("capget",)
    drops = [c[2] for c in calls if c[:2] == ("prctl", sec.PR_CAPBSET_DROP)]
    assert drops == [b for b in range(41) if not mask & (1 << b)]
    assert fake.bounding == mask
    tail = calls[1 + len(drops):]
    assert tail == [
        ("capset", mask, mask, 0),
        ("prctl", sec.PR_CAP_AMBIENT, sec.PR_CAP_AMBIENT_CLEAR_ALL, 0),
    ]


def test_apply_capabilities_after_setuid_raises_setpcap_first_then_ambient() -> None:
    # after setuid with keep-caps: permitted kept, effective empty
    fake = RecordingCaps(effective=0, permitted=(1 << 41) - 1)
    nbs = ["CAP_NET_BIND_SERVICE"]
    sec.apply_capabilities(
        {"bounding": nbs, "effective": nbs, "permitted": nbs, "inheritable": nbs, "ambient": nbs}, fake, last=40)
    calls = _significant(fake.calls)
    assert calls[1] == ("capset", (1 << 41) - 1, (1 << 41) - 1, 0)  # SETPCAP usable for PR_CAPBSET_DROP
    assert calls[-3:] == [
        ("capset", 1 << 10, 1 << 10, 1 << 10),
        ("prctl", sec.PR_CAP_AMBIENT, sec.PR_CAP_AMBIENT_CLEAR_ALL, 0),
        ("prctl", sec.PR_CAP_AMBIENT, sec.PR_CAP_AMBIENT_RAISE, 10),
    ]


def test_apply_capabilities_ignores_caps_the_kernel_lacks() -> None:
    fake = RecordingCaps(effective=(1 << 38) - 1, permitted=(1 << 38) - 1, bounding=(1 << 38) - 1)
    caps = ["CAP_CHOWN", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"]
    sec.apply_capabilities({"bounding": caps, "effective": caps, "permitted": caps}, fake, last=37)
    reads = [c[2] for c in fake.calls if c[:2] == ("prctl", sec.PR_CAPBSET_READ)]
    assert max(reads) == 37
    assert ("capset", 1, 1, 0) in fake.calls


def test_apply_capabilities_none_does_nothing_and_missing_sets_are_empty() -> None:
    fake = RecordingCaps(effective=1, permitted=1)
    sec.apply_capabilities(None, fake, last=40)
    assert fake.calls == []
    sec.apply_capabilities({"bounding": ["CAP_CHOWN"]}, fake, last=40)
    assert ("capset", 0, 0, 0) in fake.calls


def test_ambient_must_be_permitted_and_inheritable() -> None:
    fake = RecordingCaps(effective=1, permitted=1)
    with pytest.raises(InvalidOption) as exc:
        sec.apply_capabilities({"bounding": ["CAP_KILL"], "permitted": ["CAP_KILL"], "ambient": ["CAP_KILL"]},
                               fake, last=40)
    assert exc.value.field == "process.capabilities.ambient"
    assert exc.value.value == "CAP_KILL"
    assert fake.calls == []  # refused before touching anything


def test_prctl_wrappers() -> None:
    fake = RecordingCaps(0, 0)
    sec.set_no_new_privs(fake)
    sec.prepare_keepcaps(fake)
    sec.clear_keepcaps(fake)
    assert fake.calls == [
        ("prctl", sec.PR_SET_NO_NEW_PRIVS, 1, 0),
        ("prctl", sec.PR_SET_KEEPCAPS, 1, 0),
        ("prctl", sec.PR_SET_KEEPCAPS, 0, 0),
    ]


# -- rlimits ----------------------------------------------------------------------------------------

CURRENT = [
    {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 20000},
    {"type": "RLIMIT_NPROC", "soft": sec.RLIM_INFINITY, "hard": sec.RLIM_INFINITY},
    {"type": "RLIMIT_CORE", "soft": 0, "hard": sec.RLIM_INFINITY},
]


@pytest.mark.parametrize("rlimits", [
    [],
    [{"type": "RLIMIT_NOFILE", "soft": 20000, "hard": 20000}],
    [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}],
    [{"type": "RLIMIT_NPROC", "soft": 32768, "hard": sec.RLIM_INFINITY}],
    [{"type": "RLIMIT_CORE", "soft": sec.RLIM_INFINITY, "hard": sec.RLIM_INFINITY}],
])
def test_check_rlimits_accepts(rlimits) -> None:
    sec.check_rlimits(rlimits, CURRENT)


@pytest.mark.parametrize("rlimit, words", [
    ({"type": "RLIMIT_NOFILE", "soft": 1048576, "hard": 1048576},
     ["nofile=1048576:1048576", "hard limit 1048576", "current hard limit 20000", "RLIMIT_NOFILE",
      "CAP_SYS_RESOURCE"]),
    ({"type": "RLIMIT_NOFILE", "soft": 30000, "hard": 10000}, ["nofile=30000:10000", "soft limit 30000",
                                                               "hard limit 10000"]),
    ({"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}, ["RLIMIT_BOGUS", "unknown rlimit type"]),
    ({"type": "RLIMIT_NOFILE", "soft": -5, "hard": 1}, ["non-negative"]),
    ({"type": "RLIMIT_NOFILE", "soft": "many", "hard": 1}, ["non-negative"]),
])
def test_check_rlimits_refuses(rlimit, words) -> None:
    with pytest.raises(InvalidOption) as exc:
        sec.check_rlimits([rlimit], CURRENT)
    assert exc.value.field == "ulimits"
    for w in words:
        assert w in str(exc.value)


def test_check_rlimits_with_cap_sys_resource() -> None:
    sec.check_rlimits([{"type": "RLIMIT_NOFILE", "soft": 1048576, "hard": 1048576}], CURRENT, can_raise=True)


def test_apply_rlimits_calls_setrlimit_with_python_values() -> None:
    calls = []
    sec.apply_rlimits(
        [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096},
         {"type": "RLIMIT_CORE", "soft": sec.RLIM_INFINITY, "hard": sec.RLIM_INFINITY}],
        setrlimit=lambda n, v: calls.append((n, v)),
    )
    assert calls == [(resource.RLIMIT_NOFILE, (1024, 4096)),
                     (resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))]


def test_apply_rlimits_explains_a_refused_raise() -> None:
    def refuse(n: int, v: t.Tuple[int, int]) -> None:
        raise ValueError("not allowed to raise maximum limit")

    with pytest.raises(InvalidOption) as exc:
        sec.apply_rlimits([{"type": "RLIMIT_NOFILE", "soft": 30000, "hard": 30000}],
                          setrlimit=refuse, getrlimit=lambda n: (1024, 20000))
    msg = str(exc.value)
    assert "nofile=30000:30000" in msg and "current hard limit 20000" in msg and "CAP_SYS_RESOURCE" in msg


def test_apply_rlimits_for_real_refuses_above_the_hard_limit() -> None:
    if "CAP_SYS_RESOURCE" in sec.read_caps()["effective"]:
        pytest.skip("this process may raise hard limits")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("hard NOFILE is unlimited")
    with pytest.raises(InvalidOption) as exc:
        sec.apply_rlimits([{"type": "RLIMIT_NOFILE", "soft": hard + 1, "hard": hard + 1}])
    assert f"current hard limit {hard}" in str(exc.value)
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (soft, hard)
    sec.apply_rlimits([{"type": "RLIMIT_NOFILE", "soft": soft, "hard": hard}])  # same values: fine


def test_current_rlimits_are_the_callers() -> None:
    got = {r["type"]: r for r in sec.current_rlimits()}
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert got["RLIMIT_NOFILE"] == {"type": "RLIMIT_NOFILE", "soft": soft, "hard": hard}
    fake = sec.current_rlimits(getrlimit=lambda n: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    assert all(r["soft"] == r["hard"] == 2**64 - 1 for r in fake)
    assert len(fake) == 16
