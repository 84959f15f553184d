"""`tg3dface invert`: one photo in, a 3D face (sample bundle: latent, views, depth, video, mesh) out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines import DEMO_MODEL
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

  tg3dface invert me.jpg --model BUNDLE --out outputs/me --pti --video --mesh glb

  tg3dface invert data/synth/images/000012.png --aligned --model BUNDLE --out outputs/inv12

  tg3dface edit outputs/me "with blond hair" --out outputs/me-blond
"""


def invert(
    photo: Annotated[Path, typer.Argument(help="A photo (any size), or an aligned crop with --aligned.")],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model bundle folder, builtin:demo or random:PRESET.")
    ] = DEMO_MODEL,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("outputs/invert"),
    steps: Annotated[int, typer.Option("--steps", help="Optimisation steps in w.")] = 200,
    space: Annotated[str, typer.Option("--space", help="w, or w+ (w then per-layer refinement).")] = "w+",
    wplus_steps: Annotated[
        int, typer.Option("--wplus-steps", help="Extra steps in w+ (with --space w+).")
    ] = 200,
    lr: Annotated[float, typer.Option("--lr", help="Peak step size on the latent.")] = 0.01,
    pti: Annotated[bool, typer.Option("--pti", help="Pivotal tuning of the generator afterwards.")] = False,
    pti_steps: Annotated[int, typer.Option("--pti-steps", help="Pivotal tuning steps.")] = 100,
    prompt: Annotated[
        str, typer.Option("--prompt", help="Text condition of the latent.")
    ] = "a photo of a face",
    aligned: Annotated[
        bool, typer.Option("--aligned", help="The photo is an aligned crop (skip detection).")
    ] = False,
    camera: Annotated[
        Path | None, typer.Option("--camera", help="With --aligned: JSON with 25 camera floats.")
    ] = None,
    views: ViewsOption = "0,-30,30",
    no_depth: NoDepthOption = False,
    video: VideoOption = False,
    video_format: VideoFormatOption = "mp4",
    video_frames: VideoFramesOption = 48,
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
    """Reconstruct a 3D face from one photo by GAN inversion (w, w+, optional pivotal tuning)."""
    from pipelines.core.inversion import InversionConfig
    from pipelines.invert import InvertConfig
    from pipelines.invert import invert as run_invert

    output = Output(json_output, quiet, verbose)
    with handle_errors(verbose):
        if space not in ("w", "w+"):
            usage_error(f"--space {space!r}: expected w or w+")
        if camera is not None and not aligned:
            usage_error("--camera only applies with --aligned")
        outputs = sample_outputs(views, no_depth, video, video_format, video_frames, mesh, mesh_res, iso)
        output.note_model(model)
        config = InvertConfig(
            photo=photo,
            out=out,
            model=model,
            prompt=prompt,
            inversion=InversionConfig(
                w_steps=steps,
                wplus_steps=wplus_steps if space == "w+" else 0,
                lr=lr,
                pti_steps=pti_steps if pti else 0,
            ),
            aligned=aligned,
            camera=camera,
            outputs=outputs,
            device=device,
            weights_dir=weights_dir,
            overwrite=overwrite,
        )
        total = config.inversion.w_steps + config.inversion.wplus_steps + config.inversion.pti_steps
        with output.progress("inverting", total) as advance:
            result = run_invert(config, on_step=lambda phase, step, loss: advance(1))
    payload = {
        "out": str(result.out),
        "manifest": str(result.manifest),
        "items": result.items,
        "files": [str(f) for f in result.files],
        "psnr_input_view": round(result.psnr_input_view, 3),
        "elapsed_s": round(result.elapsed_s, 3),
    }
    summary = f"inverted {photo} -> {result.out} (PSNR {result.psnr_input_view:.2f} dB in the input view)"
    output.result(payload, str(result.out), summary)
