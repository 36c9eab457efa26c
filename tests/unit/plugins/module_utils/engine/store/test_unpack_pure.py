# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure parts of store.unpack: names, whiteouts, times, xattrs, tar headers, decompression."""
from __future__ import annotations

import gzip
import io
import math
import random
import tarfile
import typing as t

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine.errors import MissingDependency, StoreError
from ansible_collections.berth.engine.plugins.module_utils.engine.store import decompress, unpack


@pytest.mark.parametrize(
    "name, expected",
    [
        ("a", "a"),
        ("a/b/c", "a/b/c"),
        ("./a/b", "a/b"),
        ("/etc/evil", "etc/evil"),
        ("//a///b/", "a/b"),
        ("a/./b/.", "a/b"),
        ("a/../b", "b"),
        ("a/b/../../c", "c"),
        (".", ""),
        ("./", ""),
        ("/", ""),
        ("..", None),
        ("../evil", None),
        ("a/../../evil", None),
        ("/../evil", None),
        ("./a/../../evil", None),
        ("a\0b", None),
        (".wh..wh..opq", ".wh..wh..opq"),
    ],
)
def test_normalize_name(name: str, expected: str | None) -> None:
    assert unpack.normalize_name(name) == expected


@pytest.mark.parametrize(
    "rel, expected",
    [("a/b/c", ("a/b", "c")), ("c", ("", "c")), ("", ("", ""))],
)
def test_split_name(rel: str, expected: tuple[str, str]) -> None:
    assert unpack.split_name(rel) == expected


@pytest.mark.parametrize(
    "base, expected",
    [(".wh.foo", "foo"), (".wh..foo", ".foo"), (".wh.", None), (".wh..", None), (".wh...", None)],
)
def test_whiteout_target(base: str, expected: str | None) -> None:
    assert unpack.whiteout_target(base) == expected


@pytest.mark.parametrize(
    "mtime, expected",
    [
        (0, 0),
        (1700000000, 1700000000 * 10**9),
        (1700000000.5, 1700000000500000000),
        (1600000000.25, 1600000000250000000),
        (-1, -(10**9)),
        (-1.5, -1500000000),
        ("1600000000.123456789", 1600000000123456789),
        ("1600000000.1234567891", 1600000000123456789),
        ("-0.5", -500000000),
        ("12", 12 * 10**9),
        ("soon", None),
        ("nan", None),
        (2**70, None),
        (math.nan, None),
        (math.inf, None),
    ],
)
def test_times_ns(mtime: float | str, expected: int | None) -> None:
    assert unpack.times_ns(mtime) == expected


def test_mtime_ns_prefers_the_exact_pax_value() -> None:
    info = tarfile.TarInfo("a")
    info.mtime = 1600000000.123456789
    info.pax_headers = {"mtime": "1600000000.123456789"}
    assert unpack.mtime_ns(info) == 1600000000123456789
    info.pax_headers = {}
    info.mtime = 7
    assert unpack.mtime_ns(info) == 7 * 10**9


def test_xattrs_of_keeps_binary_values_and_drops_overlay_metadata() -> None:
    cap = b"\x01\x00\x00\x02\x00\x20\x00\x00" + bytes(12)
    pax = {
        "path": "usr/bin/ping",
        "SCHILY.xattr.security.capability": cap.decode("utf-8", "surrogateescape"),
        "SCHILY.xattr.user.comment": "héllo",
        "SCHILY.xattr.trusted.overlay.redirect": "/elsewhere",
        "SCHILY.xattr.trusted.overlay.opaque": "y",
    }
    assert unpack.xattrs_of(pax) == [("security.capability", cap), ("user.comment", "héllo".encode())]


# --------------------------------------------------------------------------- tar headers


def _header(name: str = "a/file", fmt: int = tarfile.USTAR_FORMAT, **attrs: t.Any) -> bytes:
    info = tarfile.TarInfo(name)
    for key, value in attrs.items():
        setattr(info, key, value)
    return info.tobuf(fmt, "utf-8", "surrogateescape")[-tarfile.BLOCKSIZE:]


def _with_checksum(block: bytes) -> bytes:
    raw = bytearray(block)
    raw[148:156] = b" " * 8
    raw[148:156] = b"%06o\0 " % sum(raw)
    return bytes(raw)


_HEADERS = {
    "file": _header(size=1234, mode=0o4755, uid=1000, gid=50, mtime=1700000000, uname="u", gname="g"),
    "dir": _header("a/dir/", type=tarfile.DIRTYPE, mode=0o1777),
    "v7 dir (AREGTYPE + slash)": _header("old/dir/", type=tarfile.AREGTYPE),
    "symlink": _header("lnk", type=tarfile.SYMTYPE, linkname="/target/path"),
    "hardlink": _header("hl", type=tarfile.LNKTYPE, linkname="a/file"),
    "chardev": _header("dev/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3),
    "fifo": _header("p", type=tarfile.FIFOTYPE),
    "ustar prefix": _header("p" * 120 + "/" + "n" * 90),
    "gnu header": _header("g", fmt=tarfile.GNU_FORMAT, size=7),
    "gnu base-256 uid": _header("big", fmt=tarfile.GNU_FORMAT, uid=8**8 + 5),
    "gnu header after longname": _header("x" * 150, fmt=tarfile.GNU_FORMAT),
    "gnu longname block": tarfile.TarInfo("x" * 150).tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")[:512],
    "pax header block": tarfile.TarInfo("é" * 120).tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")[:512],
    "non-utf8 name": _header("caf\udce9", fmt=tarfile.GNU_FORMAT),
    "spaces in numbers": _with_checksum(_header(size=5)[:124] + b"     5 \0" + b"    " + _header(size=5)[136:]),
    "bad checksum": _header()[:148] + b"0000000\0" + _header()[156:],
    "bad octal": _with_checksum(_header()[:100] + b"07z5\0\0\0\0" + _header()[108:]),
    "end of archive": bytes(512),
    "truncated": _header()[:300],
    "empty": b"",
}


def _fields(info: tarfile.TarInfo) -> dict[str, t.Any]:
    names = ("name", "mode", "uid", "gid", "size", "mtime", "chksum", "type", "linkname", "uname", "gname",
             "devmajor", "devminor", "sparse", "pax_headers")
    return {n: getattr(info, n) for n in names}


def _parse(parser: t.Callable[[bytes, str, str], tarfile.TarInfo], buf: bytes) -> t.Any:
    try:
        return _fields(parser(buf, "utf-8", "surrogateescape"))
    except tarfile.HeaderError as exc:
        return type(exc)


@pytest.mark.parametrize("buf", list(_HEADERS.values()), ids=list(_HEADERS))
def test_fast_header_parser_matches_tarfile(buf: bytes) -> None:
    expected = _parse(tarfile.TarInfo.frombuf, buf)
    assert _parse(unpack._TarInfo.frombuf, buf) == expected
    if hasattr(tarfile.TarInfo, "_frombuf"):
        assert _parse(unpack._TarInfo._frombuf, buf) == _parse(tarfile.TarInfo._frombuf, buf)


def test_fast_header_parser_takes_the_common_case_itself() -> None:
    buf = _HEADERS["file"]
    assert unpack.parse_header(tarfile.TarInfo, buf, "utf-8", "surrogateescape") is not None
    for odd in ("gnu base-256 uid", "bad checksum", "bad octal", "end of archive", "truncated"):
        assert unpack.parse_header(tarfile.TarInfo, _HEADERS[odd], "utf-8", "surrogateescape") is None


# --------------------------------------------------------------------------- decompression


class ShortReads(io.RawIOBase):
    """A non-seekable stream that returns at most 7 bytes per read and counts them."""

    def __init__(self, data: bytes, step: int = 7) -> None:
        self._data = data
        self._step = step
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, n: int = -1) -> bytes:  # type: ignore[override]
        if n is None or n < 0:
            n = len(self._data)
        out = self._data[self.consumed:self.consumed + min(n, self._step)]
        self.consumed += len(out)
        return out


PAYLOAD = bytes(range(256)) * 4000  # 1 MB, stands in for a tar stream


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1, mtime=0)


def _zstd(data: bytes) -> bytes:
    zstandard = pytest.importorskip("zstandard")
    return zstandard.ZstdCompressor().compress(data)  # type: ignore[no-any-return]


def _read_in_pieces(stream: t.BinaryIO, size: int = 10240) -> bytes:
    parts = []
    while True:
        chunk = stream.read(size)
        if not chunk:
            return b"".join(parts)
        assert len(chunk) == size or not stream.read(1)
        parts.append(chunk)


@pytest.mark.parametrize(
    "encode, media_type",
    [
        (lambda d: d, ""),
        (lambda d: d, "application/vnd.oci.image.layer.v1.tar"),
        (_gzip, ""),
        (_gzip, "application/vnd.docker.image.rootfs.diff.tar.gzip"),
        (lambda d: _gzip(d[:1000]) + _gzip(d[1000:500000]) + _gzip(d[500000:]), ""),
        (lambda d: _gzip(d) + bytes(3000), ""),
        (_zstd, ""),
        (lambda d: _zstd(d[:300000]) + _zstd(d[300000:]), "application/vnd.oci.image.layer.v1.tar+zstd"),
    ],
    ids=["plain", "plain-typed", "gzip", "gzip-typed", "gzip-3-members", "gzip-zero-padding", "zstd",
         "zstd-2-frames"],
)
def test_open_decompressed_on_short_reads(encode: t.Callable[[bytes], bytes], media_type: str) -> None:
    stream = decompress.open_decompressed(t.cast(t.BinaryIO, ShortReads(encode(PAYLOAD))), media_type)
    assert _read_in_pieces(stream) == PAYLOAD


@pytest.mark.parametrize("encode", [_gzip, _zstd], ids=["gzip", "zstd"])
def test_open_decompressed_read_all_and_readinto(encode: t.Callable[[bytes], bytes]) -> None:
    stream = decompress.open_decompressed(io.BytesIO(encode(PAYLOAD)))
    buf = bytearray(100)
    assert stream.readinto(buf) == 100
    assert bytes(buf) == PAYLOAD[:100]
    assert stream.read() == PAYLOAD[100:]
    assert stream.read(5) == b""


@pytest.mark.parametrize("encode", [_gzip, _zstd], ids=["gzip", "zstd"])
def test_open_decompressed_reads_only_what_it_needs(encode: t.Callable[[bytes], bytes]) -> None:
    noise = random.Random(7).randbytes(400_000)
    compressed = encode(noise)
    raw = ShortReads(compressed, step=1 << 30)
    stream = decompress.open_decompressed(t.cast(t.BinaryIO, raw))
    assert stream.read(512) == noise[:512]
    assert raw.consumed <= 4 + decompress._READ_SIZE
    assert raw.consumed < len(compressed)


def test_open_decompressed_falls_back_on_media_type() -> None:
    with pytest.raises(StoreError, match="gzip"):
        decompress.open_decompressed(io.BytesIO(b"not gzip at all"), "application/vnd.oci.image.layer.v1.tar+gzip").read()
    assert decompress.open_decompressed(io.BytesIO(b"plain"), "application/octet-stream").read() == b"plain"


@pytest.mark.parametrize(
    "data, reason",
    [
        (_gzip(PAYLOAD)[:-20], "truncated"),
        (_gzip(PAYLOAD) + b"garbage", "trailing garbage"),
        (_gzip(PAYLOAD)[:-8] + b"\0\0\0\0" + _gzip(PAYLOAD)[-4:], "invalid gzip data"),
    ],
    ids=["truncated", "trailing-garbage", "bad-crc"],
)
def test_open_decompressed_refuses_corrupt_gzip(data: bytes, reason: str) -> None:
    stream = decompress.open_decompressed(io.BytesIO(data))
    with pytest.raises(StoreError, match=reason):
        stream.read()


def test_open_decompressed_refuses_corrupt_zstd() -> None:
    stream = decompress.open_decompressed(io.BytesIO(_zstd(PAYLOAD) + b"garbage!"))
    with pytest.raises(StoreError, match="invalid zstd"):
        _read_in_pieces(stream)


def test_zstd_output_per_call_is_bounded() -> None:
    bomb = _zstd(bytes(64 << 20))  # 64 MiB of zeros in a few KiB
    stream = decompress.open_decompressed(io.BytesIO(bomb))
    assert stream.read(10) == bytes(10)
    assert len(stream._buf) <= decompress._OUT_SIZE  # type: ignore[attr-defined]


def test_zstd_without_zstandard_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decompress, "optional_import", lambda name: None)
    monkeypatch.setattr(decompress, "which", lambda name: None)
    monkeypatch.setattr(decompress, "_DIST_PACKAGES", "/nonexistent")
    with pytest.raises(MissingDependency, match="python3-zstandard \\(or zstd\\)") as info:
        decompress.open_decompressed(io.BytesIO(b"\x28\xb5\x2f\xfd" + bytes(10)))
    assert "zstd-compressed layers" in str(info.value)
    # gzip and plain layers do not need it
    assert decompress.open_decompressed(io.BytesIO(_gzip(b"x"))).read() == b"x"


def test_damaged_deflate_data_is_a_store_error() -> None:
    bad = _gzip(PAYLOAD)
    bad = bad[:30] + bytes(200) + bad[230:]
    with pytest.raises(StoreError):
        decompress.open_decompressed(io.BytesIO(bad)).read()


@pytest.fixture
def zstd_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``zstandard`` module, as under the system Python that bin/berth runs: the ``zstd`` command decodes."""
    if decompress.which("zstd") is None:
        pytest.skip("the zstd command is not installed")
    monkeypatch.setattr(decompress, "optional_import", lambda name: None)
    monkeypatch.setattr(decompress, "_DIST_PACKAGES", "/nonexistent")


@pytest.mark.parametrize("frames", [1, 2])
def test_zstd_through_the_command_where_the_module_is_missing(zstd_command: None, frames: int) -> None:
    data = _zstd(PAYLOAD) if frames == 1 else _zstd(PAYLOAD[:300000]) + _zstd(PAYLOAD[300000:])
    stream = decompress.open_decompressed(t.cast(t.BinaryIO, ShortReads(data)),
                                          "application/vnd.oci.image.layer.v1.tar+zstd")
    assert isinstance(stream, decompress._ZstdCommand)
    assert _read_in_pieces(stream) == PAYLOAD


def test_zstd_command_refuses_corrupt_data(zstd_command: None) -> None:
    stream = decompress.open_decompressed(io.BytesIO(_zstd(PAYLOAD)[:-100]))
    with pytest.raises(StoreError, match="invalid zstd data"):
        _read_in_pieces(stream)


def test_zstd_command_raises_the_error_of_its_source(zstd_command: None) -> None:
    class Failing(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            if self.tell() > 1000:
                raise ConnectionResetError("the registry went away")
            return super().read(min(n or 1000, 1000))

    stream = decompress.open_decompressed(Failing(_zstd(random.Random(3).randbytes(200_000))))
    with pytest.raises(ConnectionResetError, match="went away"):
        _read_in_pieces(stream)
