# SPDX-License-Identifier: GPL-3.0-or-later
"""Device access rules for cgroup v2: an eBPF ``BPF_PROG_TYPE_CGROUP_DEVICE`` program.

cgroup v2 has no devices controller files; the kernel runs BPF programs attached to the cgroup
instead (``BPF_CGROUP_DEVICE``).  As runc does (``libcontainer/cgroups/devices``), the OCI rule list
is first reduced with the cgroup v1 semantics (:class:`Emulator`: a default policy plus exceptions,
where a wildcard rule resets the list), so a spec means the same on v1 and v2; then every exception
becomes a block of the program::

    r2 = ctx->access_type & 0xffff      device type (BPF_DEVCG_DEV_BLOCK=1, CHAR=2)
    r3 = ctx->access_type >> 16         access (MKNOD=1, READ=2, WRITE=4)
    r4 = ctx->major ; r5 = ctx->minor
    for each exception:  if type, access subset, major, minor match: return !default
    return default

The program is loaded with bpf(BPF_PROG_LOAD) and attached with bpf(BPF_PROG_ATTACH,
BPF_F_ALLOW_MULTI) to the cgroup directory; the attachment keeps it alive, so the fd is closed
afterwards.  The encoding is pure (:func:`assemble`, tested byte for byte); only :func:`attach`
needs the kernel (root, a cgroup2 mount, CONFIG_CGROUP_BPF).
"""
from __future__ import annotations

import errno
import os
import struct
from collections import namedtuple

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time (see base.py)
    import typing as t

from ...errors import InvalidOption
from .base import CgroupError

WILDCARD = -1

BPF_DEVCG_ACC_MKNOD = 1
BPF_DEVCG_ACC_READ = 2
BPF_DEVCG_ACC_WRITE = 4
BPF_DEVCG_DEV_BLOCK = 1
BPF_DEVCG_DEV_CHAR = 2
_ACCESS_BITS = {"m": BPF_DEVCG_ACC_MKNOD, "r": BPF_DEVCG_ACC_READ, "w": BPF_DEVCG_ACC_WRITE}
_ALL_ACCESS = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE

# bpf(2)
BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2
_SYS_BPF = {"x86_64": 321, "i386": 357, "i686": 357, "aarch64": 280, "riscv64": 280, "loongarch64": 280,
            "armv7l": 386, "ppc64le": 361, "ppc64": 361, "s390x": 351}

# eBPF opcodes (class | op | source)
_LDX_MEM_W = 0x61   # BPF_LDX | BPF_MEM | BPF_W
_ALU32_AND_K = 0x54  # BPF_ALU | BPF_AND | BPF_K
_ALU32_RSH_K = 0x74  # BPF_ALU | BPF_RSH | BPF_K
_ALU32_MOV_K = 0xB4  # BPF_ALU | BPF_MOV | BPF_K
_ALU32_MOV_X = 0xBC  # BPF_ALU | BPF_MOV | BPF_X
_JMP_JNE_K = 0x55    # BPF_JMP | BPF_JNE | BPF_K
_JMP_JNE_X = 0x5D    # BPF_JMP | BPF_JNE | BPF_X
_JMP_EXIT = 0x95     # BPF_JMP | BPF_EXIT


#: One normalised rule: type 'a'|'b'|'c', major/minor (-1 = any), access ⊆ "rwm", allow.
DeviceRule = namedtuple("DeviceRule", ("type", "major", "minor", "access", "allow"))


def normalize(rule: t.Mapping[str, t.Any]) -> DeviceRule:
    """An OCI ``linux.resources.devices`` entry -> DeviceRule (validated)."""
    kind = rule.get("type") or "a"
    if kind not in ("a", "b", "c"):
        raise InvalidOption("linux.resources.devices.type", kind, "expected a, b or c")
    access = rule.get("access") or "rwm"
    if any(ch not in "rwm" for ch in access):
        raise InvalidOption("linux.resources.devices.access", access, "expected a combination of r, w and m")
    numbers = []
    for key in ("major", "minor"):
        v = rule.get(key)
        v = WILDCARD if v is None else int(v)
        if v < WILDCARD or v > 0xFFFFFFFF:
            raise InvalidOption(f"linux.resources.devices.{key}", v, "out of range")
        numbers.append(v)
    canon = "".join(ch for ch in "rwm" if ch in access)
    return DeviceRule(kind, numbers[0], numbers[1], canon, bool(rule.get("allow")))


class Emulator:
    """cgroup v1 devices semantics: a default (allow or deny) plus a list of exceptions.

    A rule of type ``a`` sets the default and clears the exceptions.  A rule whose verdict differs
    from the default adds (or widens) an exception; one that agrees removes that access from a
    matching exception (the kernel's ``dev_exception_add``/``dev_exception_rm``).
    """

    def __init__(self, default_allow: bool = True) -> None:
        self.default_allow = default_allow
        self.exceptions: list[DeviceRule] = []

    def apply(self, rule: DeviceRule) -> None:
        if rule.type == "a":
            self.default_allow = rule.allow
            self.exceptions = []
            return
        key = (rule.type, rule.major, rule.minor)
        for i, ex in enumerate(self.exceptions):
            if (ex.type, ex.major, ex.minor) != key:
                continue
            if rule.allow == self.default_allow:
                left = "".join(ch for ch in ex.access if ch not in rule.access)
                if left:
                    self.exceptions[i] = ex._replace(access=left)
                else:
                    del self.exceptions[i]
            else:
                merged = "".join(ch for ch in "rwm" if ch in ex.access or ch in rule.access)
                self.exceptions[i] = ex._replace(access=merged)
            return
        if rule.allow != self.default_allow:
            self.exceptions.append(rule._replace(allow=not self.default_allow))


def emulate(rules: t.Iterable[t.Mapping[str, t.Any]], default_allow: bool = True) -> Emulator:
    emu = Emulator(default_allow)
    for r in rules:
        emu.apply(normalize(r))
    return emu


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """struct bpf_insn {u8 code; u8 dst_reg:4, src_reg:4; s16 off; s32 imm;} (little-endian regs byte)."""
    if imm > 0x7FFFFFFF:
        imm -= 1 << 32
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def _block(rule: DeviceRule) -> list[tuple[int, int, int, str, int]]:
    """Instructions of one exception; jumps are (code, dst, src, "next", imm) to patch."""
    out: list[tuple[int, int, int, str, int]] = []
    if rule.type != "a":
        out.append((_JMP_JNE_K, 2, 0, "next", BPF_DEVCG_DEV_CHAR if rule.type == "c" else BPF_DEVCG_DEV_BLOCK))
    access = 0
    for ch in rule.access:
        access |= _ACCESS_BITS[ch]
    if access != _ALL_ACCESS:
        # if (r3 & access) != r3: the request asks for something this rule does not cover
        out.append((_ALU32_MOV_X, 1, 3, "", 0))
        out.append((_ALU32_AND_K, 1, 0, "", access))
        out.append((_JMP_JNE_X, 1, 3, "next", 0))
    if rule.major != WILDCARD:
        out.append((_JMP_JNE_K, 4, 0, "next", rule.major))
    if rule.minor != WILDCARD:
        out.append((_JMP_JNE_K, 5, 0, "next", rule.minor))
    out.append((_ALU32_MOV_K, 0, 0, "", 1 if rule.allow else 0))
    out.append((_JMP_EXIT, 0, 0, "", 0))
    return out


def assemble(emu: Emulator) -> bytes:
    """The BPF program (raw instructions) enforcing *emu*."""
    prog = [
        _insn(_LDX_MEM_W, 2, 1, 0),      # r2 = *(u32 *)(r1 + 0)   access_type
        _insn(_ALU32_AND_K, 2, 0, 0, 0xFFFF),
        _insn(_LDX_MEM_W, 3, 1, 0),      # r3 = *(u32 *)(r1 + 0)
        _insn(_ALU32_RSH_K, 3, 0, 0, 16),
        _insn(_LDX_MEM_W, 4, 1, 4),      # r4 = major
        _insn(_LDX_MEM_W, 5, 1, 8),      # r5 = minor
    ]
    for rule in emu.exceptions:
        block = _block(rule)
        for i, (code, dst, src, jump, imm) in enumerate(block):
            off = len(block) - 1 - i if jump == "next" else 0
            prog.append(_insn(code, dst, src, off, imm))
    prog.append(_insn(_ALU32_MOV_K, 0, 0, 0, 1 if emu.default_allow else 0))
    prog.append(_insn(_JMP_EXIT))
    return b"".join(prog)


def program(rules: t.Iterable[t.Mapping[str, t.Any]]) -> bytes:
    """OCI device rules -> BPF program bytes (default before any rule: allow, as in cgroup v1)."""
    return assemble(emulate(rules))


def attach(cgroup_dir: str, insns: bytes) -> None:
    """Load *insns* as a cgroup device program and attach it to *cgroup_dir* (BPF_F_ALLOW_MULTI)."""
    import ctypes

    nr = _SYS_BPF.get(os.uname().machine)
    if nr is None:
        raise CgroupError(cgroup_dir, f"device rules on cgroup v2 need bpf(2); unknown syscall number on "
                                      f"{os.uname().machine}")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long

    def bpf(cmd: int, attr: ctypes.Array) -> int:
        while True:
            ret = libc.syscall(ctypes.c_long(nr), ctypes.c_int(cmd), attr, ctypes.c_uint(len(attr)))
            if ret >= 0:
                return int(ret)
            err = ctypes.get_errno()
            if err != errno.EINTR:
                return -err

    code = ctypes.create_string_buffer(insns, len(insns))
    license_ = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(65536)
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("<IIQQ", attr, 0, BPF_PROG_TYPE_CGROUP_DEVICE, len(insns) // 8,
                     ctypes.addressof(code), ctypes.addressof(license_))
    prog_fd = bpf(BPF_PROG_LOAD, attr)
    if prog_fd < 0 and prog_fd != -errno.EPERM:
        # load again with the verifier log, to say why
        struct.pack_into("<IIQ", attr, 24, 1, len(log), ctypes.addressof(log))
        prog_fd = bpf(BPF_PROG_LOAD, attr)
    if prog_fd < 0:
        detail = log.value.decode(errors="replace").strip().splitlines()[-3:]
        raise CgroupError(cgroup_dir, f"bpf(BPF_PROG_LOAD, cgroup device program): {os.strerror(-prog_fd)}"
                                      + (f" ({' / '.join(detail)})" if detail else ""))
    try:
        try:
            dir_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise CgroupError(cgroup_dir, f"open: {os.strerror(exc.errno or 0)}") from None
        try:
            attach_attr = ctypes.create_string_buffer(128)
            struct.pack_into("<IIII", attach_attr, 0, dir_fd, prog_fd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)
            ret = bpf(BPF_PROG_ATTACH, attach_attr)
            if ret < 0:
                raise CgroupError(cgroup_dir, f"bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE): {os.strerror(-ret)}")
        finally:
            os.close(dir_fd)
    finally:
        os.close(prog_fd)
