"""`tg3dface encoders`: train and evaluate the small synthetic-domain CLIP and face parser."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tg3dface_cli.common import (
    DeviceOption,
    JsonOption,
    Output,
    OverwriteOption,
    QuietOption,
    SeedOption,
    VerboseOption,
    handle_errors,
)

app = typer.Typer(
    help="Train and evaluate the small CLIP and face parser of the synthetic world (the offline defaults).",
    no_args_is_help=True,
)

DataOption = Annotated[Path, typer.Option("--data", "-d", help="Synthetic dataset folder (no --holdout).")]
RunOption = Annotated[Path, typer.Option("--out", "-o", help="Run folder; the model lands in OUT/model/.")]
ResumeOption = Annotated[bool, typer.Option("--resume", help="Continue from OUT/state/ if it exists.")]
ThreadsOption = Annotated[int, typer.Option("--threads", min=1, help="CPU threads for torch.")]


def _run(output: Output, description: str, steps: int, train_fn) -> None:
    """Drive a trainer with a progress bar and one log line per log interval; print the result."""
    last = {"step": 0}
    with output.progress(description, steps) as advance:

        def on_progress(line: dict) -> None:
            advance(line["step"] - last["step"])
            last["step"] = line["step"]
            numbers = " ".join(f"{k}={v:.4g}" for k, v in line.items() if k not in ("step", "steps"))
            output.log(f"step {line['step']}/{line['steps']} {numbers}")

        result = train_fn(on_progress)
    payload = {
        "run": str(result.run_dir),
        "model": str(result.model_dir) if result.step == steps else None,
        "step": result.step,
        "elapsed_s": round(result.elapsed_s, 1),
    }
    main = payload["model"] or str(result.run_dir)
    output.result(payload, main, f"step {result.step}/{steps} in {result.elapsed_s / 60:.1f} min: {main}")


@app.command("train-clip")
def train_clip(
    data: DataOption,
    out: RunOption,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Optimiser steps.")] = 3600,
    batch: Annotated[int, typer.Option("--batch", min=2, help="Image–caption pairs per step.")] = 128,
    lr: Annotated[float, typer.Option("--lr", help="Peak learning rate.")] = 1e-3,
    model: Annotated[
        str, typer.Option("--model", help="open_clip architecture name.")
    ] = "tg3dface-synthetic-rn96",
    short_captions: Annotated[
        float,
        typer.Option(
            "--short-captions", min=0.0, max=1.0, help="Share of texts that are short one-attribute captions."
        ),
    ] = 0.5,
    negatives: Annotated[
        int, typer.Option("--negatives", min=0, help="Attribute-swapped negatives per text (0: none).")
    ] = 2,
    resume: ResumeOption = False,
    threads: ThreadsOption = 1,
    seed: SeedOption = 0,
    device: DeviceOption = "cpu",
    overwrite: OverwriteOption = False,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Train a small open_clip model contrastively on synthetic image–caption pairs."""
    import torch

    from pipelines.encoders_training.clip import ClipTrainConfig
    from pipelines.encoders_training.clip import train_clip as run

    torch.set_num_threads(threads)
    output = Output(json_output, quiet, verbose)
    config = ClipTrainConfig(
        steps=steps,
        batch=batch,
        lr=lr,
        model=model,
        seed=seed,
        short_captions=short_captions,
        negatives_per_text=negatives,
    )
    with handle_errors(verbose):
        _run(
            output,
            "training CLIP",
            steps,
            lambda progress: run(data, out, config, resume, overwrite, progress, device=device),
        )


@app.command("train-parser")
def train_parser(
    data: DataOption,
    out: RunOption,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Optimiser steps.")] = 2000,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Images per step.")] = 32,
    lr: Annotated[float, typer.Option("--lr", help="Peak learning rate.")] = 2e-3,
    width: Annotated[int, typer.Option("--width", min=4, help="SmallParser first-level channels.")] = 16,
    resume: ResumeOption = False,
    threads: ThreadsOption = 1,
    seed: SeedOption = 0,
    device: DeviceOption = "cpu",
    overwrite: OverwriteOption = False,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Train SmallParser on synthetic images and their exact 19-class label maps."""
    import torch

    from pipelines.encoders_training.parser import ParserTrainConfig
    from pipelines.encoders_training.parser import train_parser as run

    torch.set_num_threads(threads)
    output = Output(json_output, quiet, verbose)
    config = ParserTrainConfig(steps=steps, batch=batch, lr=lr, width=width, seed=seed)
    with handle_errors(verbose):
        _run(
            output,
            "training parser",
            steps,
            lambda progress: run(data, out, config, resume, overwrite, progress, device=device),
        )


@app.command("evaluate")
def evaluate(
    data: Annotated[Path, typer.Option("--data", "-d", help="Synthetic dataset folder to score on.")],
    clip: Annotated[
        str | None, typer.Option("--clip", help="Encoder spec to score, e.g. builtin:synthetic-clip-v3.")
    ] = None,
    parser: Annotated[
        str | None, typer.Option("--parser", help="Parser spec to score, e.g. builtin:synthetic-parser.")
    ] = None,
    split: Annotated[str, typer.Option("--split", help="train, test or ood_test.")] = "test",
    limit: Annotated[int, typer.Option("--limit", min=0, help="Score only the first N images.")] = 0,
    out_file: Annotated[Path | None, typer.Option("--out", help="Also write the JSON here.")] = None,
    weights_dir: Annotated[
        Path | None, typer.Option("--weights-dir", help="Weights folder (facexlib:bisenet, tags).")
    ] = None,
    threads: ThreadsOption = 1,
    device: DeviceOption = "cpu",
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Score encoders on held-out synthetic images: CLIP zero-shot accuracy per attribute family and
    retrieval, parser mean IoU."""
    import torch

    from pipelines.core.io import write_json_atomic
    from pipelines.encoders_training.evaluate import EvalRequest, evaluate_encoders, format_report

    torch.set_num_threads(threads)
    output = Output(json_output, quiet, verbose)
    if clip is None and parser is None:
        from tg3dface_cli.common import usage_error

        usage_error("give --clip SPEC and/or --parser SPEC")
    request = EvalRequest(data, split, clip, parser, limit, device, weights_dir)
    with handle_errors(verbose):
        report = evaluate_encoders(request)
        if out_file is not None:
            write_json_atomic(out_file, report)
    output.result(report, str(out_file or data), format_report(report))
