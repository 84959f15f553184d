"""Shared test set-up: offline Hugging Face hub and one CPU thread (steadier timings on shared cores)."""

import os

# Before anything imports open_clip / huggingface_hub: without it a missing tag retries for ~a minute.
os.environ["HF_HUB_OFFLINE"] = "1"

import torch  # noqa: E402

torch.set_num_threads(1)


import pytest  # noqa: E402

TINY_SYNTHETIC = {
    "num_images": 12,
    "resolution": 32,
    "seed": 5,
    "holdout": ("hair_color=blond,red",),
    "batch_size": 4,
}
"""The tiny synthetic set most dataset tests share: 32 px, eager rendering, a held-out hair colour."""


@pytest.fixture(scope="session")
def tiny_synthetic(tmp_path_factory):
    """A tiny synthetic dataset folder (built once per test session, treat as read-only)."""
    from pipelines.data.synthetic import SyntheticConfig
    from pipelines.prepare import prepare_synthetic

    out = tmp_path_factory.mktemp("synthetic") / "data"
    prepare_synthetic(SyntheticConfig(**TINY_SYNTHETIC, compile="never", device="cpu"), out)
    return out


@pytest.fixture(scope="session")
def eval_synthetic(tmp_path_factory):
    """A 24-image 32 px synthetic set with a large test split, for evaluation tests (treat as read-only)."""
    from pipelines.data.synthetic import SyntheticConfig
    from pipelines.prepare import prepare_synthetic

    out = tmp_path_factory.mktemp("eval") / "data"
    prepare_synthetic(SyntheticConfig(num_images=24, resolution=32, test_fraction=0.4, compile="never"), out)
    return out
