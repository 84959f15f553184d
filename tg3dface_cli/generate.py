"""`tg3dface generate`: prompts in, sample bundles (views, depth, turntable, mesh, latent) out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines import DEMO_MODEL
from tg3dface_cli.common import (
    DeviceOption,
    GuidanceLrOption,
    GuidanceRegOption,
    GuidanceSpaceOption,
    GuidanceStepsOption,
    IsoOption,
    JsonOption,
    MeshOption,
    MeshResOption,
    NeutralPromptOption,
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
    guidance_options,
    handle_errors,
    sample_outputs,
    usage_error,
)

EPILOG = """Examples:

  tg3dface generate "a woman with red hair" --model runs/x/checkpoints/latest-bundle --seeds 0-3 --out out/red

  tg3dface generate --prompts-file prompts.txt --model random:tiny --video --mesh glb --out out/batch

  echo "an old man with a beard" | tg3dface generate - --quiet --out out/beard
"""


def generate(
    prompts: Annotated[list[str] | None, typer.Argument(help="Prompts; '-' reads them from stdin.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("outputs/generate"),
    model: Annotated[
        str,
        typer.Option(
            "--model", "-m", help="Model bundle folder, builtin:demo, or random:PRESET (tiny/small/ffhq512)."
        ),
    ] = DEMO_MODEL,
    prompts_file: Annotated[
        Path | None,
        typer.Option("--prompts-file", help="Prompts, one per line (.txt) or JSON Lines (.jsonl)."),
    ] = None,
    seeds: Annotated[str | None, typer.Option("--seeds", help="Seeds, e.g. 0-3,7.")] = None,
    num: Annotated[
        int | None, typer.Option("--num", "-n", help="Number of seeds, starting at --seed.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="First seed when --seeds is not given.")] = 0,
    views: ViewsOption = "0,-30,30",
    video: VideoOption = False,
    video_format: VideoFormatOption = "mp4",
    video_frames: VideoFramesOption = 48,
    mesh: MeshOption = None,
    mesh_res: MeshResOption = 128,
    iso: IsoOption = 10.0,
    no_depth: NoDepthOption = False,
    truncation: Annotated[
        float, typer.Option("--truncation", help="Truncation psi toward the prompt's mean w.")
    ] = 1.0,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Samples rendered together.")] = 4,
    guidance: GuidanceStepsOption = 0,
    guidance_lr: GuidanceLrOption = 0.02,
    guidance_reg: GuidanceRegOption = 0.5,
    guidance_space: GuidanceSpaceOption = "w",
    neutral_prompt: NeutralPromptOption = "a photo of a face",
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="Override a random: model's preset field, KEY=VALUE.")
    ] = None,
    weights_dir: WeightsDirOption = None,
    device: DeviceOption = "auto",
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    overwrite: OverwriteOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Generate 3D faces from text: multi-view images, depth maps, a turntable video and a mesh."""
    from pipelines.core.inputs import parse_seeds, read_prompts_file
    from pipelines.generate import GenerateConfig
    from pipelines.generate import generate as run_generate

    output = Output(json_output, quiet, verbose)
    with handle_errors(verbose):
        try:
            seed_list = parse_seeds(seeds) if seeds else list(range(seed, seed + (num or 1)))
        except ValueError as error:
            usage_error(str(error))
        outputs = sample_outputs(views, no_depth, video, video_format, video_frames, mesh, mesh_res, iso)
        if seeds and num is not None:
            usage_error("give either --seeds or --num, not both")
        if num is not None and num < 1:
            usage_error("--num must be at least 1")
        guidance_config = guidance_options(
            guidance, guidance_lr, guidance_reg, guidance_space, neutral_prompt
        )
        prompt_list = _collect_prompts(prompts or [], prompts_file, read_prompts_file)
        config = GenerateConfig(
            prompts=tuple(prompt_list),
            out=out,
            model=model,
            seeds=tuple(seed_list),
            truncation=truncation,
            outputs=outputs,
            guidance=guidance_config,
            batch_size=batch_size,
            device=device,
            model_seed=seed,
            model_overrides=tuple(overrides or ()),
            weights_dir=weights_dir,
            overwrite=overwrite,
        )
        output.note_model(model)
        total = len(prompt_list) * len(seed_list)
        with output.progress("generating", total) as advance:
            result = run_generate(config, progress=advance)
    payload = {
        "out": str(result.out),
        "manifest": str(result.manifest),
        "model": model,
        "model_is_random": result.model_is_random,
        "items": result.items,
        "files": [str(f) for f in result.files],
        "elapsed_s": round(result.elapsed_s, 3),
    }
    summary = f"wrote {len(result.items)} sample(s) to {result.out} in {result.elapsed_s:.1f} s"
    output.result(payload, str(result.out), summary)


def _collect_prompts(arguments: list[str], prompts_file: Path | None, read_file) -> list[str]:
    """Prompts from the arguments ('-' = stdin) and --prompts-file, in that order."""
    prompts: list[str] = []
    for argument in arguments:
        prompts.extend(read_file("-") if argument == "-" else [argument])
    if prompts_file is not None:
        prompts.extend(read_file(prompts_file))
    if not prompts:
        usage_error("no prompts given (pass them as arguments, --prompts-file FILE, or - for stdin)")
    return prompts
