import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from butterbase_edge_deploy import prebuilt, source
from butterbase_edge_deploy.errors import InputError, PackagingError


def _write(path: Path, content: bytes | str = b"x", mode: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    if mode is not None:
        path.chmod(mode)
    return path


def _output(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    _write(out / "_worker.js" / "index.js", "export default {}")
    _write(out / "_worker.js" / "chunk.mjs", "export const a = 1")
    _write(out / "_worker.js" / "index.js.map", "{}")
    _write(out / ".well-known" / "security.txt", "hi")
    _write(out / "_next" / "static" / "app.js", "console.log(1)")
    return out


def _names(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as archive:
        return archive.namelist()


def test_prebuilt_zip_holds_the_contents_not_the_folder(tmp_path: Path) -> None:
    archive, layout = prebuilt.package(_output(tmp_path), "out", tmp_path / "a.zip")
    assert _names(archive.path) == sorted(_names(archive.path))
    assert set(_names(archive.path)) == {"_worker.js/index.js", "_worker.js/chunk.mjs", "_worker.js/index.js.map",
                                         ".well-known/security.txt", "_next/static/app.js"}
    assert layout.worker_is_folder and layout.module_count == 2 and layout.asset_count == 2
    assert layout.dropped == ["_worker.js/index.js.map"]
    assert archive.file_count == 5


def test_zip_is_deterministic_and_keeps_modes(tmp_path: Path) -> None:
    out = _output(tmp_path)
    _write(out / "bin" / "tool.sh", "#!/bin/sh\n", mode=0o755)
    first, _ = prebuilt.package(out, "out", tmp_path / "1.zip")
    os.utime(out / "bin" / "tool.sh", (1, 1))  # timestamps must not matter
    second, _ = prebuilt.package(out, "out", tmp_path / "2.zip")
    assert hashlib.sha256(first.path.read_bytes()).digest() == hashlib.sha256(second.path.read_bytes()).digest()
    with zipfile.ZipFile(first.path) as archive:
        info = archive.getinfo("bin/tool.sh")
        assert stat.S_IMODE(info.external_attr >> 16) == 0o755
        assert info.create_system == 3


def test_unicode_names_empty_and_zero_byte_files(tmp_path: Path) -> None:
    out = _output(tmp_path)
    _write(out / "données" / "naïve ☃.txt", "snow")
    _write(out / "empty.txt", b"")
    archive, _ = prebuilt.package(out, "out", tmp_path / "u.zip")
    with zipfile.ZipFile(archive.path) as zipped:
        info = zipped.getinfo("données/naïve ☃.txt")
        assert info.flag_bits & 0x800  # UTF-8 name flag
        assert zipped.read("données/naïve ☃.txt") == b"snow"
        assert zipped.read("empty.txt") == b""


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda o: None, "does not exist"),
        (lambda o: _write(o, "file"), "is not a folder"),
        (lambda o: _write(o / "index.html", "x"), "has no _worker.js"),
        (lambda o: (o / "_worker.js").mkdir(parents=True), "without index.js"),
        (lambda o: _write(o / "static" / "_worker.js", "x"), "parent of the deployable folder"),
    ],
)
def test_bad_output_folders_name_output_dir(tmp_path: Path, build, fragment: str) -> None:
    out = tmp_path / "out"
    build(out)
    with pytest.raises(InputError) as caught:
        prebuilt.package(out, "out", tmp_path / "x.zip")
    assert caught.value.input_name == "output_dir" and fragment in caught.value.message


def test_worker_over_5_mib_is_refused_before_upload(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _write(out / "_worker.js", os.urandom(5 * 1024 * 1024 + 1))
    with pytest.raises(PackagingError, match="5 MiB"):
        prebuilt.package(out, "out", tmp_path / "x.zip")


def test_symlinks_inside_are_followed_escaping_dangling_looping_are_errors(tmp_path: Path) -> None:
    out = _output(tmp_path)
    (out / "alias.txt").symlink_to(out / ".well-known" / "security.txt")
    archive, _ = prebuilt.package(out, "out", tmp_path / "ok.zip")
    with zipfile.ZipFile(archive.path) as zipped:
        assert zipped.read("alias.txt") == b"hi"
    secret = _write(tmp_path / "secret.txt", "do not ship")
    cases = {"escape": secret, "dangling": tmp_path / "missing", "loop": out}
    for name, target in cases.items():
        link = out / name
        link.symlink_to(target)
        with pytest.raises(PackagingError, match=name.replace("escape", "outside").replace("dangling", "dangling")):
            prebuilt.package(out, "out", tmp_path / f"{name}.zip")
        link.unlink()


def test_backslash_and_non_utf8_names_are_refused(tmp_path: Path) -> None:
    out = _output(tmp_path)
    _write(out / "a\\b.txt")
    with pytest.raises(PackagingError, match="backslash"):
        prebuilt.package(out, "out", tmp_path / "x.zip")
    (out / "a\\b.txt").unlink()
    bad = os.path.join(os.fsencode(out), b"caf\xe9.txt")
    with open(bad, "wb") as handle:
        handle.write(b"x")
    with pytest.raises(PackagingError, match="not valid UTF-8"):
        prebuilt.package(out, "out", tmp_path / "y.zip")


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    # Root reads everything, so the check runs the command line as an unprivileged user.
    work = Path(tempfile.mkdtemp(prefix="bbed-unreadable-", dir="/tmp"))
    try:
        work.chmod(0o777)
        out = _output(work)
        _write(out / "locked.txt", "x", mode=0)
        for folder in [work, *work.rglob("*")]:
            if folder.is_dir():
                folder.chmod(0o777)
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                   sys.executable, "-m", "butterbase_edge_deploy", "package", "--output-dir", "out",
                   "--out", str(work / "x.zip")]
        if os.geteuid() != 0:
            command = command[4:]
        result = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=60,
                                env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")})
        assert result.returncode == 1, result.stderr
        assert "locked.txt" in result.stdout and "Traceback" not in result.stdout + result.stderr
        assert not (work / "x.zip").exists()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    _write(root / "package.json", '{"name": "app"}')
    _write(root / "package-lock.json", "{}")
    _write(root / "src" / "page.tsx", "export default 1")
    _write(root / "node_modules" / "next" / "index.js")
    _write(root / "packages" / "ui" / "node_modules" / "x.js")
    _write(root / ".git" / "HEAD")
    _write(root / ".next" / "cache")
    _write(root / ".vercel" / "output" / "static" / "_worker.js")
    _write(root / "dist" / "_worker.js")
    _write(root / ".env.local", "SECRET=1")
    _write(root / "debug.log")
    _write(root / "keep.log")
    _write(root / "docs" / "big.pdf")
    _write(root / "src" / "generated" / "out.js")
    _write(root / ".gitignore", "*.log\n!keep.log\n.env*\n")
    _write(root / "src" / ".gitignore", "generated/\n")
    _write(root / ".butterbaseignore", "docs/\n")
    (root / "public").mkdir()
    return root


def test_source_selection_follows_the_documented_rules(tmp_path: Path) -> None:
    names = {entry.name for entry in source.select(_project(tmp_path), "dist")}
    assert names == {"package.json", "package-lock.json", "src/page.tsx", "keep.log", ".gitignore",
                     "src/.gitignore", ".butterbaseignore", "public"}


def test_source_zip_is_deterministic_and_has_the_empty_folder(tmp_path: Path) -> None:
    root = _project(tmp_path)
    first, _ = source.package(root, "dist", tmp_path / "1.zip")
    second, _ = source.package(root, "dist", tmp_path / "2.zip")
    assert first.path.read_bytes() == second.path.read_bytes()
    assert "public/" in _names(first.path)


def test_source_over_50_mib_lists_the_largest_files(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _write(root / "assets" / "video.bin", os.urandom(30 * 1024 * 1024))
    _write(root / "assets" / "other.bin", os.urandom(25 * 1024 * 1024))
    with pytest.raises(PackagingError) as caught:
        source.package(root, "dist", tmp_path / "x.zip")
    assert "50 MiB" in caught.value.message and "assets/video.bin (30.0 MiB)" in caught.value.message
    assert ".butterbaseignore" in caught.value.fix


def test_source_symlink_to_outside_is_refused(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _write(tmp_path / "elsewhere" / "id_rsa", "private")
    (root / "key").symlink_to(tmp_path / "elsewhere" / "id_rsa")
    with pytest.raises(PackagingError, match="outside"):
        source.package(root, "dist", tmp_path / "x.zip")


def test_many_files(tmp_path: Path) -> None:
    out = _output(tmp_path)
    for index in range(20_000):
        _write(out / "assets" / f"{index % 50}" / f"f{index}.txt", str(index))
    archive, layout = prebuilt.package(out, "out", tmp_path / "many.zip")
    assert archive.file_count == 20_005 and layout.asset_count == 20_002
