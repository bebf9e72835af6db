"""The parallel zip writer: same bytes as zipfile for ordinary members, valid and machine-independent
bytes for members cut into pieces, and the CRC arithmetic that joins the pieces."""

import hashlib
import os
import random
import zipfile
import zlib
from pathlib import Path

import pytest

from butterbase_edge_deploy import archive
from butterbase_edge_deploy.archive import PIECE, Entry, write_zip
from butterbase_edge_deploy.errors import PackagingError


def _tree(root: Path, sizes: dict[str, int], seed: int = 7) -> list[Entry]:
    rng = random.Random(seed)
    entries = []
    for name, size in sizes.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        # Half text-like (compresses), half random (does not), so both deflate paths run.
        text = rng.randbytes(size // 2).translate(bytes(b"abcdefgh "[i % 9] for i in range(256)))
        body = text + rng.randbytes(size - size // 2)
        path.write_bytes(body)
        entries.append(Entry(name, path, size, 0o644 if size % 2 else 0o755))
    return entries


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_small_members_are_byte_identical_to_zipfile(tmp_path: Path) -> None:
    sizes = {f"d{i % 7}/f{i:03d}.{'js' if i % 3 else 'png'}": (i * 977) % 60_000 for i in range(300)}
    sizes["naïve ☃.txt"] = 10
    entries = _tree(tmp_path / "src", sizes)
    entries.append(Entry("empty-folder", tmp_path, 0, 0o755, is_dir=True))
    write_zip(entries, tmp_path / "parallel.zip")
    archive._write_with_zipfile(sorted(entries, key=lambda e: e.name), tmp_path / "reference.zip")
    assert _sha(tmp_path / "parallel.zip") == _sha(tmp_path / "reference.zip")


def test_large_members_round_trip_and_do_not_depend_on_the_core_count(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = {"a.bin": 2 * PIECE + 12_345, "b.bin": PIECE, "c.bin": PIECE + 1, "d.txt": 5}
    entries = _tree(tmp_path / "src", sizes)
    digests = set()
    for workers in (1, 2, 5):
        monkeypatch.setattr(archive, "_workers", lambda workers=workers: workers)
        result = write_zip(entries, tmp_path / f"w{workers}.zip")
        digests.add(_sha(result.path))
    assert len(digests) == 1
    with zipfile.ZipFile(tmp_path / "w1.zip") as zipped:
        assert zipped.testzip() is None  # every CRC checks out
        for entry in entries:
            assert zipped.read(entry.name) == entry.path.read_bytes()
            assert zipped.getinfo(entry.name).compress_type == zipfile.ZIP_DEFLATED


def test_crc_combine_matches_zlib() -> None:
    rng = random.Random(3)
    for length_a, length_b in ((0, 5), (7, 0), (1, 1), (1000, PIECE), (PIECE, 12_345), (65_537, 3)):
        a, b = rng.randbytes(length_a), rng.randbytes(length_b)
        assert archive._crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_zip64_end_records_when_there_are_more_than_65535_members(tmp_path: Path) -> None:
    # Empty folders: the same records as files, without reading 65,536 files.
    entries = [Entry(f"f{i:05d}", tmp_path, 0, 0o755, is_dir=True) for i in range(65_536)]
    write_zip(entries, tmp_path / "many.zip")
    with zipfile.ZipFile(tmp_path / "many.zip") as zipped:  # zipfile finds them through the ZIP64 records
        names = zipped.namelist()
    assert len(names) == 65_536 and names[-1] == "f65535/"
    assert b"PK\x06\x06" in (tmp_path / "many.zip").read_bytes()[-200:]


def test_a_file_that_shrinks_while_packaging_is_an_error(tmp_path: Path) -> None:
    entries = _tree(tmp_path / "src", {"big.bin": 2 * PIECE + 1})
    os.truncate(entries[0].path, PIECE)
    with pytest.raises(PackagingError, match="changed while"):
        write_zip(entries, tmp_path / "x.zip")


def test_unreadable_member_names_the_file(tmp_path: Path) -> None:
    entries = [Entry("gone.txt", tmp_path / "missing", 10, 0o644)]
    with pytest.raises(PackagingError, match=r"cannot read gone\.txt"):
        write_zip(entries, tmp_path / "x.zip")
