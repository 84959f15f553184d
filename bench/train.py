"""Benchmark one training iteration (G step + D step, R1 and density regularisation amortised over their
intervals) of a preset on this machine, on a small synthetic set built on the fly.

    .venv/bin/python bench/train.py [--preset tiny] [--batch 8] [--steps 32] [--threads 2] [--device cpu]
        [--set KEY=VALUE ...] [--out bench/train.json]

Prints one JSON object; --steps should be a multiple of 16 so every regulariser is amortised fairly.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
from pathlib import Path

from report import emit, machine, seconds_per_call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    import torch

    from pipelines.core.runtime import tune_allocator

    tune_allocator()

    from pipelines.core.device import resolve_device
    from pipelines.core.encoders import load_encoder
    from pipelines.core.parsing import load_parser
    from pipelines.data.synthetic import SyntheticConfig
    from pipelines.prepare import prepare_synthetic
    from pipelines.train import TrainRequest, resolve_request_config
    from pipelines.training.data import TrainingSet
    from pipelines.training.loop import Trainer

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        prepare_synthetic(
            SyntheticConfig(num_images=64, resolution=64, seed=0, compile="never", device="cpu"), data
        )
        overrides = [f"train.batch={args.batch}", f"train.batch_gpu={args.batch}", *args.overrides]
        config = resolve_request_config(
            TrainRequest(data=data, out=Path(folder), preset=args.preset, overrides=tuple(overrides))
        )
        encoder = load_encoder(config.generator.text_encoder, device)
        trainer = Trainer(
            config,
            TrainingSet(data, config.generator.image_resolution, encoder),
            encoder,
            load_parser(config.train.parser, device),
            device,
        )
        for _ in range(args.warmup):
            trainer.train_step()
        trainer.step = 0  # time whole regulariser cycles from a cycle start
        seconds = seconds_per_call(lambda _: trainer.train_step(), 0, args.steps, device)
    report = {
        "benchmark": "train",
        "preset": args.preset,
        "batch": args.batch,
        "steps": args.steps,
        "threads": args.threads,
        "device": str(device),
        **machine(),
        "overrides": args.overrides,
        "s_per_iteration": round(seconds, 4),
        "images_per_s": round(args.batch / seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    emit(report, args.out)


if __name__ == "__main__":
    main()
