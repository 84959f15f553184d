"""`tg3dface eval edits` and `tg3dface eval inversion`: studies of editing and single-view reconstruction
on a synthetic data set (ground truth known). Guidance is scored by `tg3dface eval --guidance K`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from pipelines import DEMO_MODEL
from tg3dface_cli.common import (
    DeviceOption,
    JsonOption,
    Output,
    QuietOption,
    SeedOption,
    VerboseOption,
    handle_errors,
    usage_error,
)

ModelOption = Annotated[
    str, typer.Option("--model", "-m", help="Model bundle folder, builtin:demo or random:PRESET.")
]
DataOption = Annotated[
    Path, typer.Option("--data", help="A synthetic data set folder (tg3dface prepare synthetic).")
]
StudyOutOption = Annotated[Path | None, typer.Option("--out", "-o", help="Also write the report JSON here.")]

EDITS_EPILOG = """Examples:

  tg3dface eval edits --data data/synthetic --num-samples 64

  tg3dface eval edits --model runs/x/checkpoints/step-00004000 --data data/synthetic --mode direction --json
"""


def edits(
    data: DataOption,
    model: ModelOption = DEMO_MODEL,
    num_samples: Annotated[int, typer.Option("--num-samples", "-n", help="Samples to edit.")] = 64,
    mode: Annotated[str, typer.Option("--mode", help="recondition or direction.")] = "recondition",
    strength: Annotated[float, typer.Option("--strength", help="Edit strength (1 = full edit).")] = 1.0,
    steps: Annotated[int, typer.Option("--steps", help="Guidance steps of the direction mode.")] = 20,
    lr: Annotated[float, typer.Option("--lr", help="Step size of the direction mode.")] = 0.02,
    reg: Annotated[float, typer.Option("--reg", help="Latent regulariser of the direction mode.")] = 0.5,
    targets: Annotated[
        str | None,
        typer.Option("--targets", help="Comma list of hair colours to edit toward (default: in-domain)."),
    ] = None,
    split: Annotated[str, typer.Option("--split", help="Split of the source captions.")] = "test",
    reader: Annotated[
        Path | None, typer.Option("--reader", help="Attribute reader folder (default: the shipped one).")
    ] = None,
    out: StudyOutOption = None,
    seed: SeedOption = 0,
    device: DeviceOption = "auto",
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Edit the hair colour of N samples and score the edit, the other attributes and identity."""
    from pipelines.core.guidance import GuidanceConfig
    from pipelines.studies.edits import EditStudyConfig, edit_study

    output = Output(json_output, quiet, verbose)
    with handle_errors(verbose):
        if num_samples < 2:
            usage_error("--num-samples must be at least 2")
        output.note_model(model)
        config = EditStudyConfig(
            model=model,
            data=data,
            num_samples=num_samples,
            seed=seed,
            split=split,
            mode=mode,
            strength=strength,
            guidance=GuidanceConfig(steps=steps, lr=lr, reg=reg),
            targets=tuple(t.strip() for t in targets.split(",") if t.strip()) if targets else (),
            reader=str(reader) if reader else None,
            device=device,
        )
        with output.progress("editing", num_samples) as advance:
            report = edit_study(config, advance)
        _write(report, out)
    edited, unchanged, identity = report["edited"], report["unchanged"], report["identity"]
    summary = "\n".join(
        [
            f"{report['num_samples']} edits ({report['mode']}) of {report['edited']['family']} in "
            f"{report['elapsed_s']:.1f} s",
            f"  edited attribute read as the target: {edited['accuracy_after']:.3f} "
            f"(source renders read as their caption: {edited['accuracy_before']:.3f})",
            f"  other stated attributes correct: before {_fmt(unchanged['before']['overall'])}, "
            f"after {_fmt(unchanged['after']['overall'])}; unchanged reading {_fmt(unchanged['agreement'])}",
            f"  identity cosine source-edit: {_fmt(identity['source_vs_edit'])} "
            f"(different people: {_fmt(identity['reference']['different_identities'])}, {identity['model']})",
            f"  face-region PSNR source-edit: {_fmt(report['face_region']['psnr'])} dB "
            f"(different faces: {_fmt(report['face_region']['reference']['different_faces'])})",
        ]
        + ([f"wrote {out}"] if out else [])
    )
    output.result(report, str(out) if out else "", summary)


INVERSION_EPILOG = """Examples:

  tg3dface eval inversion --data data/synthetic --num-samples 8

  tg3dface eval inversion --model BUNDLE --data data/synthetic --steps 100 --wplus-steps 100 --pti --json
"""


def inversion(
    data: DataOption,
    model: ModelOption = DEMO_MODEL,
    num_samples: Annotated[int, typer.Option("--num-samples", "-n", help="Images to invert.")] = 8,
    steps: Annotated[int, typer.Option("--steps", help="Optimisation steps in w.")] = 200,
    wplus_steps: Annotated[
        int, typer.Option("--wplus-steps", help="Extra steps in w+ (0 = stay in w).")
    ] = 200,
    lr: Annotated[float, typer.Option("--lr", help="Peak step size on the latent.")] = 0.01,
    pti: Annotated[bool, typer.Option("--pti", help="Pivotal tuning of the generator afterwards.")] = False,
    pti_steps: Annotated[int, typer.Option("--pti-steps", help="Pivotal tuning steps.")] = 100,
    split: Annotated[str, typer.Option("--split", help="Split the images come from.")] = "test",
    out: StudyOutOption = None,
    seed: SeedOption = 0,
    device: DeviceOption = "auto",
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Invert N synthetic images from their true cameras; score input view, novel views and depth."""
    from pipelines.core.inversion import InversionConfig
    from pipelines.studies.inversion import InversionStudyConfig, inversion_study

    output = Output(json_output, quiet, verbose)
    with handle_errors(verbose):
        if num_samples < 1 or steps < 0 or wplus_steps < 0 or pti_steps < 0:
            usage_error("--num-samples must be at least 1 and step counts non-negative")
        output.note_model(model)
        config = InversionStudyConfig(
            data=data,
            model=model,
            num_samples=num_samples,
            seed=seed,
            split=split,
            inversion=InversionConfig(
                w_steps=steps, wplus_steps=wplus_steps, lr=lr, pti_steps=pti_steps if pti else 0
            ),
            device=device,
        )
        with output.progress("inverting", num_samples) as advance:
            report = inversion_study(config, advance)
        _write(report, out)
    lines = [
        f"{report['num_samples']} inversions in {report['elapsed_s']:.1f} s (mean; start latent in brackets)"
    ]
    inverted, start = report["summary"]["inverted"], report["summary"]["start"]
    lines.append(f"  PSNR input view: {inverted['psnr_input_view']} dB ({start['psnr_input_view']})")
    for yaw, value in inverted["psnr_novel_views"].items():
        lines.append(f"  PSNR yaw {yaw}: {value} dB ({start['psnr_novel_views'][yaw]})")
    lines.append(f"  depth error: {inverted['depth_error']} world units ({start['depth_error']})")
    output.result(report, str(out) if out else "", "\n".join(lines + ([f"wrote {out}"] if out else [])))


def _write(report: dict[str, Any], out: Path | None) -> None:
    """Write the report JSON atomically when --out is given."""
    if out is not None:
        from pipelines.core.io import write_json_atomic

        write_json_atomic(out, report)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
