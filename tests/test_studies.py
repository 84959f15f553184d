"""The edit and inversion studies (`tg3dface eval edits|inversion`): report contents, invariants, errors."""

import json

import pytest
from typer.testing import CliRunner

from pipelines.studies.edits import EditStudyConfig, edit_study
from tg3dface_cli.app import app

runner = CliRunner()


@pytest.fixture(scope="module")
def data(eval_synthetic):
    """The shared 24-image synthetic set with a test split (conftest.py)."""
    return eval_synthetic


def test_edit_study_at_strength_zero_changes_nothing(data):
    report = edit_study(EditStudyConfig("random:tiny", data, num_samples=6, strength=0.0, device="cpu"))
    edited, unchanged = report["edited"], report["unchanged"]
    assert report["num_samples"] >= 2 and report["kind"] == "edit_study"
    assert edited["still_source_value"] == edited["accuracy_before"]
    assert unchanged["agreement"] == 1.0 and unchanged["before"] == unchanged["after"]
    face = report["face_region"]
    assert (
        face["samples"] >= 1 and face["psnr"] > 100 > 40 > face["reference"]["different_faces"]
    )  # identical
    for example in report["examples"]:
        assert example["target"] + " hair" in example["edited"]


def test_edit_targets_never_repeat_the_source_colour(data):
    from pipelines.data.dataset import read_dataset
    from pipelines.studies.edits import _source_prompts, _targets

    info, config = read_dataset(data), EditStudyConfig("random:tiny", data, num_samples=8, seed=1)
    prompts = _source_prompts(info, config)
    targets = _targets(info, prompts, config)
    train_colours = {r["attributes"]["hair_color"] for r in info.split("train")}
    for prompt, target in zip(prompts, targets, strict=True):
        assert target != info.records[prompt.record]["attributes"]["hair_color"] and target in train_colours


def test_edit_study_is_deterministic_and_targets_differ_from_the_source_colour(data):
    config = EditStudyConfig("random:tiny", data, num_samples=6, seed=3, device="cpu")
    first, second = edit_study(config), edit_study(config)
    first.pop("elapsed_s"), second.pop("elapsed_s")
    assert first == second
    assert 0.0 <= first["edited"]["accuracy_after"] <= 1.0


def test_edit_study_cli_rejects_unknown_colours_and_real_data(data, tmp_path):
    result = runner.invoke(
        app, ["eval", "edits", "--model", "random:tiny", "--data", str(data), "--targets", "teal", "-n", "4"]
    )
    assert result.exit_code == 1 and "teal" in result.stderr.splitlines()[-1]
    out = tmp_path / "edits.json"
    result = runner.invoke(
        app,
        [
            "eval",
            "edits",
            "--model",
            "random:tiny",
            "--data",
            str(data),
            "-n",
            "3",
            "--json",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(out.read_text())


def test_inversion_study_improves_on_its_starting_latent_and_scores_every_view(data):
    from pipelines.core.inversion import InversionConfig
    from pipelines.studies.inversion import InversionStudyConfig, inversion_study

    config = InversionStudyConfig(
        data, "random:tiny", num_samples=2, inversion=InversionConfig(w_steps=15, wplus_steps=5), device="cpu"
    )
    report = inversion_study(config)
    assert report["num_samples"] == 2 and len(report["samples"]) == 2
    for sample in report["samples"]:
        assert set(sample["inverted"]["psnr_novel_views"]) == {"-30", "+30"}
        assert sample["inverted"]["psnr_input_view"] > sample["start"]["psnr_input_view"]
        assert sample["inverted"]["depth_error"] >= 0
    summary = report["summary"]["inverted"]
    expected = sum(s["inverted"]["psnr_input_view"] for s in report["samples"]) / 2
    assert summary["psnr_input_view"] == pytest.approx(expected, abs=1e-3)


def test_eval_guidance_is_recorded_and_changes_the_samples(data):
    from pipelines.core.guidance import GuidanceConfig
    from pipelines.evaluate import EvalConfig, evaluate

    def clip_of(steps: int) -> dict:
        config = EvalConfig(
            ("random:tiny",), data, metrics=("clip",), num_samples=4, device="cpu",
            guidance=GuidanceConfig(steps=steps, lr=0.1),
        )  # fmt: skip
        return evaluate(config).payload

    plain, guided = clip_of(0), clip_of(3)
    assert plain["guidance"] is None and guided["guidance"]["steps"] == 3
    assert plain["results"]["clip"]["mean_cosine"] != guided["results"]["clip"]["mean_cosine"]
