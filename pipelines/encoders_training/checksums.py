"""SHA256SUMS files for exported model folders (the format `sha256sum -c SHA256SUMS` checks)."""

from __future__ import annotations

from pathlib import Path

from pipelines.core.io import sha256_file, write_bytes_atomic
from pipelines.errors import InvalidInputError

CHECKSUMS_FILE = "SHA256SUMS"


def write_checksums(folder: Path) -> dict[str, str]:
    """Hash every file of `folder` but SHA256SUMS and READMEs, write SHA256SUMS, return name -> hash."""
    hashes = {
        path.name: sha256_file(path)
        for path in sorted(Path(folder).iterdir())
        if path.is_file() and path.name != CHECKSUMS_FILE and path.suffix != ".md"
    }
    write_bytes_atomic(
        Path(folder) / CHECKSUMS_FILE, "".join(f"{h}  {name}\n" for name, h in hashes.items()).encode()
    )
    return hashes


def read_checksums(folder: Path) -> dict[str, str]:
    """File name -> sha256 hex, as recorded in `folder`/SHA256SUMS."""
    path = Path(folder) / CHECKSUMS_FILE
    if not path.is_file():
        raise InvalidInputError(f"{path}: missing")
    recorded = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name:
            raise InvalidInputError(f"{path} line {number}: expected '<sha256>  <file name>'")
        recorded[name] = digest
    return recorded
