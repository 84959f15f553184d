"""`tg3dface prepare`: build dataset folders.

`tg3dface prepare SRC --out DATA` prepares real images with captions (docs/prepare.md); `tg3dface prepare
synthetic --out DATA` makes the procedural text–face world; `tg3dface prepare --check DATA` validates a
folder. The group routes any first argument that is not a sub-command name to the hidden `real` command.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import click
import typer
from typer.core import TyperGroup

from tg3dface_cli.common import (
    DeviceOption,
    JsonOption,
    Output,
    OverwriteOption,
    QuietOption,
    SeedOption,
    VerboseOption,
    fail,
    handle_errors,
    usage_error,
)

REAL_COMMAND = "real"
HELP_OPTIONS = ("-h", "--help")


class PrepareGroup(TyperGroup):
    """`prepare SRC ...` and `prepare --check DATA` run the `real` command; `prepare synthetic` its own."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in HELP_OPTIONS:
            args = [REAL_COMMAND, *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=PrepareGroup,
    help="Build a dataset folder (DESIGN §3.1).\n\n"
    "tg3dface prepare SRC --out DATA: real images with captions (options: tg3dface prepare SRC --help).\n\n"
    "tg3dface prepare --check DATA: validate a dataset folder, one line per problem.\n\n"
    "tg3dface prepare synthetic --out DATA: the procedural text-face world.",
    no_args_is_help=True,
    context_settings={"help_option_names": list(HELP_OPTIONS)},
)


class Resolution(str, Enum):  # noqa: UP042 (StrEnum needs Python 3.11)
    """Image sizes `prepare synthetic` offers."""

    r64 = "64"
    r128 = "128"
    r256 = "256"


@app.command("synthetic")
def synthetic(
    out: Annotated[Path, typer.Option("--out", help="Dataset folder to create.")],
    num: Annotated[int, typer.Option("--num", min=1, help="Number of images.")] = 1000,
    resolution: Annotated[
        Resolution, typer.Option("--resolution", help="Image side in pixels.")
    ] = Resolution.r64,
    seed: SeedOption = 0,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Worker processes (output is identical).")
    ] = 1,
    holdout: Annotated[
        list[str] | None,
        typer.Option("--holdout", help="ATTRIBUTE=VALUE[,VALUE]: keep these out of train (ood_test split)."),
    ] = None,
    meshes: Annotated[
        bool, typer.Option("--meshes", help="Also write each head as meshes/<id>.ply.")
    ] = False,
    encoder: Annotated[
        str | None, typer.Option("--encoder", help="Text encoder spec; caches caption features.")
    ] = None,
    supersample: Annotated[
        int, typer.Option("--supersample", min=1, max=4, help="K x K RGB samples per pixel.")
    ] = 1,
    compile_mode: Annotated[
        str, typer.Option("--compile", help="auto, always or never (torch.compile of the SDF).")
    ] = "auto",
    device: DeviceOption = "auto",
    overwrite: OverwriteOption = False,
    json_mode: JsonOption = False,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Render procedural heads with exact captions, parsing, depth, cameras and landmarks."""
    from pipelines.data.synthetic import SyntheticConfig
    from pipelines.errors import InvalidInputError
    from pipelines.prepare import prepare_synthetic

    output = Output(json_mode=json_mode, quiet=quiet, verbose=verbose)
    config = SyntheticConfig(
        num_images=num,
        resolution=int(resolution.value),
        seed=seed,
        holdout=tuple(holdout or ()),
        supersample=supersample,
        meshes=meshes,
        workers=workers,
        compile=compile_mode,
        encoder=encoder,
        device=device,
    )
    try:
        config.validate()
    except InvalidInputError as error:
        usage_error(str(error))
    with handle_errors(verbose):
        output.log(f"rendering {num} synthetic faces at {config.resolution} px into {out}")
        with output.progress("rendering", total=num) as advance:
            result = prepare_synthetic(config, out, overwrite=overwrite, progress=advance)
        counts = ", ".join(f"{n} {split}" for split, n in result.counts.items())
        summary = f"wrote {result.path} ({counts}; {result.images_per_minute:.0f} images/min)"
        output.result(result.to_dict(), str(result.path), summary)


@app.command(REAL_COMMAND, hidden=True)
def real(
    source: Annotated[Path, typer.Argument(help="Source folder (or, with --check, a dataset folder).")],
    out: Annotated[Path | None, typer.Option("--out", help="Dataset folder to create.")] = None,
    layout: Annotated[
        str, typer.Option("--layout", help="auto, mm-celeba-hq, celebatext-hq, ffhq-text or generic.")
    ] = "auto",
    resolution: Annotated[int, typer.Option("--resolution", help="Side of the aligned crops.")] = 512,
    mirror: Annotated[bool, typer.Option("--mirror", help="Add flipped copies with flipped poses.")] = False,
    parse: Annotated[
        bool, typer.Option("--parse/--no-parse", help="Write parsing maps (--no-parse: all background).")
    ] = True,
    parser: Annotated[
        str, typer.Option("--parser", help="Parser for images without masks (a load_parser spec).")
    ] = "facexlib:bisenet",
    detector: Annotated[str, typer.Option("--detector", help="auto, dlib or retinaface.")] = "auto",
    weights_dir: Annotated[
        Path | None, typer.Option("--weights-dir", help="Weights folder (default $TG3DFACE_HOME).")
    ] = None,
    encoder: Annotated[
        str | None, typer.Option("--encoder", help="Text encoder spec; caches caption features.")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run.")] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes.")] = 1,
    pose_template: Annotated[
        str, typer.Option("--pose-template", help="human, or synthetic for procedural heads.")
    ] = "human",
    check: Annotated[
        bool, typer.Option("--check", help="Validate the dataset folder SRC and list its problems.")
    ] = False,
    device: DeviceOption = "auto",
    overwrite: OverwriteOption = False,
    json_mode: JsonOption = False,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Prepare real face images with captions: detect, align, pose, parse, split captions into parts."""
    output = Output(json_mode=json_mode, quiet=quiet, verbose=verbose)
    if check:
        _check(source, output)
        return
    if out is None:
        usage_error("--out DATA is required (or pass --check to validate SRC)")
    from pipelines.core.faces import DetectorConfig
    from pipelines.data.real import RealDataConfig
    from pipelines.errors import InvalidInputError
    from pipelines.prepare import prepare_real

    config = RealDataConfig(
        layout=layout,
        resolution=resolution,
        mirror=mirror,
        parse=parse,
        parser=parser,
        detector=DetectorConfig(detector=detector, weights_dir=str(weights_dir) if weights_dir else None),
        pose_template=pose_template,
        encoder=encoder,
        workers=workers,
        device=device,
    )
    try:
        config.validate()
    except InvalidInputError as error:
        usage_error(str(error))
    with handle_errors(verbose), output.progress("preparing", total=None) as advance:
        try:
            result = prepare_real(source, out, config, overwrite=overwrite, resume=resume, progress=advance)
        except KeyboardInterrupt:
            fail("interrupted; finished images are kept: run the same command with --resume to go on", 130)
        counts = ", ".join(f"{n} {split}" for split, n in result.counts.items())
        rejected = f"{result.rejected} rejected (rejected.jsonl)" if result.rejected else "none rejected"
        summary = f"wrote {result.path} ({counts}; {rejected}; {result.images_per_minute:.0f} images/min)"
    output.result(result.to_dict(), str(result.path), summary)


def _check(folder: Path, output: Output) -> None:
    """Print every problem of a dataset folder on stderr, one line each (exit 1), or report it sound."""
    from pipelines.data.real.check import check_dataset

    problems = check_dataset(folder)
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    if output.json_mode or not problems:
        payload = {"path": str(folder), "ok": not problems, "problems": problems}
        output.result(payload, str(folder), f"{folder}: ok")
    if problems:
        raise typer.Exit(1)
