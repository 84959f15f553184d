"""`tg3dface edit`: change a generated (or inverted) face with text; writes a new sample bundle set."""

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
    VerboseOption,
    handle_errors,
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
    views: Annotated[str, typer.Option("--views", help="A count, or YAW[:PITCH] degrees.")] = "0,-30,30",
    video: Annotated[bool, typer.Option("--video", help="Write a turntable video.")] = False,
    no_depth: Annotated[bool, typer.Option("--no-depth", help="Skip the depth maps.")] = False,
    mesh: Annotated[str | None, typer.Option("--mesh", help="Export a mesh: ply, obj or glb.")] = None,
    mesh_res: Annotated[int, typer.Option("--mesh-res", help="Marching-cubes grid resolution.")] = 128,
    iso: Annotated[float, typer.Option("--iso", help="Density level of the mesh surface.")] = 10.0,
    weights_dir: Annotated[str | None, typer.Option("--weights-dir", help="Local weights folder.")] = None,
    device: DeviceOption = "auto",
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    overwrite: OverwriteOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Edit faces with text: re-condition on the new text, or move along its CLIP direction."""
    from pipelines.core.cameras import parse_views
    from pipelines.core.guidance import GuidanceConfig
    from pipelines.core.samples import SampleOutputs
    from pipelines.edit import MODES, EditConfig
    from pipelines.edit import edit as run_edit

    output = Output(json_output, quiet, verbose)
    with handle_errors(verbose):
        if mode not in MODES:
            usage_error(f"--mode {mode!r}: expected {' or '.join(MODES)}")
        if mesh is not None and mesh not in ("ply", "obj", "glb"):
            usage_error(f"--mesh {mesh!r}: expected ply, obj or glb")
        try:
            view_list = parse_views(views)
        except ValueError as error:
            usage_error(str(error))
        config = EditConfig(
            source=source,
            text=text,
            out=out,
            mode=mode,
            strength=strength,
            guidance=GuidanceConfig(steps=steps, lr=lr, reg=reg),
            model=model,
            outputs=SampleOutputs(
                views=tuple(view_list),
                depth=not no_depth,
                video="mp4" if video else None,
                mesh=mesh,
                mesh_resolution=mesh_res,
                iso=iso,
            ),
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
