"""`tg3dface prepare`: build dataset folders. `prepare synthetic` makes the procedural text–face world."""

from __future__ import annotations

from enum import Enum
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
    usage_error,
)

app = typer.Typer(
    help="Build a dataset folder (DESIGN §3.1).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
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
