"""The `tg3dface` command line: a thin Typer layer over `pipelines`."""
