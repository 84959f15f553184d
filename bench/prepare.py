"""Benchmark `tg3dface prepare SRC --out DATA` on real photos: source images per second for the whole command
(process start, model loading, decoding, dlib detection, alignment, pose, parsing, writing), on CPU.

The source is N copies of `skimage.data.astronaut()` (512 px, one face) with a caption each. Cases: no
parsing; facexlib's BiSeNet (randomly initialised weights saved under the upstream name: the same cost as
the real ones); BiSeNet with 2 workers; --mirror.

    .venv/bin/python bench/prepare.py [--num 24] [--out FILE]

Prints one JSON object; writes it to --out when given.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import emit

CLI = Path(sys.executable).parent / "tg3dface"


def _source(root: Path, num: int) -> Path:
    import skimage.data
    from PIL import Image

    source = root / "photos"
    source.mkdir()
    image = Image.fromarray(skimage.data.astronaut())
    for index in range(num):
        image.save(source / f"{index:04d}.jpg", quality=95)
        (source / f"{index:04d}.txt").write_text("The woman has short brown hair and is smiling.\n")
    return source


def _weights(root: Path) -> Path:
    """A weights home with a random BiSeNet under facexlib's file name."""
    import torch
    from facexlib.parsing.bisenet import BiSeNet

    home = root / "weights"
    (home / "facexlib").mkdir(parents=True)
    torch.save(BiSeNet(num_class=19).state_dict(), home / "facexlib" / "parsing_bisenet.pth")
    return home


def _run(source: Path, out: Path, num: int, *options: str) -> dict:
    start = time.perf_counter()
    done = subprocess.run(
        [str(CLI), "prepare", str(source), "--out", str(out), "--json", "--device", "cpu", *options],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    result = json.loads(done.stdout)
    return {
        "source_images": num,
        "images_written": result["num_images"],
        "rejected": result["rejected"],
        "seconds": round(seconds, 2),
        "source_images_per_second": round(num / seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=24)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    results: dict = {
        "benchmark": "tg3dface prepare SRC --out DATA (whole command): 512 px photos -> 512 px crops",
        "cpu_count": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = _source(root, args.num)
        home = str(_weights(root))
        bisenet = ("--parser", "facexlib:bisenet", "--weights-dir", home)
        cases = {
            "dlib_no_parse_workers1": ("--no-parse",),
            "dlib_bisenet_workers1": bisenet,
            "dlib_bisenet_workers2": (*bisenet, "--workers", "2"),
            "dlib_bisenet_mirror_workers1": (*bisenet, "--mirror"),
        }
        for name, options in cases.items():
            results[name] = _run(source, root / name, args.num, *options)
    results["loadavg_end"] = os.getloadavg()
    emit(results, args.out)


if __name__ == "__main__":
    main()
