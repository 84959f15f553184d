"""Training: a few steps teach the discriminator, resume is exact, 2 processes equal 1, configs round-trip."""

import json
import os
import socket

import pytest
import torch
from typer.testing import CliRunner

from pipelines.train import TrainRequest, resolve_request_config, train
from pipelines.training.checkpoint import latest_checkpoint, load_checkpoint
from tg3dface_cli.app import app

FAST = (
    "train.batch=4",
    "train.batch_gpu=4",
    "train.log_every=1",
    "train.sample_every=0",
    "train.checkpoint_every=1000",
)


def request(data, out, steps, *extra, name="run", resume=None):
    return TrainRequest(
        data=data,
        out=out,
        preset="tiny",
        overrides=(*FAST, f"train.max_steps={steps}", *extra),
        name=name,
        resume=resume,
        device="cpu",
    )


def state_of(run_dir):
    from safetensors.torch import load_file

    folder = latest_checkpoint(run_dir)
    return load_file(folder / "generator.safetensors"), load_file(folder / "discriminator.safetensors")


def test_training_writes_a_run_folder_and_reduces_discriminator_confusion(tiny_synthetic, tmp_path):
    events = []
    result = train(request(tiny_synthetic, tmp_path, 12, "train.sample_every=12"), on_event=events.append)
    steps = [e for e in events if e["event"] == "step"]
    assert result.step == 12 and len(steps) == 12
    # the discriminator learns to separate real from fake: margin real - fake grows over the first steps
    margin = [e["D_real"] - e["D_fake"] for e in steps]
    assert sum(margin[-4:]) / 4 > sum(margin[:4]) / 4
    run = result.run_dir
    assert {"manifest.json", "config.json", "train_log.jsonl", "checkpoints", "samples"} <= {
        p.name for p in run.iterdir()
    }
    lines = (run / "train_log.jsonl").read_text().splitlines()
    assert len(lines) == 12 and {"G_gc", "G_fine", "D_adv", "images_per_s"} <= set(json.loads(lines[-1]))
    assert (run / "samples" / "step-00000012.png").is_file()
    from pipelines import load_generator

    generator = load_generator(latest_checkpoint(run))  # a checkpoint is a model bundle
    assert generator.config.image_resolution == 64


def test_every_loss_term_can_be_switched_off(tiny_synthetic, tmp_path):
    off = ("loss.gc=0", "loss.fine=0", "loss.d_contrastive=0", "loss.density=0", "loss.r1_gamma=0")
    events = []
    train(request(tiny_synthetic, tmp_path, 2, *off), on_event=events.append)
    keys = set().union(*(e.keys() for e in events if e["event"] == "step"))
    assert not keys & {"G_gc", "G_fine", "G_dcontrast", "G_density", "D_r1", "D_contrast"}
    assert {"G_adv", "D_adv"} <= keys


def test_resume_reproduces_an_uninterrupted_run_exactly(tiny_synthetic, tmp_path):
    train(request(tiny_synthetic, tmp_path, 5, name="straight"))
    train(request(tiny_synthetic, tmp_path, 3, name="split"))
    result = train(request(tiny_synthetic, tmp_path, 5, name="split", resume="auto"))
    assert result.step == 5
    straight, split = state_of(tmp_path / "straight"), state_of(tmp_path / "split")
    for a, b in zip(straight, split, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), key


def test_checkpoint_restores_optimizer_and_step(tiny_synthetic, tmp_path):
    from pipelines.core.encoders import load_encoder
    from pipelines.training.data import TrainingSet
    from pipelines.training.loop import Trainer

    result = train(request(tiny_synthetic, tmp_path, 2))
    config = resolve_request_config(request(tiny_synthetic, tmp_path, 2))
    encoder = load_encoder(config.generator.text_encoder)
    trainer = Trainer(config, TrainingSet(tiny_synthetic, 64, encoder), encoder, None, torch.device("cpu"))
    load_checkpoint(trainer, result.checkpoint)
    assert trainer.step == 2
    assert len(trainer.opt_G.state) == len(list(trainer.G.parameters()))


def test_config_round_trip_through_the_run_folder(tiny_synthetic, tmp_path):
    original = resolve_request_config(request(tiny_synthetic, tmp_path, 1, "loss.fine=0"))
    result = train(request(tiny_synthetic, tmp_path, 1, "loss.fine=0"))
    again = resolve_request_config(
        TrainRequest(data=tiny_synthetic, out=tmp_path, config_file=result.run_dir / "config.json")
    )
    assert again == original


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world, port, data, out):
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        WORLD_SIZE=str(world),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    train(
        TrainRequest(
            data=data,
            out=out,
            preset="tiny",
            overrides=(*FAST, "train.batch=8", "train.max_steps=3"),
            name="ddp",
            device="cpu",
        )
    )
    import torch.distributed as dist

    dist.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_processes_equal_one_process_over_the_global_batch(tiny_synthetic, tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_ddp_worker, args=(2, _free_port(), str(tiny_synthetic), str(tmp_path)), nprocs=2, join=True)
    train(
        TrainRequest(
            data=tiny_synthetic,
            out=tmp_path,
            preset="tiny",
            overrides=(*FAST, "train.batch=8", "train.max_steps=3"),
            name="single",
            device="cpu",
        )
    )
    for a, b in zip(state_of(tmp_path / "ddp"), state_of(tmp_path / "single"), strict=True):
        for key in a:
            torch.testing.assert_close(a[key], b[key], atol=1e-5, rtol=1e-4, msg=key)


def test_cli_dry_run_and_errors(tiny_synthetic, tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        app, ["train", "--data", str(tiny_synthetic), "--dry-run", "--json", "--set", "loss.gc=0"]
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["config"]["loss"]["gc"] == 0.0
    result = runner.invoke(
        app, ["train", "--data", str(tiny_synthetic), "--dry-run", "--set", "loss.nothing=1"]
    )
    assert result.exit_code == 1 and "unknown field" in result.stderr
    result = runner.invoke(
        app, ["train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path), "--max-steps", "1"]
    )
    assert result.exit_code == 1 and result.stderr.startswith("error:")
    result = runner.invoke(app, ["train"])
    assert result.exit_code == 2


def test_periodic_evaluation_appends_metrics(tiny_synthetic, tmp_path):
    events = []
    extra = ("train.eval_every=2", "train.eval_samples=4", "train.eval_metrics=[\"clip\", \"warp\"]")
    result = train(request(tiny_synthetic, tmp_path, 2, *extra), on_event=events.append)
    lines = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 1 and lines[0]["step"] == 2
    assert {"clip", "warp"} <= set(lines[0])
    assert any(e["event"] == "eval" for e in events)


def test_weights_dir_is_where_train_looks_for_encoder_weights(tiny_synthetic, tmp_path):
    args = ["train", "--data", str(tiny_synthetic), "--dry-run", "--weights-dir", str(tmp_path / "w")]
    result = CliRunner().invoke(app, [*args, "--set", "generator.text_encoder=openclip:ViT-B-32:openai"])
    assert result.exit_code == 3
    assert str(tmp_path / "w" / "open_clip") in result.stderr.splitlines()[-1]
