"""Where local pretrained weights live: one cache root for every downloaded or user-supplied file.

The root is chosen as `--weights-dir` > the `TG3DFACE_HOME` environment variable > `~/.cache/tg3dface`.
Inside it each kind of weights has its own sub-folder, e.g.::

    <home>/huggingface/   a Hugging Face hub cache (open_clip pretrained tags download here)
    <home>/open_clip/     plain copies of open_clip weights, <hub repo id>/<file name>
    <home>/facexlib/      facexlib's files under their upstream names (its `model_rootpath`)
"""

from __future__ import annotations

import os
from pathlib import Path

from pipelines.errors import MissingWeightsError

HOME_ENV_VAR = "TG3DFACE_HOME"
DEFAULT_HOME = Path("~/.cache/tg3dface")
HUB_CACHE_SUBDIR = "huggingface"

FACEXLIB_SUBDIR = "facexlib"
"""Folder of the weights home that holds facexlib's files (its `model_rootpath`)."""


def weights_home(override: str | Path | None = None) -> Path:
    """The weights root: `override` (from `--weights-dir`), else `$TG3DFACE_HOME`, else `~/.cache/tg3dface`.

    The folder is not created; writers create what they fill.
    """
    chosen = override if override not in (None, "") else os.environ.get(HOME_ENV_VAR) or DEFAULT_HOME
    return Path(chosen).expanduser().absolute()


def weight_path(name: str, weights_dir: str | Path | None = None, subdir: str = "") -> Path:
    """Where the weights file `name` is expected: `<home>/<subdir>/<name>` (it may not exist)."""
    return weights_home(weights_dir) / subdir / name


def find_weight_file(
    name: str, weights_dir: str | Path | None = None, subdir: str = "", source: str | None = None
) -> Path:
    """Return the path of an existing weights file under the weights home, or fail with a one-line message.

    Args:
        name: file name (or a relative path), e.g. "parsing_bisenet.pth".
        weights_dir: the `--weights-dir` override, if any.
        subdir: the sub-folder of the weights home for this kind of weights, e.g. "facexlib".
        source: where the file can be downloaded from, quoted in the error.

    Raises:
        MissingWeightsError: the file is not there.
    """
    path = weight_path(name, weights_dir, subdir)
    if path.is_file():
        return path
    raise MissingWeightsError(missing_weights_message(Path(name).name, path, source))


def missing_weights_message(what: str, expected_at: Path, source: str | None = None) -> str:
    """The one-line error for a weights file that is not available locally."""
    action = f"download it from {source} and put it there" if source else "put it there"
    return (
        f"missing weights: {what} is not at {expected_at}; {action} "
        f"(or choose another weights folder with --weights-dir / {HOME_ENV_VAR})"
    )


def hub_cache_dir(weights_dir: str | Path | None = None) -> Path:
    """The Hugging Face hub cache inside the weights home (`models--<org>--<name>/snapshots/<rev>/...`)."""
    return weights_home(weights_dir) / HUB_CACHE_SUBDIR
