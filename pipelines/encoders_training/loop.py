"""The optimisation loop both encoder trainers share: AdamW with warm-up and cosine decay, a resumable state
folder, a JSON-lines log and progress events.

    RUN/config.json        the resolved trainer config, the data folder, the kind of model
    RUN/train_log.jsonl    one line per log interval: step, lr, losses, seconds per step
    RUN/state/             model.safetensors, optimizer.safetensors, state.json (step): what --resume needs
    RUN/model/             the exported model (written by the trainer once the loop has finished)
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from pipelines.core.io import staged_folder, write_json_atomic
from pipelines.errors import InvalidInputError, OutputExistsError

STATE_DIR = "state"
MODEL_DIR = "model"
LOG_FILE = "train_log.jsonl"
CONFIG_FILE = "config.json"

ProgressFn = Callable[[dict[str, Any]], None]
"""Receives {"step", "steps", "lr", losses..., "sec_per_step"} every log interval."""
StepFn = Callable[[int], tuple[Tensor, dict[str, float]]]
"""Computes the loss of one step (from the step number alone) and the numbers to log."""


@dataclass(frozen=True)
class LoopConfig:
    """Optimisation settings shared by the encoder trainers."""

    steps: int = 1000
    """Optimiser steps."""
    batch: int = 128
    """Images per step."""
    lr: float = 1e-3
    """Peak learning rate of AdamW."""
    weight_decay: float = 0.1
    """AdamW weight decay (not applied to biases, norms, embeddings or scalars)."""
    warmup_fraction: float = 0.05
    """Share of the steps with a linear warm-up; cosine decay to zero after it."""
    seed: int = 0
    """Seed of initialisation and of every per-step draw."""
    checkpoint_every: int = 200
    """Steps between saves of RUN/state (also saved at the end and on interrupt)."""
    log_every: int = 20
    """Steps between lines of RUN/train_log.jsonl and progress events."""


@dataclass
class EncoderTrainResult:
    """What a trainer returns."""

    run_dir: Path
    """The run folder."""
    model_dir: Path
    """RUN/model/: the exported model (written only when `step` reached the configured steps)."""
    step: int
    """The last step trained (less than the configured steps when stopped early)."""
    elapsed_s: float
    """Wall time of the call, data loading included."""


def learning_rate(step: int, config: LoopConfig) -> float:
    """The learning rate of `step` (0-based): linear warm-up, then cosine decay to zero."""
    warmup = max(1, round(config.warmup_fraction * config.steps))
    if step < warmup:
        return config.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, config.steps - warmup)
    return config.lr * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_optimizer(model: nn.Module, config: LoopConfig) -> torch.optim.AdamW:
    """AdamW (0.9, 0.98) with weight decay only on weight matrices and kernels (ndim >= 2, not embeddings)."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        exempt = parameter.ndim < 2 or "embedding" in name or "logit_scale" in name
        (no_decay if exempt else decay).append(parameter)
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.98), eps=1e-6)


def prepare_run_dir(run_dir: Path, config: dict[str, Any], resume: bool, overwrite: bool) -> bool:
    """Create RUN (or check it for --resume); returns whether a saved state exists to resume from.

    With `resume` and no saved state yet, training starts from step 0.

    Raises:
        OutputExistsError: RUN holds a run and neither `resume` nor `overwrite` was given.
        InvalidInputError: resuming a run with other data, kind or settings (only `steps` may change).
    """
    run_dir = Path(run_dir)
    saved = run_dir / CONFIG_FILE
    if saved.is_file() and not overwrite:
        if not resume:
            raise OutputExistsError(f"{run_dir}: holds a run (pass --resume to continue it or --overwrite)")
        before, after = _flat(json.loads(saved.read_text(encoding="utf-8"))), _flat(config)
        keys = (set(before) | set(after)) - {"steps"}
        changed = sorted(k for k in keys if before.get(k) != after.get(k))
        if changed:
            raise InvalidInputError(f"{saved}: cannot resume with a different {', '.join(changed)}")
    elif overwrite:
        for name in (STATE_DIR, MODEL_DIR):
            shutil.rmtree(run_dir / name, ignore_errors=True)
        (run_dir / LOG_FILE).unlink(missing_ok=True)
    write_json_atomic(saved, config)
    return resume and (run_dir / STATE_DIR / "state.json").is_file()


def _flat(document: dict[str, Any]) -> dict[str, Any]:
    """RUN/config.json's kind, data and config fields in one mapping."""
    return {"kind": document.get("kind"), "data": document.get("data"), **document.get("config", {})}


def run_loop(
    run_dir: Path,
    model: nn.Module,
    config: LoopConfig,
    step_loss: StepFn,
    resume: bool,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> int:
    """Optimise `model` from the saved state (when resuming) up to `config.steps`; returns the last step.

    The state is saved every `checkpoint_every` steps, at the end, and when `should_stop()` turns true.
    """
    optimizer = make_optimizer(model, config)
    step = load_state(run_dir / STATE_DIR, model, optimizer) if resume else 0
    model.train()
    window: dict[str, float] = {}
    window_steps, window_start = 0, time.perf_counter()
    while step < config.steps:
        lr = learning_rate(step, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss, numbers = step_loss(step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        for key, value in numbers.items():
            window[key] = window.get(key, 0.0) + value
        window_steps += 1
        stop = should_stop is not None and should_stop()
        if step % config.log_every == 0 or step == config.steps or stop:
            seconds = (time.perf_counter() - window_start) / window_steps
            line = {
                "step": step,
                "steps": config.steps,
                "lr": round(lr, 8),
                **{k: round(v / window_steps, 5) for k, v in window.items()},
                "sec_per_step": round(seconds, 4),
            }
            with open(run_dir / LOG_FILE, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(line) + "\n")
            if progress is not None:
                progress(line)
            window, window_steps, window_start = {}, 0, time.perf_counter()
        if step % config.checkpoint_every == 0 or step == config.steps or stop:
            save_state(run_dir / STATE_DIR, model, optimizer, step)
        if stop:
            break
    model.eval()
    return step


def save_state(folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer, step: int) -> None:
    """Write model weights, optimiser tensors and the step atomically (safetensors + JSON, no pickles)."""
    from safetensors.torch import save_file

    from pipelines.training.checkpoint import optimizer_tensors

    tensors, meta = optimizer_tensors("opt", optimizer)
    with staged_folder(folder, overwrite=True) as staging:
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
            staging / "model.safetensors",
        )
        save_file(tensors, staging / "optimizer.safetensors")
        (staging / "state.json").write_text(json.dumps({"step": step, "optimizer": meta}) + "\n")


def load_state(folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> int:
    """Restore what `save_state` wrote; returns the step to continue from."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from pipelines.training.checkpoint import load_optimizer

    try:
        state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
        weights = load_file(folder / "model.safetensors")
        tensors = load_file(folder / "optimizer.safetensors")
        model.load_state_dict(weights)
    except (OSError, json.JSONDecodeError, SafetensorError, RuntimeError) as error:
        raise InvalidInputError(f"{folder}: not a complete state of this trainer ({error})") from error
    load_optimizer(optimizer, "opt", tensors, state["optimizer"]["param_groups"])
    return int(state["step"])


def run_config(kind: str, data: Path, config: LoopConfig) -> dict[str, Any]:
    """What RUN/config.json records: the kind of model, the data folder and the resolved config."""
    return {"kind": kind, "data": str(Path(data).resolve()), "config": asdict(config)}
