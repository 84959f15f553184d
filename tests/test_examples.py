"""The example scripts in examples/ run end to end in QUICK mode and leave the artifacts they announce.

Each script runs in a temporary folder with the tg3dface command of this Python environment and one CPU
thread; training and evaluation use MODEL=random:tiny (a seeded random network), the generate/edit and
invert/edit chains the default model, the shipped demo model, as a user would.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.sh"))
TG3DFACE = Path(sys.executable).parent / "tg3dface"


def run_example(name: str, tmp_path: Path, *args: str, **env: str) -> tuple[Path, str]:
    """Run examples/<name> in QUICK mode with OUT=tmp_path/out; returns OUT and the script's stdout."""
    out = tmp_path / "out"
    environment = {
        **os.environ,
        "QUICK": "1",
        "MODEL": "random:tiny",
        "OUT": str(out),
        "DEVICE": "cpu",
        "TG3DFACE": str(TG3DFACE),
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        **env,
    }
    result = subprocess.run(
        ["bash", str(EXAMPLES / name), *args],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    assert "outputs:" in result.stdout
    return out, result.stdout


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def assert_sample_folder(folder: Path, views=("yaw+00_pitch+00",)) -> dict:
    """A sample bundle folder (DESIGN §3.4) with the given views; returns its latent.json."""
    for view in views:
        assert (folder / "views" / f"{view}.png").is_file()
        assert (folder / "depth" / f"{view}.png").is_file()
    assert (folder / "latent.safetensors").is_file()
    return read_json(folder / "latent.json")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_script_is_valid_bash_with_strict_mode_and_no_jq(script):
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text(encoding="utf-8")
    assert "set -euo pipefail" in text
    assert not re.search(r"\bjq\b", text)


@pytest.mark.parametrize("script", [s for s in SCRIPTS if s.name != "demo.sh"], ids=lambda path: path.name)
def test_every_knob_a_script_reads_is_documented_in_its_header(script):
    text = script.read_text(encoding="utf-8")
    header = text.split("set -euo pipefail")[0]
    knobs = set(re.findall(r'"\$\{([A-Z_]+):=', text)) | {"QUICK", "TG3DFACE"}
    for knob in knobs:
        assert re.search(rf"\b{knob}=", header), f"{script.name}: {knob} is not documented in the header"


@pytest.mark.slow
def test_synthetic_train_eval_scores_the_last_checkpoint(tmp_path):
    out, stdout = run_example("synthetic_train_eval.sh", tmp_path)

    data = read_json(out / "data" / "manifest.json")
    assert data["kind"] == "dataset"
    train = read_json(out / "train.json")
    assert train["step"] == 4 and not train["interrupted"]
    run, checkpoint = Path(train["run"]), Path(train["checkpoint"])
    assert checkpoint == run / "checkpoints" / "step-00000004"
    assert (checkpoint / "config.json").is_file() and (checkpoint / "generator.safetensors").is_file()
    assert (run / "samples" / "step-00000004.png").is_file()
    assert len((run / "train_log.jsonl").read_text().splitlines()) >= 1

    metrics = read_json(out / "metrics.json")
    assert metrics["kind"] == "metrics" and metrics["num_samples"] == 8
    assert Path(metrics["model"]) == checkpoint.resolve()
    assert {"fid", "kid", "clip", "mvic", "warp"} <= set(metrics["results"])
    assert metrics["results"]["fid"]["value"] > 0
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert logged[-1]["step"] == 4
    fid = re.search(r"fid\.value = ([0-9.]+)", stdout)
    assert fid and float(fid.group(1)) == pytest.approx(metrics["results"]["fid"]["value"])
    assert str(out / "metrics.json") in stdout


def test_prompts_file_is_generated_then_every_sample_edited(tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "a woman with long red hair"}\n"an old man with short gray hair"\n')
    out, stdout = run_example("prompts_generate_edit.sh", tmp_path, str(prompts), SEEDS="0-1", MODEL="")

    assert not (out / "prompts.txt").exists()
    generated = read_json(out / "generate.json")
    assert generated["model"] == "builtin:demo"
    assert [(item["prompt"], item["seed"]) for item in generated["items"]] == [
        ("a woman with long red hair", 0),
        ("a woman with long red hair", 1),
        ("an old man with short gray hair", 0),
        ("an old man with short gray hair", 1),
    ]
    for item in generated["items"]:
        assert_sample_folder(Path(generated["out"]) / item["dir"])

    edited = read_json(out / "edit.json")
    assert len(edited["items"]) == 4
    sources = []
    for item in edited["items"]:
        latent = assert_sample_folder(Path(edited["out"]) / item["dir"])
        assert latent["source"] == "edit" and latent["edit"] == "with blond hair"
        assert "blond hair" in item["prompt"] and "blond hair" in latent["prompt"]
        sources.append(Path(latent["source_sample"]).name)
        assert item["dir"] in stdout
    assert sources == [item["dir"] for item in generated["items"]]
    assert read_json(out / "edited" / "manifest.json")["kind"] == "samples"


def test_photo_is_inverted_tuned_and_edited(tmp_path):
    out, stdout = run_example("photo_invert_edit.sh", tmp_path, MODEL="")

    assert (out / "astronaut.png").is_file()
    inverted = read_json(out / "invert.json")
    assert 0 < inverted["psnr_input_view"] < 100
    folder = Path(inverted["out"]) / inverted["items"][0]["dir"]
    latent = assert_sample_folder(folder)
    assert (folder / "input.png").is_file() and (folder / "reconstruction.png").is_file()
    assert latent["source"] == "invert" and latent["inversion"]["pti_steps"] == 2
    tuned = Path(inverted["out"]) / "tuned-model"
    assert (tuned / "config.json").is_file() and (tuned / "generator.safetensors").is_file()
    assert (folder / latent["model"]).resolve() == tuned.resolve()

    edited = read_json(out / "edit.json")
    edited_latent = assert_sample_folder(Path(edited["out"]) / edited["items"][0]["dir"])
    assert edited_latent["prompt"] == "a photo of a face with blond hair"
    assert Path(edited_latent["model"]) == tuned.resolve()
    assert f"PSNR {inverted['psnr_input_view']}" in stdout
