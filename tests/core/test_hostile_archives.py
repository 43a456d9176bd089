"""Hostile zips and JSON (issue 14 item 5): refused before extraction, memory bounded.

The bomb cases run in a subprocess whose address space is capped
(RLIMIT_AS): extracting or reading the whole member would not fit.
"""

import json
import stat
import struct
import subprocess
import sys
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from segstudio.core.formats.cvat import import_cvat
from segstudio.core.pathsafety import UnsafePathError

from .formats_data import LS3

MEMORY_CAP = 600_000_000  # bytes of address space for the child (it needs ~300 MB to start)
CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
resource.setrlimit(resource.RLIMIT_FSIZE, (100 << 20, 100 << 20))  # and never fill the disk
from segstudio.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _bomb(path, blocks=192, with_crc=False):
    """A zip whose one member really inflates to `blocks` x 16 MiB of zeros (192: 3 GiB, ~3 MB on
    disk), built in a second: one fully flushed deflate block repeated, then a final empty block.
    The CRC is left 0 unless asked for (computing it over 3 GiB takes seconds)."""
    zeros = bytes(1 << 24)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    data = block * blocks + zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    crc = 0
    for _ in range(blocks if with_crc else 0):
        crc = zlib.crc32(zeros, crc)
    name, usize = b"SegmentationClass/a.png", blocks << 24
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(data), usize, len(name), 0)
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, len(data), usize,
                          len(name), 0, 0, 0, 0, 0, 0)
    cd_offset = len(local) + len(name) + len(data)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central) + len(name), cd_offset, 0)
    path.write_bytes(local + name + data + central + name + end)
    return path


def test_the_bomb_is_real(tmp_path):
    with zipfile.ZipFile(_bomb(tmp_path / "b.zip", blocks=3, with_crc=True)) as zf:
        assert zf.read("SegmentationClass/a.png") == bytes(3 << 24)


def test_cvat_zip_bomb_is_refused_before_extraction_under_a_memory_cap(tmp_path):
    bomb = _bomb(tmp_path / "bomb.zip")
    images = tmp_path / "images"
    images.mkdir()
    ls = tmp_path / "ls.json"
    LS3.save(ls)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    run = subprocess.run([sys.executable, "-c", CHILD.format(cap=MEMORY_CAP), "import", "cvat", str(bomb),
                          "--images", str(images), "--labels", str(ls), "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=120, env={"TMPDIR": str(tmpdir), "PATH": ""})
    assert run.returncode == 2, run.stderr[-2000:]
    assert "SegmentationClass/a.png" in run.stderr and "zip bomb" in run.stderr
    assert not (tmp_path / "out").exists() and not any(tmpdir.iterdir())


def _zip_with(path, name, data=b"x", mode=None):
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.external_attr = mode << 16
        zf.writestr(info, data)
    return path


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil", "a/../../evil", "C:/evil", "..\\evil"])
def test_members_leaving_the_folder_are_refused(tmp_path, name):
    from segstudio.core.safe_zip import UnsafeArchiveError, ZipLimits, extract_zip

    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(UnsafeArchiveError, match="outside the extraction folder"):
        extract_zip(_zip_with(tmp_path / "a.zip", name), dest)
    assert not any(dest.iterdir()) and not (tmp_path / "evil.txt").exists()


def test_symlink_members_are_refused(tmp_path):
    from segstudio.core.safe_zip import UnsafeArchiveError, ZipLimits, extract_zip

    dest = tmp_path / "dest"
    dest.mkdir()
    z = _zip_with(tmp_path / "a.zip", "SegmentationClass/a.png", b"/etc/passwd", stat.S_IFLNK | 0o777)
    with pytest.raises(UnsafeArchiveError, match="symbolic link"):
        extract_zip(z, dest)
    assert not any(dest.iterdir())


def test_declared_sizes_and_ratios_beyond_limits_are_refused(tmp_path):
    from segstudio.core.safe_zip import UnsafeArchiveError, ZipLimits, extract_zip

    dest = tmp_path / "dest"
    dest.mkdir()
    z = tmp_path / "z.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.bin", bytes(4 << 20))  # 4 MiB of zeros: ratio ~1000
        zf.writestr("b.bin", np.random.default_rng(0).bytes(1 << 20))
    with pytest.raises(UnsafeArchiveError, match="a.bin.*ratio"):
        extract_zip(z, dest)
    with pytest.raises(UnsafeArchiveError, match="in all"):
        extract_zip(z, dest, ZipLimits(max_total=3 << 20, max_ratio=1e9))
    extract_zip(z, dest, ZipLimits(max_ratio=1e9))
    assert (dest / "a.bin").stat().st_size == 4 << 20


def test_a_member_that_inflates_past_its_declared_size_is_stopped(tmp_path):
    from segstudio.core.safe_zip import UnsafeArchiveError, ZipLimits, extract_zip

    z = tmp_path / "lie.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.bin", b"A" * 1000)
    raw = bytearray(z.read_bytes())
    # shrink the declared size in the central directory and the local header to 10 bytes
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        i = raw.index(sig)
        raw[i + off:i + off + 4] = (10).to_bytes(4, "little")
    z.write_bytes(bytes(raw))
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(UnsafeArchiveError):
        extract_zip(z, dest)
    assert not any(dest.iterdir())


def test_cvat_import_of_a_traversal_zip_writes_nothing(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(images / "a.png")
    z = _zip_with(tmp_path / "t.zip", "../../escape.txt")
    with pytest.raises(UnsafePathError, match="t.zip"):
        import_cvat(z, images, LS3, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_json_depth_and_size_limits(tmp_path):
    from segstudio.core.safe_json import UnsafeJsonError, load_json_file, nesting_depth

    p = tmp_path / "deep.json"
    p.write_text("[" * 5000 + "]" * 5000)
    with pytest.raises(UnsafeJsonError, match="deep.json: JSON nested 5000 levels deep"):
        load_json_file(p)
    # brackets inside strings do not count
    assert nesting_depth(b'{"a": "[[[[[[\\"[[[", "b": [[1]]}') == 3
    q = tmp_path / "ok.json"
    q.write_text(json.dumps({"shapes": [{"points": [[1, 2]]}]}))
    assert load_json_file(q) == {"shapes": [{"points": [[1, 2]]}]}
    with pytest.raises(UnsafeJsonError, match=r"ok.json: 3\d bytes, more than the 10 accepted"):
        load_json_file(q, max_bytes=10)
    (tmp_path / "bad.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(UnsafeJsonError, match="bad.json: not UTF-8"):
        load_json_file(tmp_path / "bad.json")
    with pytest.raises(UnsafeJsonError, match="missing.json: no such file"):
        load_json_file(tmp_path / "missing.json")


def test_nesting_depth_agrees_with_the_parsed_structure(monkeypatch):
    import random

    from segstudio.core import safe_json

    def depth(o):
        if isinstance(o, (list, dict)):
            return 1 + max((depth(v) for v in (o.values() if isinstance(o, dict) else o)), default=0)
        return 0

    pieces = ["[", "]", "{", "}", '"', "\\", "a", "\\\\", '\\"', "é"]
    rng = random.Random(0)

    def make(d):
        r = rng.random()
        if d > 10 or r < 0.3:
            return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 5)))
        if r < 0.65:
            return [make(d + 1) for _ in range(rng.randint(0, 3))]
        return {rng.choice(pieces) + str(i): make(d + 1) for i in range(rng.randint(0, 3))}

    for chunk in (1 << 24, 7):  # 7: brackets and strings straddle chunk boundaries
        monkeypatch.setattr(safe_json, "_CHUNK", chunk)
        for _ in range(400):
            o = make(0)
            raw = json.dumps(o, ensure_ascii=rng.random() < 0.5).encode()
            assert safe_json.nesting_depth(raw) == depth(o), raw


def test_a_deeply_nested_label_set_file_is_a_clear_error(tmp_path, capsys):
    from segstudio.cli import main

    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "p").mkdir()
    assert main(["eval", "--pred", str(tmp_path / "p"), "--gt", str(tmp_path / "p"), "--labels", str(deep)]) == 2
    assert "deep.json: JSON nested 100000 levels deep" in capsys.readouterr().err
