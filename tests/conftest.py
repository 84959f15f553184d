"""Shared test set-up: offline Hugging Face hub and one CPU thread (steadier timings on shared cores)."""

import os

# Before anything imports open_clip / huggingface_hub: without it a missing tag retries for ~a minute.
os.environ["HF_HUB_OFFLINE"] = "1"

import torch  # noqa: E402

torch.set_num_threads(1)
