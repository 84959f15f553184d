"""The `tg3dface` Typer application: one sub-module per verb, registered here."""

from __future__ import annotations

import typer

from tg3dface_cli import edit, encoders, env, generate, invert, prepare, studies, train
from tg3dface_cli import eval as eval_cmd

app = typer.Typer(
    name="tg3dface",
    help="Text-guided 3D face generation and manipulation (TG-3DFace).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("generate", epilog=generate.EPILOG)(generate.generate)
app.command("env")(env.env)
app.add_typer(prepare.app, name="prepare")
eval_cmd.app.command("edits", epilog=studies.EDITS_EPILOG)(studies.edits)
eval_cmd.app.command("inversion", epilog=studies.INVERSION_EPILOG)(studies.inversion)
app.add_typer(eval_cmd.app, name="eval")
app.add_typer(encoders.app, name="encoders")
app.command("train", epilog=train.EPILOG)(train.train)
app.command("edit", epilog=edit.EPILOG)(edit.edit)
app.command("invert", epilog=invert.EPILOG)(invert.invert)


def main() -> None:
    """Console-script entry point."""
    from pipelines.core.runtime import tune_allocator

    tune_allocator()
    app()


if __name__ == "__main__":
    main()
