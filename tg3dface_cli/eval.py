"""`tg3dface eval`: FID/KID, CLIP score, MVIC, attribute accuracy and view-warp consistency of model bundles.

`tg3dface eval train-reader` trains an attribute reader for `--metrics attr` (default: the shipped one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from tg3dface_cli.common import (
    DeviceOption,
    GuidanceLrOption,
    GuidanceRegOption,
    GuidanceSpaceOption,
    GuidanceStepsOption,
    JsonOption,
    NeutralPromptOption,
    Output,
    OverwriteOption,
    QuietOption,
    SeedOption,
    VerboseOption,
    WeightsDirOption,
    guidance_options,
    handle_errors,
    usage_error,
)

EPILOG = """Examples:

  tg3dface eval --model runs/x/checkpoints/step-00004000 --data data/faces --json --out metrics.json

  tg3dface eval -m random:tiny -m runs/x/checkpoints/step-00004000 --data data/faces --metrics fid,clip

  tg3dface eval train-reader --data data/synthetic-reader --out readers/r64

  tg3dface eval --model BUNDLE --data data/synthetic --metrics attr,warp --reader readers/r64

  tg3dface eval --model BUNDLE --data data/synthetic --metrics attr,clip --guidance 20
"""

app = typer.Typer(
    help="Measure models: FID/KID, CLIP score, MVIC, attribute accuracy, view-warp consistency.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback(invoke_without_command=True, epilog=EPILOG)
def eval_(
    ctx: typer.Context,
    models: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="Model bundle folder or random:PRESET; repeat to compare models."),
    ] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Data set folder (tg3dface prepare).")] = None,
    metrics: Annotated[
        str | None,
        typer.Option(
            "--metrics",
            help="Comma list of fid,kid,clip,mvic,warp,attr (default: all but attr; attr too with --reader).",
        ),
    ] = None,
    num_samples: Annotated[
        int, typer.Option("--num-samples", "-n", help="Generated samples per model.")
    ] = 1000,
    seed: SeedOption = 0,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Samples rendered and encoded together.")
    ] = 8,
    split: Annotated[
        str, typer.Option("--split", help="Split whose captions and cameras are used.")
    ] = "test",
    encoder: Annotated[
        str | None, typer.Option("--encoder", help="CLIP-score encoder spec (default: the model's).")
    ] = None,
    inception_weights: Annotated[
        Path | None,
        typer.Option(
            "--inception-weights", help="FID Inception weights file (.pth/.safetensors/TorchScript)."
        ),
    ] = None,
    identity: Annotated[
        str, typer.Option("--identity", help="MVIC identity model: dlib or arcface.")
    ] = "dlib",
    arcface_weights: Annotated[
        Path | None, typer.Option("--arcface-weights", help="facexlib recognition_arcface_ir_se50.pth.")
    ] = None,
    reader: Annotated[
        Path | None, typer.Option("--reader", help="Attribute reader folder (default: the shipped one).")
    ] = None,
    reference_samples: Annotated[
        int,
        typer.Option(
            "--reference-samples",
            help="Samples whose true heads give the warp/mvic ground truth (synthetic sets; 0: none).",
        ),
    ] = 64,
    weights_dir: WeightsDirOption = None,
    guidance: GuidanceStepsOption = 0,
    guidance_lr: GuidanceLrOption = 0.02,
    guidance_reg: GuidanceRegOption = 0.5,
    guidance_space: GuidanceSpaceOption = "w",
    neutral_prompt: NeutralPromptOption = "a photo of a face",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Also write the metrics JSON here.")] = None,
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="Override a random: model's preset field, KEY=VALUE.")
    ] = None,
    device: DeviceOption = "auto",
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Evaluate model bundles on a data set and print the metrics (DESIGN §3.5, §7)."""
    if ctx.invoked_subcommand is not None:
        return
    from pipelines.evaluate import DEFAULT_METRICS, METRICS, EvalConfig, evaluate
    from pipelines.metrics.identity import IDENTITY_MODELS, IdentityConfig

    output = Output(json_output, quiet, verbose)
    with handle_errors(verbose):
        if not models:
            usage_error("give at least one --model (a bundle folder or random:PRESET)")
        if data is None:
            usage_error("--data DATA is required (a data set folder from tg3dface prepare)")
        chosen = (
            _parse_list(metrics, METRICS, "--metrics")
            if metrics
            else DEFAULT_METRICS + (("attr",) if reader else ())
        )
        if num_samples < 2:
            usage_error("--num-samples must be at least 2")
        if batch_size < 1:
            usage_error("--batch-size must be at least 1")
        if reference_samples < 0:
            usage_error("--reference-samples must be at least 0")
        if identity not in IDENTITY_MODELS:
            usage_error(f"--identity {identity!r}: expected {' or '.join(IDENTITY_MODELS)}")
        config = EvalConfig(
            models=tuple(models),
            data=data,
            metrics=chosen,
            num_samples=num_samples,
            seed=seed,
            batch_size=batch_size,
            device=device,
            split=split,
            encoder=encoder,
            inception_weights=str(inception_weights) if inception_weights else None,
            identity=IdentityConfig(identity, str(arcface_weights) if arcface_weights else None),
            reader=str(reader) if reader else None,
            reference_samples=reference_samples,
            weights_dir=weights_dir,
            model_overrides=tuple(overrides or ()),
            guidance=guidance_options(guidance, guidance_lr, guidance_reg, guidance_space, neutral_prompt),
            out=out,
        )
        for model in models:
            if model.startswith("random:"):
                output.warn(f"{model} is a randomly initialised network, not a trained model")
        with _progress(output) as progress:
            result = evaluate(config, progress)
    if not (json_output or quiet):
        from tg3dface_cli.eval_table import metrics_table

        output.console.print(metrics_table(result.reports))
    summary = f"evaluated {len(result.reports)} model(s) in {result.elapsed_s:.1f} s" + "".join(
        f"\nwrote {path}" for path in result.written
    )
    output.result(result.payload, str(out) if out else "", summary)


@app.command(
    "train-reader", epilog="Example:\n\n  tg3dface eval train-reader --data data/synthetic --out readers/r64"
)
def train_reader(
    data: Annotated[
        Path, typer.Option("--data", help="A synthetic data set folder (ground-truth attributes).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Reader folder to create.")],
    epochs: Annotated[int, typer.Option("--epochs", help="Passes over the images.")] = 30,
    families: Annotated[
        str | None,
        typer.Option(
            "--families", help="Comma list of attribute families (default: those visible at 64 px)."
        ),
    ] = None,
    seed: SeedOption = 0,
    overwrite: OverwriteOption = False,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Train the attribute reader (a small CNN) on a synthetic data set's ground truth."""
    from pipelines.metrics.attributes import DEFAULT_FAMILIES, FAMILIES
    from pipelines.metrics.reader import ReaderConfig, train_reader_on_dataset

    output = Output(json_output, quiet, verbose)
    with handle_errors(verbose):
        chosen = _parse_list(families, tuple(FAMILIES), "--families") if families else DEFAULT_FAMILIES
        if epochs < 1:
            usage_error("--epochs must be at least 1")
        config = ReaderConfig(families=chosen, epochs=epochs, seed=seed)
        with output.progress("training reader", epochs) as advance:
            path, validation = train_reader_on_dataset(data, out, config, overwrite, advance)
    payload = {"out": str(path), "validation": validation}
    lines = [
        f"  {name:12s} {value:.3f}"
        for name, value in validation.get("families", {}).items()
        if value is not None
    ]
    summary = f"wrote {path}; validation accuracy {validation.get('overall')}\n" + "\n".join(lines)
    output.result(payload, str(path), summary)


def _parse_list(text: str, known: tuple[str, ...], option: str) -> tuple[str, ...]:
    """'a,b' -> ('a', 'b'), each checked against `known` (a usage error names the first unknown one)."""
    items = tuple(dict.fromkeys(item.strip() for item in text.split(",") if item.strip()))
    for item in items:
        if item not in known:
            usage_error(f"{option} {item!r}: choose from {', '.join(known)}")
    if not items:
        usage_error(f"{option} is empty")
    return items


@contextmanager
def _progress(output: Output) -> Iterator[Callable[[str, int, int], None]]:
    """A progress(task, advance, total) callback with one bar per task, shown only on a terminal."""
    if not output.show_progress:
        yield lambda task, advance, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=output.console, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def advance(task: str, count: int, total: int) -> None:
            if task not in tasks:
                tasks[task] = bar.add_task(task, total=total)
            bar.advance(tasks[task], count)

        yield advance
