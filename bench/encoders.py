"""Benchmark the synthetic-domain CLIP architectures: one `train-clip` step (loss, backward, AdamW) and
image encoding at inference, on a small synthetic set built on the fly.

    .venv/bin/python bench/encoders.py [--models tg3dface-synthetic-rn96 tg3dface-synthetic-rn ...]
        [--batch 128] [--steps 10] [--threads 2] [--device cpu] [--out bench/encoders.json]

Prints one JSON object with a row per architecture.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from report import emit, machine, seconds_per_call

DEFAULT_MODELS = ("tg3dface-synthetic-rn96", "tg3dface-synthetic-rn", "tg3dface-synthetic")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    import torch

    from pipelines.core.device import resolve_device
    from pipelines.data.synthetic import SyntheticConfig
    from pipelines.prepare import prepare_synthetic

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        prepare_synthetic(
            SyntheticConfig(num_images=args.batch * 2, resolution=64, seed=0, compile="never", device="cpu"),
            data,
        )
        rows = [_bench_model(name, data, args, device) for name in args.models]
    report = {
        "benchmark": "encoders",
        "batch": args.batch,
        "steps": args.steps,
        "threads": args.threads,
        "device": str(device),
        **machine(),
        "models": rows,
    }
    emit(report, args.out)


def _bench_model(name: str, data: Path, args: argparse.Namespace, device) -> dict:
    """Seconds per training step and milliseconds per encoded image of architecture `name`."""
    import torch

    from pipelines.core.encoders import ClipEncoder
    from pipelines.encoders_training.clip import ClipTrainConfig, ContrastiveStep, build_clip
    from pipelines.encoders_training.data import load_split, to_unit_range
    from pipelines.encoders_training.loop import make_optimizer

    config = ClipTrainConfig(model=name, batch=args.batch)
    model, tokenizer = build_clip(name, config.seed)
    model.to(device)
    split = load_split(data, "train")
    step_loss = ContrastiveStep(model, tokenizer, split, config, device)
    optimizer = make_optimizer(model, config)

    def train_step(step: int) -> None:
        loss, _ = step_loss(step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    train_s = seconds_per_call(train_step, args.warmup, args.steps, device)
    encoder = ClipEncoder(model, tokenizer, name)
    images = to_unit_range(split.images[: args.batch]).to(device)
    with torch.no_grad():
        encode_s = seconds_per_call(lambda _: encoder.encode_image(images), args.warmup, args.steps, device)
    return {
        "model": name,
        "image_input_px": encoder.image_size[0],
        "parameters_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
        "train_s_per_step": round(train_s, 4),
        "train_min_per_3600_steps": round(train_s * 3600 / 60, 1),
        "encode_ms_per_image": round(encode_s * 1000 / args.batch, 3),
    }


if __name__ == "__main__":
    main()
