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

**Compiled programs are cached.** Compiling Docker's default profile with libseccomp takes ~20 ms on the
test hosts, more than the rest of a container's init. :func:`prepare` (called by the runtime before it
forks the init) compiles the filter once with ``seccomp_export_bpf`` and keeps the BPF program in a
cache directory, keyed by a SHA-256 of the planned filter, the libseccomp version and API level, the
machine and the kernel release; each file carries a SHA-256 of its program, so a torn write is a miss,
never a wrong filter. :func:`apply` in the forked init then installs the prepared program with
``prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER)``, which is what ``seccomp_load`` does for a filter without
flags (with ``flags``, or without :func:`prepare`, it compiles and loads through libseccomp as before).

Start-path note: no ``typing`` at run time (see ``runtime/__init__``); errors are imported when raised.
"""
from __future__ import annotations

import errno
import os

from ..core.fasthash import sha256
from ..core.value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


def _invalid(field: str, value: t.Any, reason: str) -> Exception:
    from ..errors import InvalidOption

    return InvalidOption(field, value, reason)


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
        raise _invalid(field, name, "seccomp user notification is not supported by berth")
    if name not in ACTIONS:
        raise _invalid(field, name, f"unknown seccomp action (known: {', '.join(sorted(ACTIONS))})")
    if errno_ret is not None and name not in _WITH_ERRNO:
        raise _invalid(field, errno_ret, f"errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {name}")
    value = ACTIONS[name]
    if name in _WITH_ERRNO:
        ret = errno.EPERM if errno_ret is None else errno_ret
        if not isinstance(ret, int) or not 0 <= ret <= 0xFFFF:
            raise _invalid(field, errno_ret, "errnoRet must be an integer from 0 to 65535")
        value |= ret
    return value


# Frozen values (core/value.py): ``collections.namedtuple`` would import ``collections`` in every starter.
class Condition(Value):
    """struct scmp_arg_cmp: argument index, operator, datum_a, datum_b (MASKED_EQ: mask, value)."""

    __slots__ = _fields = ("index", "op", "a", "b")


class Rule(Value):
    """One libseccomp rule: syscall name, action, conditions (a tuple of Condition)."""

    __slots__ = _fields = ("name", "action", "conditions")
    _defaults = {"conditions": ()}


class Filter(Value):
    """The planned filter; ``attributes`` are (scmp_filter_attr, value) pairs set before loading."""

    __slots__ = _fields = ("default_action", "architectures", "rules", "attributes")


def _condition(arg: t.Mapping[str, t.Any], where: str) -> Condition:
    index = arg.get("index")
    if not isinstance(index, int) or not 0 <= index <= 5:
        raise _invalid(f"{where}.index", index, "a syscall argument index is 0 to 5")
    op = arg.get("op")
    if op not in OPERATORS:
        raise _invalid(f"{where}.op", op, f"unknown comparison (known: {', '.join(sorted(OPERATORS))})")
    values = []
    for key in ("value", "valueTwo"):
        v = arg.get(key, 0) or 0
        if not isinstance(v, int) or not 0 <= v < 2**64:
            raise _invalid(f"{where}.{key}", v, "must be an unsigned 64-bit integer")
        values.append(v)
    return Condition(index, OPERATORS[op], values[0], values[1])


def plan(spec_seccomp: t.Mapping[str, t.Any]) -> Filter:
    """Translate and validate an OCI seccomp section (pure)."""
    default_name = spec_seccomp.get("defaultAction")
    if not default_name:
        raise _invalid(f"{FIELD}.defaultAction", default_name, "a default action is required")
    default = action_value(default_name, spec_seccomp.get("defaultErrnoRet"), f"{FIELD}.defaultAction")
    if spec_seccomp.get("listenerPath"):
        raise _invalid(f"{FIELD}.listenerPath", spec_seccomp["listenerPath"],
                       "seccomp user notification is not supported by berth")
    arches = []
    for arch in spec_seccomp.get("architectures") or ():
        if not isinstance(arch, str) or not arch.startswith("SCMP_ARCH_"):
            raise _invalid(f"{FIELD}.architectures", arch, "expected a SCMP_ARCH_* name")
        arches.append(arch)
    attributes = [(SCMP_FLTATR_CTL_NNP, 0)]
    for flag in spec_seccomp.get("flags") or ():
        if flag not in FLAGS:
            raise _invalid(f"{FIELD}.flags", flag, f"unsupported seccomp flag (known: {', '.join(sorted(FLAGS))})")
        attributes.append((FLAGS[flag], 1))
    rules: list[Rule] = []
    for i, call in enumerate(spec_seccomp.get("syscalls") or ()):
        where = f"{FIELD}.syscalls[{i}]"
        names = call.get("names") or ([call["name"]] if call.get("name") else [])
        if not names:
            raise _invalid(f"{where}.names", names, "at least one syscall name is required")
        action = action_value(call.get("action", ""), call.get("errnoRet"), f"{where}.action")
        if action == default:
            continue
        conds = tuple(_condition(a, f"{where}.args[{j}]") for j, a in enumerate(call.get("args") or ()))
        indexes = [c.index for c in conds]
        split = len(set(indexes)) != len(indexes)
        for name in names:
            if not isinstance(name, str) or not name:
                raise _invalid(f"{where}.names", name, "a syscall name must be a non-empty string")
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
        from ..errors import MissingDependency

        raise MissingDependency("libseccomp", "the default seccomp profile", _HINT)

    class ScmpArgCmp(ctypes.Structure):
        _fields_ = [
            ("arg", ctypes.c_uint),
            ("op", ctypes.c_int),
            ("datum_a", ctypes.c_uint64),
            ("datum_b", ctypes.c_uint64),
        ]

    class ScmpVersion(ctypes.Structure):
        _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]

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
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_export_bpf.restype = ctypes.c_int
    lib.seccomp_version.argtypes = []
    lib.seccomp_version.restype = ctypes.POINTER(ScmpVersion)
    lib.seccomp_api_get.argtypes = []
    lib.seccomp_api_get.restype = ctypes.c_uint
    lib.ScmpArgCmp = ScmpArgCmp
    lib.ctypes = ctypes
    _LIB = lib
    return lib


def available() -> bool:
    """Whether libseccomp can be loaded on this host."""
    from ..errors import MissingDependency

    try:
        _library()
    except MissingDependency:
        return False
    return True


def _check(ret: int, what: str) -> None:
    if ret < 0:
        raise OSError(-ret, f"{what}: {os.strerror(-ret)}")


def _build(lib: t.Any, flt: Filter, skipped: list[str]) -> t.Any:
    """A libseccomp filter context holding *flt* (the caller releases it); unknown names go to *skipped*."""
    ctx = lib.seccomp_init(flt.default_action)
    if not ctx:
        raise OSError(errno.EINVAL, f"seccomp_init({flt.default_action:#x}) failed")
    try:
        for attr, value in flt.attributes:
            _check(lib.seccomp_attr_set(ctx, attr, value), f"seccomp_attr_set({attr}, {value})")
        for arch in flt.architectures:
            token = lib.seccomp_arch_resolve_name(arch[len("SCMP_ARCH_"):].lower().encode())
            if token == 0:
                raise _invalid(f"{FIELD}.architectures", arch, "libseccomp does not know this architecture")
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
                array[i].arg, array[i].op, array[i].datum_a, array[i].datum_b = c.index, c.op, c.a, c.b
            ret = lib.seccomp_rule_add_array(ctx, rule.action, nr, count, array if count else None)
            _check(ret, f"seccomp_rule_add({rule.name}, action={rule.action:#x}, {count} conditions)")
    except BaseException:
        lib.seccomp_release(ctx)
        raise
    return ctx


def load(flt: Filter) -> list[str]:
    """Compile *flt* with libseccomp and install it on the calling thread.

    Returns the syscall names that were skipped because libseccomp does not know them.
    """
    lib = _library()
    skipped: list[str] = []
    ctx = _build(lib, flt, skipped)
    try:
        _check(lib.seccomp_load(ctx), "seccomp_load")
    finally:
        lib.seccomp_release(ctx)
    return skipped


def compile_filter(flt: Filter) -> bytes:
    """The BPF program libseccomp makes of *flt* (``struct sock_filter`` array, host byte order)."""
    lib = _library()
    ctx = _build(lib, flt, [])
    try:
        fd = os.memfd_create("berth-seccomp", os.MFD_CLOEXEC)
        try:
            _check(lib.seccomp_export_bpf(ctx, fd), "seccomp_export_bpf")
            size = os.lseek(fd, 0, os.SEEK_CUR)
            os.lseek(fd, 0, os.SEEK_SET)
            chunks = []
            while size > 0:
                chunk = os.read(fd, size)
                if not chunk:
                    break
                chunks.append(chunk)
                size -= len(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)
    finally:
        lib.seccomp_release(ctx)


# --------------------------------------------------------------------------------------------------
# prepared programs (compiled before fork, cached across containers)
# --------------------------------------------------------------------------------------------------

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
_CACHE_MAGIC = b"berth-seccomp-bpf/1\n"
#: What the last :func:`prepare` made: (the OCI section object, Program); :func:`apply` installs it.
_PREPARED: tuple[t.Any, Program] | None = None


class Program:
    """A compiled filter, installable with ``prctl(PR_SET_SECCOMP)`` after ``fork`` and ``pivot_root``:
    every ctypes object is made here, in the parent."""

    def __init__(self, code: bytes) -> None:
        import ctypes

        if not code or len(code) % 8:
            raise ValueError(f"not a BPF program ({len(code)} bytes)")

        class SockFprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

        self.code = code
        self._buf = ctypes.create_string_buffer(code, len(code))
        self._fprog = SockFprog(len(code) // 8, ctypes.addressof(self._buf))
        libc = ctypes.CDLL(None, use_errno=True)
        self._prctl = libc.prctl
        self._prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
        self._prctl.restype = ctypes.c_int
        self._ctypes = ctypes

    def install(self) -> None:
        """Load the filter on the calling thread (needs no_new_privs or CAP_SYS_ADMIN, as seccomp_load)."""
        ctypes = self._ctypes
        if self._prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(self._fprog), 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"prctl(PR_SET_SECCOMP, {len(self.code) // 8} instructions): {os.strerror(err)}")


#: Where the dynamic loader finds libseccomp.so.2 (``{m}``: the multiarch triplet), and its cache.
_LIB_PLACES = ("/usr/local/lib/{m}", "/usr/local/lib", "/lib/{m}", "/usr/lib/{m}", "/lib64", "/usr/lib64", "/lib",
               "/usr/lib")


def _library_identity() -> tuple[t.Any, ...] | None:
    """libseccomp as the files the dynamic loader would pick it from (path, size, mtime, inode of every
    candidate, and of ld.so.cache, rewritten whenever libraries are installed), without loading it (the
    dlopen costs ~2.5 ms here). None when none is found or the environment may send the loader
    elsewhere: the key then names the loaded library's version."""
    import sys

    if os.environ.get("LD_LIBRARY_PATH") or os.environ.get("LD_PRELOAD"):
        return None
    multiarch = getattr(sys.implementation, "_multiarch", "") or ""
    out = []
    for place in _LIB_PLACES:
        path = os.path.join(place.format(m=multiarch), "libseccomp.so.2")
        try:
            st = os.stat(path)
        except OSError:
            continue
        out.append((os.path.realpath(path), st.st_size, st.st_mtime_ns, st.st_ino))
    if not out:
        return None
    try:
        st = os.stat("/etc/ld.so.cache")
        out.append(("/etc/ld.so.cache", st.st_size, st.st_mtime_ns, st.st_ino))
    except OSError:
        pass
    return tuple(out)


def _cache_key(spec_seccomp: t.Mapping[str, t.Any]) -> str:
    """The OCI section (a compiled program proves it was planned before), the library and the kernel."""
    from .sync import dumps

    library = _library_identity()
    if library is None:
        lib = _library()
        v = lib.seccomp_version().contents
        library = ((v.major, v.minor, v.micro), lib.seccomp_api_get())
    uname = os.uname()
    ident = repr((dumps(spec_seccomp), library, uname.machine, uname.release))
    return sha256(ident.encode()).hexdigest()


def _read_cached(path: str) -> bytes | None:
    """The cached filter; None when missing, damaged, or not root's alone (``core/trust.py``: a filter
    another user could write would be every container's seccomp policy)."""
    from ..core import trust
    from ..errors import UntrustedPath

    try:
        data = trust.read_trusted(path)
    except (OSError, UntrustedPath):
        return None
    head = len(_CACHE_MAGIC)
    if not data.startswith(_CACHE_MAGIC) or len(data) < head + 32:
        return None
    digest, code = data[head:head + 32], data[head + 32:]
    if sha256(code).digest() != digest:
        return None  # torn or damaged: compile again
    return code


def _write_cached(path: str, code: bytes) -> None:
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, 0o700, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(_CACHE_MAGIC + sha256(code).digest() + code)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except OSError:
        pass  # a cache that cannot be written only costs time


def prepare(spec_seccomp: t.Mapping[str, t.Any] | None, cache_dir: str | None = None) -> Program | None:
    """Plan *spec_seccomp* and compile it, or take it from *cache_dir* (a program there was planned and
    compiled from the same section), and keep it for :func:`apply`.

    Call it before ``fork``: the child cannot reach libseccomp or the cache after ``pivot_root``.
    Returns None (and :func:`apply` uses libseccomp) for a filter with ``flags``: those need the
    ``seccomp()`` system call, which ``seccomp_load`` knows how to call.
    """
    global _PREPARED
    _PREPARED = None
    if not spec_seccomp:
        return None
    code = None
    path = None
    if cache_dir and not spec_seccomp.get("flags"):
        path = os.path.join(cache_dir, _cache_key(spec_seccomp) + ".bpf")
        code = _read_cached(path)
    if code is None:
        flt = plan(spec_seccomp)
        _library()  # MissingDependency now, naming the package
        if tuple(flt.attributes) != ((SCMP_FLTATR_CTL_NNP, 0),):
            return None
        code = compile_filter(flt)
        if path:
            _write_cached(path, code)
    program = Program(code)
    _PREPARED = (spec_seccomp, program)
    return program


def apply(spec_seccomp: t.Mapping[str, t.Any] | None) -> list[str]:
    """Install *spec_seccomp* (None: no filter): the program :func:`prepare` made for this very section,
    else plan and load through libseccomp. Returns the skipped syscall names (libseccomp path only)."""
    if not spec_seccomp:
        return []
    if _PREPARED is not None and _PREPARED[0] is spec_seccomp:
        _PREPARED[1].install()
        return []
    return load(plan(spec_seccomp))
