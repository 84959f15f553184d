"""The parser trainer: a few steps on the tiny synthetic set, an interrupted run resumes bit for bit, and
the exported folder loads through `load_parser("local-dir:...")`."""

from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file

from pipelines.core.parsing import load_parser
from pipelines.encoders_training.parser import ParserTrainConfig, train_parser
from pipelines.errors import InvalidInputError, OutputExistsError

PARSER_CONFIG = ParserTrainConfig(steps=4, batch=2, width=4, checkpoint_every=2, log_every=1)


def _stop_after(calls: int):
    count = {"n": 0}

    def should_stop() -> bool:
        count["n"] += 1
        return count["n"] >= calls

    return should_stop


def _assert_same_weights(first, second):
    a, b = load_file(first), load_file(second)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_trainer_refuses_an_existing_run_without_resume_and_a_changed_resume(tiny_synthetic, tmp_path):
    train_parser(tiny_synthetic, tmp_path / "run", PARSER_CONFIG, should_stop=_stop_after(1))
    with pytest.raises(OutputExistsError, match="--resume"):
        train_parser(tiny_synthetic, tmp_path / "run", PARSER_CONFIG)
    with pytest.raises(InvalidInputError, match="different width"):
        train_parser(tiny_synthetic, tmp_path / "run", replace(PARSER_CONFIG, width=8), resume=True)


def test_parser_trainer_resumes_bit_for_bit_and_exports_a_loadable_folder(tiny_synthetic, tmp_path):
    straight = train_parser(tiny_synthetic, tmp_path / "straight", PARSER_CONFIG)
    train_parser(tiny_synthetic, tmp_path / "resumed", PARSER_CONFIG, should_stop=_stop_after(3))
    resumed = train_parser(tiny_synthetic, tmp_path / "resumed", PARSER_CONFIG, resume=True)
    assert straight.step == resumed.step == 4
    _assert_same_weights(straight.model_dir / "parser.safetensors", resumed.model_dir / "parser.safetensors")
    parser = load_parser(f"local-dir:{resumed.model_dir}")
    assert parser(torch.zeros(1, 3, 32, 32)).shape == (1, 19, 32, 32)


def test_cli_trains_then_evaluates_the_parser_with_one_json_object(tiny_synthetic, tmp_path):
    import json

    from typer.testing import CliRunner

    from tg3dface_cli.app import app

    runner = CliRunner()
    run = tmp_path / "run"
    trained = runner.invoke(
        app,
        ["encoders", "train-parser", "--data", str(tiny_synthetic), "--out", str(run)]
        + ["--steps", "2", "--batch", "2", "--width", "4", "--json"],
    )
    assert trained.exit_code == 0, trained.output
    assert json.loads(trained.stdout)["model"] == str(run / "model")
    scored = runner.invoke(
        app,
        ["encoders", "evaluate", "--data", str(tiny_synthetic), "--split", "train"]
        + ["--parser", f"local-dir:{run / 'model'}", "--json"],
    )
    assert scored.exit_code == 0, scored.output
    report = json.loads(scored.stdout)
    assert 0 <= report["results"]["parser"]["mean_iou"] <= 1 and report["split"] == "train"
    missing = runner.invoke(app, ["encoders", "evaluate", "--data", str(tiny_synthetic)])
    assert missing.exit_code == 2 and "--clip" in missing.output
