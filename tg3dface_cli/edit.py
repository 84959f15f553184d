"""`tg3dface edit`: change a generated (or inverted) face with text; writes a new sample bundle set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tg3dface_cli.common import (
    DeviceOption,
    IsoOption,
    JsonOption,
    MeshOption,
    MeshResOption,
    NoDepthOption,
    Output,
    OverwriteOption,
    QuietOption,
    VerboseOption,
    VideoFormatOption,
    VideoFramesOption,
    VideoOption,
    ViewsOption,
    WeightsDirOption,
    handle_errors,
    sample_outputs,
    usage_error,
)

EPILOG = """Examples:

  tg3dface edit outputs/red/a-woman-with-red-hair-seed0 "with blond hair" --out outputs/blond

  tg3dface edit outputs/red "wearing eyeglasses" --mode direction --strength 0.8 --out outputs/glasses
"""


def edit(
    source: Annotated[
        Path, typer.Argument(help="A sample folder, or a sample set folder (all its samples).")
    ],
    text: Annotated[str, typer.Argument(help="'with blond hair' (appended to the prompt) or a new prompt.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("outputs/edit"),
    mode: Annotated[str, typer.Option("--mode", help="recondition or direction.")] = "recondition",
    strength: Annotated[float, typer.Option("--strength", help="0 = source, 1 = full edit.")] = 1.0,
    steps: Annotated[int, typer.Option("--steps", help="Direction mode: optimisation steps.")] = 20,
    lr: Annotated[float, typer.Option("--lr", help="Direction mode: step size on w.")] = 0.02,
    reg: Annotated[
        float, typer.Option("--reg", help="Direction mode: weight keeping w near the source.")
    ] = 0.5,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Override the recorded model.")] = None,
    views: ViewsOption = "0,-30,30",
    video: VideoOption = False,
    video_format: VideoFormatOption = "mp4",
    video_frames: VideoFramesOption = 48,
    no_depth: NoDepthOption = False,
    mesh: MeshOption = None,
    mesh_res: MeshResOption = 128,
    iso: IsoOption = 10.0,
    weights_dir: WeightsDirOption = None,
    device: DeviceOption = "auto",
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    overwrite: OverwriteOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Edit faces with text: re-condition on the new text, or move along its CLIP direction."""
    from pipelines.core.guidance import GuidanceConfig
    from pipelines.edit import MODES, EditConfig
    from pipelines.edit import edit as run_edit

    output = Output(json_output, quiet, verbose)
    with handle_errors(verbose):
        if mode not in MODES:
            usage_error(f"--mode {mode!r}: expected {' or '.join(MODES)}")
        outputs = sample_outputs(views, no_depth, video, video_format, video_frames, mesh, mesh_res, iso)
        config = EditConfig(
            source=source,
            text=text,
            out=out,
            mode=mode,
            strength=strength,
            guidance=GuidanceConfig(steps=steps, lr=lr, reg=reg),
            model=model,
            outputs=outputs,
            device=device,
            weights_dir=weights_dir,
            overwrite=overwrite,
        )
        with output.progress("editing", None) as advance:
            result = run_edit(config, progress=advance)
    payload = {
        "out": str(result.out),
        "manifest": str(result.manifest),
        "items": result.items,
        "files": [str(f) for f in result.files],
        "elapsed_s": round(result.elapsed_s, 3),
    }
    output.result(payload, str(result.out), f"wrote {len(result.items)} edited sample(s) to {result.out}")
