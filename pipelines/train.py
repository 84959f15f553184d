"""The `train` stage: a dataset folder in, a run folder with checkpoints (model bundles) out (DESIGN §3.2).

RUN/manifest.json  RUN/config.json  RUN/train_log.jsonl  RUN/metrics.jsonl
RUN/samples/step-XXXXXXXX.png  RUN/checkpoints/step-XXXXXXXX/  RUN/checkpoints/latest
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from pipelines.core.device import resolve_device
from pipelines.core.io import manifest_header, write_json_atomic
from pipelines.errors import InvalidInputError, OutputExistsError
from pipelines.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from pipelines.training.config import RunConfig, resolve_run_config, run_config_dict
from pipelines.training.loop import Distributed, Trainer

EventFn = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class TrainRequest:
    """What to train, on what, and where."""

    data: Path
    """The dataset folder (`tg3dface prepare`)."""
    out: Path
    """The folder that holds run folders."""
    preset: str = "tiny"
    """Preset of the model and training settings."""
    overrides: tuple[str, ...] = ()
    """`--set section.field=value` overrides (sections: generator, discriminator, train, loss)."""
    config_file: Path | None = None
    """A run's config.json to reproduce (overrides still apply)."""
    name: str | None = None
    """Run folder name (default: <preset>-<dataset folder name>)."""
    resume: str | None = None
    """'auto' (continue the run's latest checkpoint, if any) or a checkpoint/run folder."""
    device: str = "auto"
    """auto, cpu, cuda or cuda:N (torchrun processes use their local rank)."""
    weights_dir: str | None = None
    """Where local encoder and parser weights live (default: TG3DFACE_HOME or ~/.cache/tg3dface)."""


@dataclass
class TrainResult:
    run_dir: Path
    checkpoint: Path | None
    step: int
    interrupted: bool
    elapsed_s: float


def resolve_request_config(request: TrainRequest) -> RunConfig:
    """The run configuration the request asks for, with the text dimension taken from its encoder."""
    base = None
    if request.config_file is not None:
        try:
            saved = json.loads(Path(request.config_file).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise InvalidInputError(f"{request.config_file}: cannot read a run config ({error})") from error
        base = saved.get("config", saved)
    config = resolve_run_config(
        request.preset if base is None else base.get("preset", request.preset), list(request.overrides), base
    )
    _check_eval_metrics(config.train.eval_metrics)
    return _with_encoder_dim(config, request.weights_dir)


def _check_eval_metrics(metrics: tuple[str, ...]) -> None:
    """Periodic evaluation takes the metrics `tg3dface eval` knows; anything else is a config error."""
    from pipelines.evaluate import METRICS

    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise InvalidInputError(
            f"train.eval_metrics: unknown metric {unknown[0]!r} (choose from {', '.join(METRICS)})"
        )


def _with_encoder_dim(config: RunConfig, weights_dir: str | None = None) -> RunConfig:
    from pipelines.core.encoders import load_encoder

    dim = load_encoder(config.generator.text_encoder, weights_dir=weights_dir).embed_dim
    if dim == config.generator.mapping.text_dim:
        return config
    generator = replace(config.generator, mapping=replace(config.generator.mapping, text_dim=dim))
    return replace(config, generator=generator)


def train(
    request: TrainRequest, on_event: EventFn | None = None, should_stop: Callable[[], bool] | None = None
) -> TrainResult:
    """Train until `train.max_steps` (or an interrupt: SIGINT saves a checkpoint and returns)."""
    from pipelines.core.encoders import load_encoder
    from pipelines.core.parsing import load_parser
    from pipelines.training.data import TrainingSet

    started = time.perf_counter()
    emit = on_event or (lambda event: None)
    dist_info = _init_distributed()
    device = _process_device(request.device, dist_info)
    config = resolve_request_config(request)
    run_dir, resume_from = _run_folder(request, config)
    if dist_info.world > 1:
        import torch.distributed as dist

        dist.barrier()  # every rank checks the run folder before rank 0 writes into it
    encoder = load_encoder(config.generator.text_encoder, device, request.weights_dir)
    data = TrainingSet(
        request.data,
        config.generator.image_resolution,
        encoder,
        log=lambda m: emit({"event": "log", "message": m}),
    )
    parser = load_parser(config.train.parser, device, request.weights_dir) if config.loss.fine else None
    trainer = Trainer(config, data, encoder, parser, device, dist_info)
    if resume_from is not None:
        load_checkpoint(trainer, resume_from)
        emit({"event": "log", "message": f"resumed from {resume_from} at step {trainer.step}"})
    main = dist_info.rank == 0
    if main:
        _write_run_files(run_dir, config, request)
    evaluator = _PeriodicEval(request, config, device)
    board = _tensorboard(run_dir) if main and config.train.tensorboard else None
    interrupted = _Interrupt()
    checkpoint = resume_from
    train_cfg = config.train
    sample_prompts = list(train_cfg.sample_prompts) or data.test_captions(4)
    window: dict[str, float] = {}
    window_steps, window_start = 0, time.perf_counter()
    with interrupted:
        while trainer.step < train_cfg.max_steps:
            for key, value in trainer.train_step().items():
                window[key] = window.get(key, 0.0) + value
            window_steps += 1
            step = trainer.step
            stop = interrupted.flag or (should_stop is not None and should_stop())
            if step % train_cfg.log_every == 0 or step == train_cfg.max_steps or stop:
                seconds = (time.perf_counter() - window_start) / window_steps
                line = {
                    "step": step,
                    "kimg": trainer.images_seen / 1000,
                    **{k: round(v / window_steps, 5) for k, v in window.items()},
                    "sec_per_step": round(seconds, 4),
                    "images_per_s": round(train_cfg.batch / seconds, 2),
                }
                if main:
                    _append_jsonl(run_dir / "train_log.jsonl", line)
                if board is not None:
                    for key, value in line.items():
                        if key not in ("step", "kimg"):
                            board.add_scalar(key, value, step)
                emit({"event": "step", **line, "max_steps": train_cfg.max_steps})
                window, window_steps, window_start = {}, 0, time.perf_counter()
            if main and train_cfg.sample_every and step % train_cfg.sample_every == 0:
                _write_samples(trainer, run_dir, sample_prompts, list(train_cfg.sample_seeds))
            if main and train_cfg.eval_every and step % train_cfg.eval_every == 0:
                results = evaluator.evaluate(trainer.G_ema)
                _append_jsonl(
                    run_dir / "metrics.jsonl", {"step": step, "kimg": trainer.images_seen / 1000, **results}
                )
                emit({"event": "eval", "step": step, **results})
            if main and (step % train_cfg.checkpoint_every == 0 or step == train_cfg.max_steps or stop):
                checkpoint = save_checkpoint(
                    trainer, run_dir, train_cfg.keep_checkpoints, {"data": str(Path(request.data).resolve())}
                )
                emit({"event": "checkpoint", "path": str(checkpoint), "step": step})
            if stop:
                break
    if board is not None:
        board.close()
    return TrainResult(run_dir, checkpoint, trainer.step, interrupted.flag, time.perf_counter() - started)


def _tensorboard(run_dir: Path):
    """A SummaryWriter on RUN/tensorboard; a clear error when the package is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:
        raise InvalidInputError(
            "train.tensorboard=true needs the tensorboard package (pip install tensorboard)"
        ) from error
    return SummaryWriter(str(run_dir / "tensorboard"))


class _PeriodicEval:
    """Scores the EMA generator during training with `tg3dface eval`'s metrics; built on first use."""

    def __init__(self, request: TrainRequest, config: RunConfig, device: torch.device) -> None:
        self.request, self.config, self.device = request, config, device
        self.inputs = None

    def evaluate(self, generator) -> dict[str, Any]:
        from pipelines.data.dataset import read_dataset
        from pipelines.evaluate import EvalConfig, EvalInputs, evaluate_generator

        if self.inputs is None:
            train = self.config.train
            eval_config = EvalConfig(
                models=("training",),
                data=Path(self.request.data),
                metrics=train.eval_metrics,
                num_samples=train.eval_samples,
                seed=train.seed,
                reader=train.eval_reader,
                weights_dir=self.request.weights_dir,
            )
            info = read_dataset(eval_config.data)
            self.inputs = EvalInputs(eval_config, info, self.device, lambda task, advance, total: None)
        return evaluate_generator(generator, self.inputs, "training")


class _Interrupt:
    """While active, SIGINT sets `flag` (the loop saves a checkpoint and stops) instead of raising."""

    def __init__(self) -> None:
        self.flag = False
        self._previous = None

    def __enter__(self) -> _Interrupt:
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            self._previous = None
        return self

    def _handle(self, signum, frame) -> None:
        self.flag = True

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _init_distributed() -> Distributed:
    """Join the torchrun process group when launched by torchrun (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Distributed()
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    return Distributed(rank=dist.get_rank(), world=dist.get_world_size())


def _process_device(spec: str, dist_info: Distributed) -> torch.device:
    device = resolve_device(spec)
    if device.type == "cuda" and dist_info.world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return device


def _run_folder(request: TrainRequest, config: RunConfig) -> tuple[Path, Path | None]:
    """The run folder and the checkpoint to resume from (None for a fresh run)."""
    if request.resume not in (None, "auto"):
        given = Path(request.resume)
        if (given / "checkpoints").is_dir():
            checkpoint = latest_checkpoint(given)
            return given, checkpoint
        if (given / "trainer_state.json").is_file():
            return given.parent.parent, given
        raise InvalidInputError(f"--resume {given}: neither a run folder nor a training checkpoint")
    name = request.name or f"{config.preset}-{Path(request.data).resolve().name}"
    run_dir = Path(request.out) / name
    if request.resume == "auto":
        return run_dir, latest_checkpoint(run_dir) if run_dir.is_dir() else None
    if run_dir.exists() and any(run_dir.iterdir()):
        raise OutputExistsError(
            f"{run_dir}: run folder exists (pass --resume auto to continue it, or --name NEW)"
        )
    return run_dir, None


def _write_run_files(run_dir: Path, config: RunConfig, request: TrainRequest) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    data = {"config": run_config_dict(config), "data": str(Path(request.data).resolve())}
    write_json_atomic(run_dir / "config.json", data)
    write_json_atomic(
        run_dir / "manifest.json", manifest_header("run", data=data["data"], preset=config.preset)
    )


def _append_jsonl(path: Path, line: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")


def _write_samples(trainer: Trainer, run_dir: Path, prompts: list[str], seeds: list[int]) -> Path:
    """RUN/samples/step-N.png: the EMA generator's frontal renders, prompts in rows and seeds in columns."""
    from pipelines.core.samples import to_uint8, write_png
    from pipelines.training.checkpoint import checkpoint_name

    path = run_dir / "samples" / f"{checkpoint_name(trainer.step)}.png"
    write_png(path, to_uint8(trainer.sample_grid(prompts, seeds).cpu()))
    return path
