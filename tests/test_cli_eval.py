"""`tg3dface eval` through Typer's test runner: the metrics JSON, run logs, exit codes and one-line errors."""

import json
import re

import pytest
from typer.testing import CliRunner

from pipelines.core.bundle import save_bundle
from pipelines.generate import load_model
from tg3dface_cli.app import app

runner = CliRunner()


@pytest.fixture(scope="module")
def data(eval_synthetic):
    """The shared 24-image synthetic set with a test split (conftest.py)."""
    return eval_synthetic


@pytest.fixture(scope="module")
def weights_home(tmp_path_factory):
    return tmp_path_factory.mktemp("weights")


def invoke(*args):
    return runner.invoke(app, ["eval", *args])


def error_line(result) -> str:
    """The one error line, which must be the last line on stderr (a warning may precede it)."""
    lines = result.stderr.splitlines()
    assert sum(line.startswith("error:") for line in lines) == 1 and lines[-1].startswith("error:")
    return lines[-1]


def test_json_is_the_metrics_object_and_out_matches(data, tmp_path, weights_home):
    out = tmp_path / "metrics.json"
    args = ["--model", "random:tiny", "--data", str(data), "-n", "4", "--metrics", "clip,warp,mvic", "--json"]
    result = invoke(*args, "--out", str(out), "--device", "cpu", "--weights-dir", str(weights_home))
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert (
        payload["kind"] == "metrics" and payload["model"] == "random:tiny" and payload["model_sha256"] is None
    )
    assert payload["num_samples"] == 4 and payload["seed"] == 0 and payload["device"] == "cpu"
    assert set(payload["results"]) == {"clip", "warp", "mvic"}
    clip = payload["results"]["clip"]
    assert clip["encoder"] == "builtin:tiny-random" and clip["score"] == pytest.approx(
        100 * clip["mean_cosine"], abs=1e-3
    )
    mvic, warp = payload["results"]["mvic"], payload["results"]["warp"]
    assert mvic["identity_model"] == "dlib-resnet-v1" and 0 <= mvic["no_face_rate"] <= 1
    # true heads of the same 4 samples at the same views (32 px: dlib finds few faces, so only the shape)
    assert set(mvic["reference"]) == {"num_samples", "ground_truth", "shuffled"}
    assert mvic["reference"]["num_samples"] == 4 and mvic["reference"]["ground_truth"]["pairs"] >= 0
    assert warp["reference"]["num_samples"] == 4 and warp["reference"]["ground_truth"]["psnr"] > 20
    written = json.loads(out.read_text())
    assert written["results"] == payload["results"]


def test_same_seed_gives_the_same_numbers(data):
    args = [
        "--model",
        "random:tiny",
        "--data",
        str(data),
        "-n",
        "3",
        "--metrics",
        "clip,warp",
        "--json",
        "--seed",
        "5",
    ]
    first, second = invoke(*args), invoke(*args)
    assert first.exit_code == 0 and second.exit_code == 0
    assert json.loads(first.stdout)["results"] == json.loads(second.stdout)["results"]


def test_fid_kid_state_samples_and_resolution(data, weights_home):
    pytest.importorskip("torch_fidelity")
    args = ["--model", "random:tiny", "--data", str(data), "-n", "3", "--metrics", "fid,kid", "--json"]
    result = invoke(*args, "--weights-dir", str(weights_home))
    assert result.exit_code == 0, result.output
    results = json.loads(result.stdout)["results"]
    assert results["fid"]["value"] > 0 and results["fid"]["num_generated"] == 3
    assert results["fid"]["resolution"] == 32 and results["fid"]["generated_resolution"] == 64
    assert results["kid"]["subset_size"] == 3


def test_two_models_and_a_run_checkpoint_append_to_metrics_jsonl(data, tmp_path):
    import torch

    run = tmp_path / "run"
    bundle = run / "checkpoints" / "step-00000010"
    save_bundle(load_model("random:tiny", torch.device("cpu")), bundle)
    args = [
        "--model",
        "random:tiny",
        "--model",
        str(bundle),
        "--data",
        str(data),
        "-n",
        "2",
        "--metrics",
        "warp",
    ]
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["kind"] == "metrics_comparison" and len(payload["models"]) == 2
    assert payload["models"][1]["model_sha256"] and payload["models"][1]["model_is_random"] is False
    # the same network saved as a bundle measures the same
    assert payload["models"][0]["results"] == payload["models"][1]["results"]
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["step"] == 10


def test_human_mode_prints_a_table_on_stderr(data):
    result = runner.invoke(
        app, ["eval", "-m", "random:tiny", "--data", str(data), "-n", "2", "--metrics", "warp"]
    )
    assert result.exit_code == 0
    assert result.stdout == ""
    warp_row = next(line for line in result.stderr.splitlines() if "warp PSNR" in line)
    assert len(re.findall(r"\d+\.\d\d", warp_row)) == 2  # the model's value and the ground truth


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "DATA"], "--model"),
        (["-m", "random:tiny"], "--data"),
        (["-m", "random:tiny", "--data", "DATA", "--metrics", "fid,psnr"], "psnr"),
        (["-m", "random:tiny", "--data", "DATA", "-n", "1"], "--num-samples"),
        (["-m", "random:tiny", "--data", "DATA", "--identity", "facenet"], "--identity"),
        (["-m", "random:tiny", "--data", "DATA", "--reference-samples", "-1"], "--reference-samples"),
    ],
)
def test_usage_errors_exit_2_with_one_line(data, args, message):
    result = invoke(*[str(data) if a == "DATA" else a for a in args])
    assert result.exit_code == 2
    assert result.stderr.startswith("error:") and message in result.stderr and result.stderr.count("\n") == 1


def test_a_missing_data_folder_exits_1(tmp_path):
    result = invoke("-m", "random:tiny", "--data", str(tmp_path / "nope"), "-n", "2", "--metrics", "warp")
    assert result.exit_code == 1 and "nope" in error_line(result)


def test_missing_inception_weights_exit_3(data, tmp_path):
    args = ["-m", "random:tiny", "--data", str(data), "-n", "2", "--metrics", "fid"]
    result = invoke(*args, "--inception-weights", str(tmp_path / "inception.pth"))
    assert result.exit_code == 3 and "inception.pth" in error_line(result)


def test_train_reader_then_attr(data, tmp_path):
    reader = tmp_path / "reader"
    result = invoke("train-reader", "--data", str(data), "--out", str(reader), "--epochs", "1", "--json")
    assert result.exit_code == 0, result.output
    assert (reader / "reader.safetensors").is_file() and json.loads(result.stdout)["out"] == str(reader)
    args = ["-m", "random:tiny", "--data", str(data), "-n", "3", "--metrics", "attr", "--reader", str(reader)]
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    attr = json.loads(result.stdout)["results"]["attr"]
    assert set(attr["in_domain"]["reference"]) == {"ground_truth", "shuffled"}
    assert 0 <= attr["in_domain"]["overall"] <= 1
