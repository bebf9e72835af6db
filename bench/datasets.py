"""Deterministic test trees: the same seed gives the same files, byte for byte, on any machine.

Content comes from ``random.Random(seed)`` only (never ``os.urandom``), so a run can be repeated
and two machines compare the same work. Three kinds of bytes, as a real build output has them:
text (minified-JS-like tokens, compresses about 3-4x), already-compressed media (random bytes) and
in-between binary data (a 16-symbol alphabet, about 2x).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
from dataclasses import asdict, dataclass
from pathlib import Path

_WORDS = (  # noqa: SIM905 - a word list reads better as one string
    "function return const let var this null undefined true false typeof instanceof new class extends "
    "import export default from async await yield if else for while switch case break continue try catch "
    "finally throw object string number length push map filter reduce forEach props state children "
    "React createElement useState useEffect useMemo window document element value key index module "
    "exports require prototype call apply bind then catch resolve reject Promise Array Object JSON parse "
    "stringify Symbol iterator get set has delete size data error message status response request headers "
    "body method url path query params route page layout render hydrate stream chunk buffer encode decode"
).split()
_PUNCT = ["(", ")", "{", "}", "[", "]", ";", ",", ".", "=", "=>", "===", "&&", "||", "!", "?", ":", "+", "-",
          "*", "/", "<", ">", " "]


@dataclass(frozen=True)
class TreeInfo:
    root: str
    files: int
    bytes: int
    digest: str  # sha256 over (name, size, sha256) of every file: proves two runs built the same tree

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class Content:
    """Fast deterministic bytes of three compressibility classes, all from one seeded generator."""

    def __init__(self, seed: int, corpus_bytes: int = 2 * 1024 * 1024) -> None:
        self.rng = random.Random(seed)
        self._corpus = self._make_corpus(corpus_bytes)
        # 256 -> 16 symbols: 4 bits of entropy per byte, so deflate gets about 2x.
        self._half = bytes.maketrans(bytes(range(256)), bytes((i % 16) * 7 + 33 for i in range(256)))

    def _make_corpus(self, size: int) -> bytes:
        rng = self.rng
        parts: list[str] = []
        total = 0
        while total < size:
            roll = rng.random()
            if roll < 0.55:
                token = rng.choice(_WORDS)
            elif roll < 0.85:
                token = rng.choice(_PUNCT)
            elif roll < 0.95:
                token = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz_$") for _ in range(rng.randint(1, 3)))
            else:
                token = str(rng.randint(0, 99999))
            parts.append(token)
            total += len(token)
        return "".join(parts).encode()

    def text(self, size: int) -> bytes:
        corpus = self._corpus
        out = bytearray()
        while len(out) < size:
            start = self.rng.randrange(len(corpus))
            out += corpus[start:start + min(size - len(out), self.rng.randint(4096, 65536))]
        return bytes(out[:size])

    def random(self, size: int) -> bytes:
        return self.rng.randbytes(size)

    def half(self, size: int) -> bytes:
        return self.rng.randbytes(size).translate(self._half)

    def kind(self, kind: str, size: int) -> bytes:
        return {"text": self.text, "random": self.random, "half": self.half}[kind](size)


def _log_uniform(rng: random.Random, low: int, high: int) -> int:
    return int(math.exp(rng.uniform(math.log(low), math.log(high))))


def _write(root: Path, name: str, data: bytes) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def describe(root: Path) -> TreeInfo:
    """Count and fingerprint every regular file under root (sorted, so the digest is stable)."""
    digest = hashlib.sha256()
    files = 0
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            data = path.read_bytes()
            rel = path.relative_to(root).as_posix()
            digest.update(f"{rel}\0{len(data)}\0{hashlib.sha256(data).hexdigest()}\n".encode())
            files += 1
            total += len(data)
    return TreeInfo(str(root), files, total, digest.hexdigest()[:16])


# (category, share of the file count, size range, kinds with weights, folder, extensions)
_PREBUILT_MIX = (
    ("chunks", 0.30, (400, 120_000), (("text", 1.0),), "_next/static/chunks", (".js",)),
    ("css", 0.05, (300, 60_000), (("text", 1.0),), "_next/static/css", (".css",)),
    ("pages", 0.15, (800, 40_000), (("text", 1.0),), "", (".html", ".rsc", ".json")),
    ("images", 0.33, (1_000, 80_000), (("random", 1.0),), "images", (".png", ".jpg", ".webp", ".avif")),
    ("fonts", 0.04, (10_000, 90_000), (("random", 1.0),), "fonts", (".woff2",)),
    ("data", 0.13, (500, 60_000), (("half", 0.7), ("text", 0.3)), "data", (".bin", ".json", ".wasm.map")),
)


def prebuilt_output(root: Path, *, files: int, total_bytes: int, seed: int = 1) -> TreeInfo:
    """A next-on-pages-shaped output: _worker.js/ (entry + function modules, under the 5 MiB limit),
    _next/static, HTML/RSC pages, images, fonts, data, and a few large media and JSON files.

    About ``files`` files and ``total_bytes`` bytes: small files follow the mix above, and the bytes
    they leave over go to a handful of large files (each under Butterbase's 25 MiB asset limit)."""
    content = Content(seed)
    rng = content.rng
    root.mkdir(parents=True, exist_ok=True)
    written = 0
    count = 0
    # The worker: entry, function modules, a source map (dropped by the server), about 2.5 MiB of JS.
    worker_files = max(3, min(40, files // 125))
    _write(root, "_worker.js/index.js", content.text(600_000 if files > 500 else 20_000))
    written += (root / "_worker.js/index.js").stat().st_size
    count += 1
    for index in range(worker_files - 2):
        data = content.text(_log_uniform(rng, 2_000, 80_000))
        _write(root, f"_worker.js/__next-on-pages-dist__/functions/f{index:03d}.func.js", data)
        written += len(data)
        count += 1
    data = content.text(100_000 if files > 500 else 5_000)
    _write(root, "_worker.js/index.js.map", data)
    written += len(data)
    count += 1
    for name, body in (("_routes.json", b'{"version":1,"include":["/*"],"exclude":["/_next/static/*"]}\n'),
                       ("_headers", b"/_next/static/*\n  Cache-Control: public,max-age=31536000,immutable\n")):
        _write(root, name, body)
        written += len(body)
        count += 1
    large = max(1, files // 400)  # 5,000 files -> 12 large files
    small = max(0, files - count - large)
    weights = [share for _, share, *_ in _PREBUILT_MIX]
    # Scale the small files' sizes so that they take about 60 % of the bytes, the large ones the rest.
    small_budget = int(total_bytes * 0.6)
    plans = []
    for index in range(small):
        category = rng.choices(_PREBUILT_MIX, weights)[0]
        _, _, (low, high), kinds, folder, exts = category
        size = _log_uniform(rng, low, high)
        kind = rng.choices([k for k, _ in kinds], [w for _, w in kinds])[0]
        sub = f"{folder}/{index % 37:02d}" if folder else f"p{index % 23:02d}"
        plans.append((f"{sub}/{category[0]}-{index:05d}{rng.choice(exts)}", kind, size))
    raw = sum(size for _, _, size in plans) or 1
    factor = small_budget / raw
    for name, kind, size in plans:
        data = content.kind(kind, max(1, int(size * factor)))
        _write(root, name, data)
        written += len(data)
        count += 1
    remaining = max(0, total_bytes - written)
    for index in range(large):
        size = remaining // (large - index)
        size = min(size, 24 * 1024 * 1024)
        kind = ("random", "text", "half")[index % 3]
        ext = {"random": ".mp4", "text": ".json", "half": ".bin"}[kind]
        data = content.kind(kind, size)
        _write(root, f"media/large-{index:02d}{ext}", data)
        written += len(data)
        remaining -= len(data)
        count += 1
    return describe(root)


def source_tree(root: Path, *, files: int, total_bytes: int, seed: int = 2) -> TreeInfo:
    """A project to package with flow source: package.json, a large package-lock.json, src/ (TS/TSX),
    public/ (images), docs; plus what must be left out: node_modules/, .git/, .next/, *.log."""
    content = Content(seed)
    rng = content.rng
    root.mkdir(parents=True, exist_ok=True)
    _write(root, "package.json", json.dumps({"name": "bench-app", "private": True,
                                             "scripts": {"build": "next build"}}, indent=2).encode())
    _write(root, "package-lock.json", content.text(min(2_000_000, total_bytes // 20)))
    _write(root, ".gitignore", b"node_modules\n.next\n*.log\n.env*\n")
    written = 0
    kinds = (("src", 0.75, "text", (".ts", ".tsx", ".css")), ("public", 0.15, "random", (".png", ".jpg")),
             ("docs", 0.10, "text", (".md", ".mdx")))
    plans = []
    for index in range(max(0, files - 3)):
        folder, _, kind, exts = rng.choices(kinds, [k[1] for k in kinds])[0]
        # About ten files per folder, one or two levels deep, as in an app's src/ (components/ui, ...).
        depth = f"m{rng.randrange(max(2, files // 250)):02d}"
        if rng.random() < 0.6:
            depth += f"/s{rng.randrange(8)}"
        plans.append((f"{folder}/{depth}/file-{index:05d}{rng.choice(exts)}", kind,
                      _log_uniform(rng, 200, 60_000)))
    raw = sum(size for _, _, size in plans) or 1
    factor = total_bytes / raw
    for name, kind, size in plans:
        data = content.kind(kind, max(1, int(size * factor)))
        _write(root, name, data)
        written += len(data)
    # Left out by both packagers: not counted in the tree's size.
    for index in range(max(10, files // 5)):
        _write(root, f"node_modules/pkg{index % 40}/lib/m{index}.js", content.text(_log_uniform(rng, 100, 8_000)))
    for index in range(max(5, files // 50)):
        _write(root, f".git/objects/{index % 256:02x}/{index:038x}", content.random(_log_uniform(rng, 100, 4_000)))
    _write(root, ".next/cache/webpack.pack", content.random(100_000))
    _write(root, "npm-debug.log", b"debug\n")
    return TreeInfo(str(root), 0, 0, "")  # described by the caller from the packaged selection


def flat_output(root: Path, *, files: int, seed: int = 3) -> TreeInfo:
    """Many small assets (the scale test): a tiny worker plus ``files`` files of 200 B - 4 KiB,
    100 per folder."""
    content = Content(seed, corpus_bytes=256 * 1024)
    rng = content.rng
    _write(root, "_worker.js",
           b"export default { async fetch(request, env) { return env.ASSETS.fetch(request); } };\n")
    for index in range(files - 1):
        size = _log_uniform(rng, 200, 4_096)
        data = content.text(size) if index % 3 else content.random(size)
        _write(root, f"assets/{index // 100:04d}/a{index:06d}.{'js' if index % 3 else 'png'}", data)
    return describe(root)


def big_file(path: Path, size: int, seed: int = 4) -> None:
    """One large file (the lockfile-hash and upload payloads), written in 8 MiB pieces."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        left = size
        while left:
            piece = min(left, 8 * 1024 * 1024)
            handle.write(rng.randbytes(piece))
            left -= piece
