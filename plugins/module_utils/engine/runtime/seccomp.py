# SPDX-License-Identifier: GPL-3.0-or-later
"""Load an OCI ``linux.seccomp`` section as a seccomp filter, through libseccomp via ctypes.

Two steps, as elsewhere in the runtime: :func:`plan` translates and validates the section into a
:class:`Filter` (pure: no library needed, raises InvalidOption naming the field), and :func:`load`
compiles that filter with libseccomp and installs it on the calling thread.  :func:`apply` does both.

Behaviour follows runc (``libcontainer/seccomp/seccomp_linux.go``):

- a syscall name libseccomp does not know is skipped (the profile may name calls of newer kernels
  or other architectures);
- a rule whose action equals the default action is skipped (libseccomp refuses it);
- several conditions on the same argument index become separate rules (OR), otherwise one rule
  with all conditions (AND);
- ``SCMP_ACT_ERRNO`` / ``SCMP_ACT_TRACE`` without ``errnoRet`` use EPERM;
- ``SCMP_FLTATR_CTL_NNP`` is set to 0: the init decides about no_new_privs itself.  Without
  no_new_privs, loading a filter needs CAP_SYS_ADMIN, so the init must load it before dropping
  capabilities in that case (runc does the same).

Not done (runc does): answering ENOSYS instead of the default errno for syscalls newer than the
profile (runc patches the BPF program for that); ``SCMP_ACT_NOTIFY`` and ``listenerPath``.
"""
from __future__ import annotations

import errno
import os
import typing as t

from ..errors import InvalidOption, MissingDependency

FIELD = "linux.seccomp"

ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000,
    "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_ERRNO": 0x00050000,
    "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_LOG": 0x7FFC0000,
    "SCMP_ACT_ALLOW": 0x7FFF0000,
}
_WITH_ERRNO = ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE")
OPERATORS = {
    "SCMP_CMP_NE": 1,
    "SCMP_CMP_LT": 2,
    "SCMP_CMP_LE": 3,
    "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5,
    "SCMP_CMP_GT": 6,
    "SCMP_CMP_MASKED_EQ": 7,
}
# enum scmp_filter_attr
SCMP_FLTATR_ACT_DEFAULT = 1
SCMP_FLTATR_ACT_BADARCH = 2
SCMP_FLTATR_CTL_NNP = 3
SCMP_FLTATR_CTL_TSYNC = 4
SCMP_FLTATR_CTL_LOG = 6
SCMP_FLTATR_CTL_SSB = 7
#: OCI seccomp flags -> the libseccomp attribute that asks for them.
FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": SCMP_FLTATR_CTL_TSYNC,
    "SECCOMP_FILTER_FLAG_LOG": SCMP_FLTATR_CTL_LOG,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": SCMP_FLTATR_CTL_SSB,
}
_NR_SCMP_ERROR = -1
_HINT = "apt-get install libseccomp2, or run with security_opts seccomp=unconfined"


def action_value(name: str, errno_ret: int | None = None, field: str = FIELD) -> int:
    """libseccomp action value of an OCI action name (with its errno for ERRNO/TRACE)."""
    if name == "SCMP_ACT_NOTIFY":
        raise InvalidOption(field, name, "seccomp user notification is not supported by berth")
    if name not in ACTIONS:
        raise InvalidOption(field, name, f"unknown seccomp action (known: {', '.join(sorted(ACTIONS))})")
    if errno_ret is not None and name not in _WITH_ERRNO:
        raise InvalidOption(field, errno_ret,
                            f"errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {name}")
    value = ACTIONS[name]
    if name in _WITH_ERRNO:
        ret = errno.EPERM if errno_ret is None else errno_ret
        if not isinstance(ret, int) or not 0 <= ret <= 0xFFFF:
            raise InvalidOption(field, errno_ret, "errnoRet must be an integer from 0 to 65535")
        value |= ret
    return value


class Condition(t.NamedTuple):
    """struct scmp_arg_cmp: argument index, operator, datum_a, datum_b (MASKED_EQ: mask, value)."""

    index: int
    op: int
    a: int
    b: int


class Rule(t.NamedTuple):
    name: str
    action: int
    conditions: tuple[Condition, ...] = ()


class Filter(t.NamedTuple):
    default_action: int
    architectures: tuple[str, ...]
    rules: tuple[Rule, ...]
    attributes: tuple[tuple[int, int], ...]  # (scmp_filter_attr, value) set before loading


def _condition(arg: t.Mapping[str, t.Any], where: str) -> Condition:
    index = arg.get("index")
    if not isinstance(index, int) or not 0 <= index <= 5:
        raise InvalidOption(f"{where}.index", index, "a syscall argument index is 0 to 5")
    op = arg.get("op")
    if op not in OPERATORS:
        raise InvalidOption(f"{where}.op", op, f"unknown comparison (known: {', '.join(sorted(OPERATORS))})")
    values = []
    for key in ("value", "valueTwo"):
        v = arg.get(key, 0) or 0
        if not isinstance(v, int) or not 0 <= v < 2**64:
            raise InvalidOption(f"{where}.{key}", v, "must be an unsigned 64-bit integer")
        values.append(v)
    return Condition(index, OPERATORS[op], values[0], values[1])


def plan(spec_seccomp: t.Mapping[str, t.Any]) -> Filter:
    """Translate and validate an OCI seccomp section (pure)."""
    default_name = spec_seccomp.get("defaultAction")
    if not default_name:
        raise InvalidOption(f"{FIELD}.defaultAction", default_name, "a default action is required")
    default = action_value(default_name, spec_seccomp.get("defaultErrnoRet"), f"{FIELD}.defaultAction")
    if spec_seccomp.get("listenerPath"):
        raise InvalidOption(f"{FIELD}.listenerPath", spec_seccomp["listenerPath"],
                            "seccomp user notification is not supported by berth")
    arches = []
    for arch in spec_seccomp.get("architectures") or ():
        if not isinstance(arch, str) or not arch.startswith("SCMP_ARCH_"):
            raise InvalidOption(f"{FIELD}.architectures", arch, "expected a SCMP_ARCH_* name")
        arches.append(arch)
    attributes = [(SCMP_FLTATR_CTL_NNP, 0)]
    for flag in spec_seccomp.get("flags") or ():
        if flag not in FLAGS:
            raise InvalidOption(f"{FIELD}.flags", flag, f"unsupported seccomp flag (known: {', '.join(sorted(FLAGS))})")
        attributes.append((FLAGS[flag], 1))
    rules: list[Rule] = []
    for i, call in enumerate(spec_seccomp.get("syscalls") or ()):
        where = f"{FIELD}.syscalls[{i}]"
        names = call.get("names") or ([call["name"]] if call.get("name") else [])
        if not names:
            raise InvalidOption(f"{where}.names", names, "at least one syscall name is required")
        action = action_value(call.get("action", ""), call.get("errnoRet"), f"{where}.action")
        if action == default:
            continue
        conds = tuple(_condition(a, f"{where}.args[{j}]") for j, a in enumerate(call.get("args") or ()))
        indexes = [c.index for c in conds]
        split = len(set(indexes)) != len(indexes)
        for name in names:
            if not isinstance(name, str) or not name:
                raise InvalidOption(f"{where}.names", name, "a syscall name must be a non-empty string")
            if split:
                rules.extend(Rule(name, action, (c,)) for c in conds)
            else:
                rules.append(Rule(name, action, conds))
    return Filter(default, tuple(arches), tuple(rules), tuple(attributes))


# --------------------------------------------------------------------------------------------------
# libseccomp
# --------------------------------------------------------------------------------------------------

_LIB: t.Any = None


def _library() -> t.Any:
    """libseccomp.so.2 with the prototypes we use; MissingDependency when absent."""
    global _LIB
    if _LIB is not None:
        return _LIB
    import ctypes

    lib = None
    for name in ("libseccomp.so.2", "libseccomp.so"):
        try:
            lib = ctypes.CDLL(name, use_errno=True)
            break
        except OSError:
            continue
    if lib is None:
        raise MissingDependency("libseccomp", "the default seccomp profile", _HINT)

    class ScmpArgCmp(ctypes.Structure):
        _fields_ = [
            ("arg", ctypes.c_uint),
            ("op", ctypes.c_int),
            ("datum_a", ctypes.c_uint64),
            ("datum_b", ctypes.c_uint64),
        ]

    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.restype = None
    lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.seccomp_arch_add.restype = ctypes.c_int
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(ScmpArgCmp)]
    lib.seccomp_rule_add_array.restype = ctypes.c_int
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_attr_set.restype = ctypes.c_int
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_load.restype = ctypes.c_int
    lib.ScmpArgCmp = ScmpArgCmp
    lib.ctypes = ctypes
    _LIB = lib
    return lib


def available() -> bool:
    """Whether libseccomp can be loaded on this host."""
    try:
        _library()
    except MissingDependency:
        return False
    return True


def _check(ret: int, what: str) -> None:
    if ret < 0:
        raise OSError(-ret, f"{what}: {os.strerror(-ret)}")


def load(flt: Filter) -> list[str]:
    """Compile *flt* with libseccomp and install it on the calling thread.

    Returns the syscall names that were skipped because libseccomp does not know them.
    """
    lib = _library()
    ctx = lib.seccomp_init(flt.default_action)
    if not ctx:
        raise OSError(errno.EINVAL, f"seccomp_init({flt.default_action:#x}) failed")
    skipped: list[str] = []
    try:
        for attr, value in flt.attributes:
            _check(lib.seccomp_attr_set(ctx, attr, value), f"seccomp_attr_set({attr}, {value})")
        for arch in flt.architectures:
            token = lib.seccomp_arch_resolve_name(arch[len("SCMP_ARCH_"):].lower().encode())
            if token == 0:
                raise InvalidOption(f"{FIELD}.architectures", arch, "libseccomp does not know this architecture")
            ret = lib.seccomp_arch_add(ctx, token)
            if ret != -errno.EEXIST:
                _check(ret, f"seccomp_arch_add({arch})")
        numbers: dict[str, int] = {}
        for rule in flt.rules:
            if rule.name not in numbers:
                numbers[rule.name] = lib.seccomp_syscall_resolve_name(rule.name.encode())
            nr = numbers[rule.name]
            if nr == _NR_SCMP_ERROR:
                if rule.name not in skipped:
                    skipped.append(rule.name)
                continue
            count = len(rule.conditions)
            array = (lib.ScmpArgCmp * max(count, 1))()
            for i, c in enumerate(rule.conditions):
                array[i].arg, array[i].op, array[i].datum_a, array[i].datum_b = c
            ret = lib.seccomp_rule_add_array(ctx, rule.action, nr, count, array if count else None)
            _check(ret, f"seccomp_rule_add({rule.name}, action={rule.action:#x}, {count} conditions)")
        _check(lib.seccomp_load(ctx), "seccomp_load")
    finally:
        lib.seccomp_release(ctx)
    return skipped


def apply(spec_seccomp: t.Mapping[str, t.Any] | None) -> list[str]:
    """Plan and load *spec_seccomp* (None: no filter).  Returns the skipped syscall names."""
    if not spec_seccomp:
        return []
    return load(plan(spec_seccomp))
