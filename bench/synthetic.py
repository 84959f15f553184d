"""Benchmark `prepare synthetic`: images per minute end to end (plan, render, write files), eager and
compiled, at 64 and 128 px, with 1 and 2 worker processes. Compile warm-up is measured separately (a small
build first; the 2-worker case includes each worker's own warm-up).

    .venv/bin/python bench/synthetic.py [--eager-num 32] [--compiled-num 256] [--out FILE]

Prints one JSON object; writes it to --out when given.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from report import emit


def _build(root: Path, name: str, num: int, resolution: int, compile_mode: str, workers: int = 1) -> float:
    """Seconds for one full build."""
    from pipelines.data.synthetic import SyntheticConfig
    from pipelines.prepare import prepare_synthetic

    config = SyntheticConfig(
        num_images=num, resolution=resolution, compile=compile_mode, device="cpu", seed=1
    )
    start = time.perf_counter()
    prepare_synthetic(config, root / name)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eager-num", type=int, default=32)
    parser.add_argument("--compiled-num", type=int, default=256)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    import torch

    results: dict = {
        "benchmark": "prepare synthetic (plan + render + write), threads per process: 1",
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "loadavg_start": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        results["compile_warmup_s"] = round(_build(root, "warm64", 32, 64, "always"), 1)
        _build(root, "warm128", 32, 128, "always")
        cases = [
            ("eager", 64, args.eager_num, 1),
            ("compiled", 64, args.compiled_num, 1),
            ("compiled", 64, args.compiled_num, 2),
            ("compiled", 128, args.compiled_num // 2, 1),
        ]
        for mode, resolution, num, workers in cases:
            compile_mode = "never" if mode == "eager" else "always"
            seconds = _build(root, f"{mode}{resolution}w{workers}", num, resolution, compile_mode, workers)
            results[f"{mode}_{resolution}px_workers{workers}"] = {
                "images": num,
                "seconds": round(seconds, 2),
                "images_per_minute": round(60.0 * num / seconds, 1),
            }
    results["loadavg_end"] = os.getloadavg()
    emit(results, args.out)


if __name__ == "__main__":
    main()
