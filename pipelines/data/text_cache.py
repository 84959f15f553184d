"""Cached text features of a dataset's captions and part phrases: DATA/text_embeddings.safetensors.

One float32 tensor `embeddings` (T, D); row i is the L2-normalised feature of the exact string texts[i],
where `texts` (the sorted distinct captions and part phrases) is stored as a JSON list in the file's
metadata, next to the encoder id. The manifest records the same id, count, dim and key scheme.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from pipelines.core.io import write_with
from pipelines.errors import InvalidInputError

CACHE_FILE = "text_embeddings.safetensors"
TENSOR_KEY = "embeddings"
KEY_SCHEME = "row i of tensor 'embeddings' is the text at index i of the JSON list in metadata 'texts'"


class TextEncoder(Protocol):
    """What the cache needs from an encoder (pipelines.core.encoders provides it)."""

    encoder_id: str

    def encode_text(self, texts: list[str]) -> Tensor:
        """(N, D) L2-normalised features."""
        ...


def write_text_cache(
    root: str | Path, texts: Sequence[str], encoder: TextEncoder, batch_size: int = 256
) -> dict[str, Any]:
    """Encode every distinct text and write the cache into dataset folder `root`.

    Returns the manifest entry: {"file", "encoder_id", "count", "dim", "key_scheme"}.
    """
    from safetensors.torch import save_file

    ordered = sorted(set(texts))
    with torch.no_grad():
        chunks = [
            encoder.encode_text(list(ordered[i : i + batch_size])) for i in range(0, len(ordered), batch_size)
        ]
    embeddings = torch.cat(chunks).to("cpu", torch.float32).contiguous()
    metadata = {"encoder_id": encoder.encoder_id, "texts": json.dumps(ordered, ensure_ascii=False)}
    write_with(
        Path(root) / CACHE_FILE, lambda tmp: save_file({TENSOR_KEY: embeddings}, str(tmp), metadata=metadata)
    )
    return {
        "file": CACHE_FILE,
        "encoder_id": encoder.encoder_id,
        "count": len(ordered),
        "dim": int(embeddings.shape[1]) if len(ordered) else 0,
        "key_scheme": KEY_SCHEME,
    }


class TextCache:
    """A loaded cache: `lookup(texts)` returns their features in order."""

    def __init__(self, path: Path, encoder_id: str, texts: list[str], embeddings: Tensor) -> None:
        self.path = path
        self.encoder_id = encoder_id
        self.embeddings = embeddings
        self._row = {text: i for i, text in enumerate(texts)}

    @classmethod
    def open(cls, path: str | Path, encoder_id: str | None = None) -> TextCache:
        """Load the cache of a dataset folder (or the .safetensors file itself).

        Args:
            path: dataset folder or cache file.
            encoder_id: if given, the id the features must come from (a mismatch is an error).
        """
        from safetensors import SafetensorError, safe_open

        file = Path(path)
        file = file / CACHE_FILE if file.is_dir() else file
        if not file.is_file():
            raise InvalidInputError(
                f"{file}: missing (prepare the dataset with --encoder to cache text features)"
            )
        try:
            with safe_open(str(file), framework="pt") as handle:
                metadata = handle.metadata() or {}
                embeddings = handle.get_tensor(TENSOR_KEY)
            texts = json.loads(metadata["texts"])
            stored_id = metadata["encoder_id"]
        except (SafetensorError, KeyError, json.JSONDecodeError, OSError) as error:
            raise InvalidInputError(f"{file}: not a text-embedding cache ({error})") from error
        if len(texts) != embeddings.shape[0]:
            raise InvalidInputError(f"{file}: {len(texts)} texts but {embeddings.shape[0]} embedding rows")
        if encoder_id is not None and encoder_id != stored_id:
            raise InvalidInputError(
                f"{file}: features come from encoder {stored_id!r}, expected {encoder_id!r}"
            )
        return cls(file, stored_id, texts, embeddings)

    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, text: str) -> bool:
        return text in self._row

    def lookup(self, texts: Sequence[str]) -> Tensor:
        """(N, D) features of `texts`, in order; a text not in the cache is an error."""
        rows = []
        for text in texts:
            row = self._row.get(text)
            if row is None:
                raise InvalidInputError(f"{self.path}: no cached embedding for text {text!r}")
            rows.append(row)
        return self.embeddings[torch.tensor(rows, dtype=torch.long)]
