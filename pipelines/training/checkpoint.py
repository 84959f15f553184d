"""Training checkpoints: a model bundle (EMA generator) plus everything `--resume` needs.

    RUN/checkpoints/step-00001000/config.json, generator.safetensors   the model bundle (EMA weights)
                                  discriminator.safetensors
                                  trainer_state.safetensors            live G weights, optimiser tensors
                                  trainer_state.json                   step, images seen, optimiser settings
    RUN/checkpoints/latest                                             names the newest complete checkpoint

Every random draw of training derives from (seed, step, micro-batch), so the step is the only RNG state.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from pipelines.core.bundle import GENERATOR_FILE, write_bundle_files
from pipelines.core.io import staged_folder, write_bytes_atomic
from pipelines.errors import InvalidInputError

LATEST_FILE = "latest"
DISCRIMINATOR_FILE = "discriminator.safetensors"
STATE_TENSORS = "trainer_state.safetensors"
STATE_JSON = "trainer_state.json"


def checkpoint_name(step: int) -> str:
    return f"step-{step:08d}"


def optimizer_tensors(
    prefix: str, optimizer: torch.optim.Optimizer
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimiser state dict into tensors (safetensors) and plain data (JSON)."""
    state = optimizer.state_dict()
    tensors = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            tensors[f"{prefix}.{index}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    return tensors, {"param_groups": state["param_groups"]}


def load_optimizer(
    optimizer: torch.optim.Optimizer, prefix: str, tensors: dict[str, torch.Tensor], groups: list
) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        if name.startswith(prefix + "."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def save_checkpoint(trainer, run_dir: Path, keep: int, extra: dict[str, Any]) -> Path:
    """Write the trainer's state as RUN/checkpoints/step-N atomically, update `latest`, prune old ones."""
    from safetensors.torch import save_file

    folder = run_dir / "checkpoints" / checkpoint_name(trainer.step)
    g_opt, g_meta = optimizer_tensors("opt_G", trainer.opt_G)
    d_opt, d_meta = optimizer_tensors("opt_D", trainer.opt_D)
    live = {f"G.{k}": v.detach().cpu().contiguous() for k, v in trainer.G.state_dict().items()}
    with staged_folder(folder, overwrite=True) as staging:
        write_bundle_files(
            trainer.G_ema, staging, {"step": trainer.step, "kimg": trainer.images_seen / 1000, **extra}
        )
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in trainer.D.state_dict().items()},
            staging / DISCRIMINATOR_FILE,
        )
        save_file({**live, **g_opt, **d_opt}, staging / STATE_TENSORS)
        state = {"step": trainer.step, "images_seen": trainer.images_seen, "opt_G": g_meta, "opt_D": d_meta}
        (staging / STATE_JSON).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    write_bytes_atomic(run_dir / "checkpoints" / LATEST_FILE, (folder.name + "\n").encode())
    _prune(run_dir / "checkpoints", keep)
    return folder


def _prune(folder: Path, keep: int) -> None:
    steps = sorted(p for p in folder.glob("step-*") if p.is_dir())
    for old in steps[: max(len(steps) - keep, 0)]:
        shutil.rmtree(old)


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint named by RUN/checkpoints/latest, or None when the run has none."""
    pointer = run_dir / "checkpoints" / LATEST_FILE
    if not pointer.is_file():
        return None
    folder = run_dir / "checkpoints" / pointer.read_text(encoding="utf-8").strip()
    if not folder.is_dir():
        raise InvalidInputError(f"{pointer}: names {folder.name}, which does not exist")
    return folder


def load_checkpoint(trainer, folder: Path) -> None:
    """Restore networks, EMA, optimisers and the step from a checkpoint folder."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = json.loads((folder / STATE_JSON).read_text(encoding="utf-8"))
        tensors = load_file(folder / STATE_TENSORS)
        discriminator = load_file(folder / DISCRIMINATOR_FILE)
        ema = load_file(folder / GENERATOR_FILE)
    except (OSError, json.JSONDecodeError, SafetensorError) as error:
        raise InvalidInputError(f"{folder}: not a complete training checkpoint ({error})") from error
    try:
        trainer.G.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("G.")})
        trainer.G_ema.load_state_dict(ema)
        trainer.D.load_state_dict(discriminator)
    except RuntimeError as error:
        raise InvalidInputError(f"{folder}: weights do not match this run's configuration") from error
    load_optimizer(trainer.opt_G, "opt_G", tensors, state["opt_G"]["param_groups"])
    load_optimizer(trainer.opt_D, "opt_D", tensors, state["opt_D"]["param_groups"])
    trainer.step = int(state["step"])
