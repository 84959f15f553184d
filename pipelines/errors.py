"""Project exception types. The CLI turns each into a one-line message and an exit code."""

from __future__ import annotations


class TG3DFaceError(Exception):
    """A failure the user can act on; the message is a single line naming the file and the problem."""

    exit_code = 1


class InvalidInputError(TG3DFaceError):
    """An input file or folder is missing, corrupt or malformed."""


class MissingWeightsError(TG3DFaceError):
    """Pretrained weights are not available locally (and cannot be downloaded here)."""

    exit_code = 3


class OutputExistsError(TG3DFaceError):
    """The output already exists and `--overwrite` was not given."""
