"""`tg3dface train`: train the text-conditioned 3D GAN on a dataset folder."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from tg3dface_cli.common import (
    DeviceOption,
    JsonOption,
    Output,
    QuietOption,
    VerboseOption,
    WeightsDirOption,
    handle_errors,
)

EPILOG = """Examples:

  tg3dface train --data data/synth --out runs --preset tiny

  tg3dface train --data data/synth --out runs --preset tiny --set loss.fine=0 --name no-fine

  tg3dface train --data data/synth --out runs --preset tiny --resume auto

  torchrun --nproc_per_node 8 -m tg3dface_cli.app train --data data/mmceleba --out runs --preset ffhq512
"""


def train(
    data: Annotated[Path, typer.Option("--data", "-d", help="Dataset folder (tg3dface prepare).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder of run folders.")] = Path("runs"),
    preset: Annotated[str, typer.Option("--preset", help="tiny, small or ffhq512.")] = "tiny",
    config_file: Annotated[
        Path | None, typer.Option("--config", help="A run's config.json to reproduce.")
    ] = None,
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="Override a field: SECTION.FIELD=VALUE.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Run folder name.")] = None,
    resume: Annotated[
        str | None, typer.Option("--resume", help="auto, or a run / checkpoint folder.")
    ] = None,
    max_steps: Annotated[
        int | None, typer.Option("--max-steps", help="Shortcut for --set train.max_steps=N.")
    ] = None,
    batch: Annotated[int | None, typer.Option("--batch", help="Global batch (train.batch).")] = None,
    batch_gpu: Annotated[
        int | None, typer.Option("--batch-gpu", help="Per-pass batch (train.batch_gpu).")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Shortcut for --set train.seed=N.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the resolved config and exit.")] = False,
    weights_dir: WeightsDirOption = None,
    device: DeviceOption = "auto",
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Train the text-conditioned tri-plane GAN; writes a run folder with checkpoints (model bundles)."""
    from pipelines.train import TrainRequest, resolve_request_config
    from pipelines.train import train as run_train
    from pipelines.training.config import run_config_dict

    output = Output(json_output, quiet, verbose)
    shortcuts = {
        "train.max_steps": max_steps,
        "train.batch": batch,
        "train.batch_gpu": batch_gpu,
        "train.seed": seed,
    }
    all_overrides = [*(overrides or []), *(f"{k}={v}" for k, v in shortcuts.items() if v is not None)]
    request = TrainRequest(
        data=data,
        out=out,
        preset=preset,
        overrides=tuple(all_overrides),
        config_file=config_file,
        name=name,
        resume=resume,
        device=device,
        weights_dir=weights_dir,
    )
    with handle_errors(verbose):
        if dry_run:
            config = run_config_dict(resolve_request_config(request))
            output.result({"config": config}, str(out), json.dumps(config, indent=2))
            return
        with output.progress("training", None) as advance:
            result = run_train(request, on_event=_event_printer(output, advance))
    payload = {
        "run": str(result.run_dir),
        "checkpoint": str(result.checkpoint) if result.checkpoint else None,
        "step": result.step,
        "interrupted": result.interrupted,
        "elapsed_s": round(result.elapsed_s, 1),
    }
    state = "interrupted; checkpoint saved" if result.interrupted else "done"
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun only rank 0 reports: --json is one object
        output.result(payload, str(result.run_dir), f"{state}: step {result.step}, run {result.run_dir}")


def _event_printer(output: Output, advance):
    """Turn training events into log lines on stderr (one per log interval) and progress."""
    last = {"step": 0}

    def on_event(event: dict) -> None:
        if event["event"] == "step":
            advance(event["step"] - last["step"])
            last["step"] = event["step"]
            losses = " ".join(f"{k}={v:.3f}" for k, v in event.items() if k[:2] in ("G_", "D_"))
            eta = (event["max_steps"] - event["step"]) * event["sec_per_step"]
            output.log(
                f"step {event['step']}/{event['max_steps']} {1 / event['sec_per_step']:.2f} steps/s "
                f"{event['images_per_s']:.1f} img/s eta {eta / 60:.1f} min | {losses}"
            )
        elif event["event"] == "checkpoint":
            output.log(f"checkpoint {event['path']}")
        elif event["event"] == "eval":
            results = {k: v for k, v in event.items() if k not in ("event", "step")}
            output.log(f"eval at step {event['step']}: {json.dumps(results)}")
        else:
            output.log(event.get("message", ""))
        sys.stderr.flush()

    return on_event
