"""What every verb shares: the standard options, the output sink, progress and error handling."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from pipelines import DEMO_MODEL
from pipelines.errors import TG3DFaceError

DeviceOption = Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed.")]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print exactly one JSON object on stdout; logs go to stderr.")
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the main output path.")]
OverwriteOption = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks on errors.")]
WeightsDirOption = Annotated[
    str | None, typer.Option("--weights-dir", help="Local weights folder (default: $TG3DFACE_HOME).")
]
GuidanceStepsOption = Annotated[
    int, typer.Option("--guidance", help="Directional CLIP guidance steps K (0 = plain sampling).")
]
GuidanceLrOption = Annotated[float, typer.Option("--guidance-lr", help="Guidance step size on w.")]
GuidanceRegOption = Annotated[
    float, typer.Option("--guidance-reg", help="Weight keeping the guided w near the sampled one.")
]
GuidanceSpaceOption = Annotated[str, typer.Option("--guidance-space", help="w or w+.")]
NeutralPromptOption = Annotated[
    str, typer.Option("--neutral-prompt", help="Source text of the guidance direction.")
]


class Output:
    """Where a verb reports: human logs and progress on stderr, one result on stdout.

    Modes: human (default), `--json` (one JSON object on stdout) and `--quiet` (only the main path).
    """

    def __init__(self, json_mode: bool = False, quiet: bool = False, verbose: bool = False) -> None:
        from rich.console import Console

        self.json_mode = json_mode
        self.quiet = quiet
        self.verbose = verbose
        self.console = Console(stderr=True, highlight=False)

    @property
    def show_progress(self) -> bool:
        """Progress bars only on an interactive terminal, and never in json/quiet modes."""
        return not (self.json_mode or self.quiet) and sys.stderr.isatty()

    def log(self, message: str) -> None:
        """A human line on stderr (silent under --quiet and --json)."""
        if not (self.quiet or self.json_mode):
            self.console.print(message)

    def warn(self, message: str) -> None:
        """A warning on stderr, shown in every mode but --quiet."""
        if not self.quiet:
            self.console.print(f"[yellow]warning:[/yellow] {message}")

    def note_model(self, model: str) -> None:
        """Say plainly what kind of model made the faces: the shipped demo model or a random network."""
        if model == DEMO_MODEL:
            self.log(
                f"model: {DEMO_MODEL}, the shipped synthetic-world demo model (it knows only the procedural "
                "heads of `tg3dface prepare synthetic`; pass --model for your own bundle)"
            )
        elif model.startswith("random:"):
            self.warn(f"{model} is a randomly initialised network, not a trained model: its faces are noise")

    def result(self, payload: dict[str, Any], main_path: str, summary: str) -> None:
        """Emit the verb's result: JSON, the main path, or a human summary."""
        if self.json_mode:
            sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
        elif self.quiet:
            sys.stdout.write(main_path + "\n")
        else:
            self.console.print(summary)

    @contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[Callable[[int], None]]:
        """A context giving an `advance(n)` callback that drives a progress bar when one is shown."""
        if not self.show_progress:
            yield lambda n=1: None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
        with Progress(*columns, console=self.console, transient=True) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n=1: bar.advance(task, n)


def fail(message: str, code: int = 1) -> None:
    """Print a one-line error on stderr and exit with `code`."""
    sys.stderr.write(f"error: {message}\n")
    raise typer.Exit(code)


def usage_error(message: str) -> None:
    """Report a bad option value (exit code 2, like click's own usage errors)."""
    fail(message, code=2)


@contextmanager
def handle_errors(verbose: bool = False) -> Iterator[None]:
    """Turn project errors into a one-line message and their exit code; tracebacks only with -v."""
    try:
        yield
    except TG3DFaceError as error:
        if verbose:
            traceback.print_exc()
        fail(str(error), error.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", 130)


# Options of every verb that writes sample bundles (generate, edit, invert).
ViewsOption = Annotated[str, typer.Option("--views", help="A count, or YAW[:PITCH] degrees, comma list.")]
VideoOption = Annotated[bool, typer.Option("--video", help="Write a turntable video.")]
VideoFormatOption = Annotated[str, typer.Option("--video-format", help="mp4 (falls back to gif) or gif.")]
VideoFramesOption = Annotated[int, typer.Option("--video-frames", help="Frames in the turntable.")]
MeshOption = Annotated[str | None, typer.Option("--mesh", help="Export a mesh: ply, obj or glb.")]
MeshResOption = Annotated[int, typer.Option("--mesh-res", help="Marching-cubes grid resolution.")]
IsoOption = Annotated[float, typer.Option("--iso", help="Density level of the mesh surface.")]
NoDepthOption = Annotated[bool, typer.Option("--no-depth", help="Skip the depth maps.")]


def sample_outputs(
    views: str, no_depth: bool, video: bool, video_format: str, video_frames: int, mesh: str | None,
    mesh_res: int, iso: float,
):  # fmt: skip
    """Check the sample-bundle options (usage errors exit 2) and build a SampleOutputs."""
    from pipelines.core.cameras import parse_views
    from pipelines.core.samples import SampleOutputs

    if video_format not in ("mp4", "gif"):
        usage_error(f"--video-format {video_format!r}: expected mp4 or gif")
    if mesh is not None and mesh not in ("ply", "obj", "glb"):
        usage_error(f"--mesh {mesh!r}: expected ply, obj or glb")
    try:
        view_list = parse_views(views)
    except ValueError as error:
        usage_error(str(error))
    return SampleOutputs(
        views=tuple(view_list),
        depth=not no_depth,
        video=video_format if video else None,
        video_frames=video_frames,
        mesh=mesh,
        mesh_resolution=mesh_res,
        iso=iso,
    )


def guidance_options(steps: int, lr: float, reg: float, space: str, neutral_prompt: str):
    """The GuidanceConfig of the --guidance options (a usage error for impossible values)."""
    from pipelines.core.guidance import GuidanceConfig

    if steps < 0 or space not in ("w", "w+"):
        usage_error("--guidance must be >= 0 and --guidance-space w or w+")
    return GuidanceConfig(steps, lr, reg, space, neutral_prompt)
