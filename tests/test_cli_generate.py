"""`tg3dface generate` through Typer's test runner: outputs, modes, errors and exit codes."""

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from tg3dface_cli.app import app

runner = CliRunner()
FAST = ["--model", "random:tiny", "--views", "0,30", "--no-depth"]


def invoke(*args, input=None):
    return runner.invoke(app, ["generate", *args], input=input)


def test_json_lists_every_file_written(tmp_path):
    out = tmp_path / "out"
    result = invoke(
        "a woman with red hair", "--model", "random:tiny", "--seeds", "0-1", "--out", str(out), "--json",
        "--views", "0,-30:10",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    files = {str(p) for p in out.rglob("*") if p.is_file()}
    assert set(payload["files"]) == files
    assert payload["model_is_random"] is True
    names = {p.name for p in (out / "a-woman-with-red-hair-seed0").rglob("*.png")}
    assert names == {"yaw+00_pitch+00.png", "yaw-30_pitch+10.png"}
    depth = np.array(Image.open(out / "a-woman-with-red-hair-seed0" / "depth" / "yaw+00_pitch+00.png"))
    assert depth.dtype == np.uint16 and depth.shape == (32, 32)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "samples" and len(manifest["items"]) == 2
    assert [item["seed"] for item in manifest["items"]] == [0, 1]


def test_quiet_prints_only_the_output_path(tmp_path):
    out = tmp_path / "q"
    result = invoke("a man", "--out", str(out), "--quiet", *FAST)
    assert result.exit_code == 0
    assert result.stdout == f"{out}\n"


def test_same_seed_gives_identical_bytes(tmp_path):
    for name in ("a", "b"):
        assert (
            invoke("a smiling man", "--seeds", "4", "--out", str(tmp_path / name), "--quiet", *FAST).exit_code
            == 0
        )
    first = (tmp_path / "a" / "a-smiling-man-seed4" / "views" / "yaw+30_pitch+00.png").read_bytes()
    second = (tmp_path / "b" / "a-smiling-man-seed4" / "views" / "yaw+30_pitch+00.png").read_bytes()
    assert first == second
    latent_a = (tmp_path / "a" / "a-smiling-man-seed4" / "latent.safetensors").read_bytes()
    assert latent_a == (tmp_path / "b" / "a-smiling-man-seed4" / "latent.safetensors").read_bytes()


def test_batch_size_does_not_change_the_images(tmp_path):
    for size in ("1", "3"):
        args = [
            "a face",
            "--seeds",
            "0-2",
            "--batch-size",
            size,
            "--out",
            str(tmp_path / size),
            "--quiet",
            *FAST,
        ]
        assert invoke(*args).exit_code == 0
    for seed in range(3):
        image = f"a-face-seed{seed}/views/yaw+30_pitch+00.png"
        a = np.asarray(Image.open(tmp_path / "1" / image), dtype=int)
        b = np.asarray(Image.open(tmp_path / "3" / image), dtype=int)
        assert np.abs(a - b).max() <= 1


def test_prompts_from_file_jsonl_and_stdin(tmp_path):
    txt = tmp_path / "p.txt"
    txt.write_text("# comment\na woman\n\nan old man\n")
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text('{"prompt": "a child"}\n"a bald man"\n')
    result = invoke(
        "-", "--prompts-file", str(txt), "--out", str(tmp_path / "o"), "--json", *FAST, input="from stdin\n"
    )
    assert result.exit_code == 0, result.output
    assert [i["prompt"] for i in json.loads(result.stdout)["items"]] == [
        "from stdin",
        "a woman",
        "an old man",
    ]
    result = invoke("--prompts-file", str(jsonl), "--out", str(tmp_path / "j"), "--json", *FAST)
    assert [i["prompt"] for i in json.loads(result.stdout)["items"]] == ["a child", "a bald man"]


def test_video_mesh_and_latent(tmp_path):
    out = tmp_path / "v"
    args = [
        "a woman",
        "--video",
        "--video-format",
        "gif",
        "--video-frames",
        "4",
        "--mesh",
        "ply",
        "--mesh-res",
        "24",
    ]
    result = invoke(*args, "--iso", "0.7", "--out", str(out), "--json", *FAST)
    assert result.exit_code == 0, result.output
    sample = out / "a-woman-seed0"
    assert (sample / "turntable.gif").stat().st_size > 0
    import trimesh

    mesh = trimesh.load(sample / "mesh.ply")
    assert len(mesh.vertices) > 0 and mesh.visual.vertex_colors.shape[1] == 4
    from pipelines.core.samples import load_latent

    latent = load_latent(sample)
    assert latent.ws.shape[0] == 1 and latent.z.shape == (1, 64) and latent.info["prompt"] == "a woman"


def test_empty_mesh_is_a_clear_error_and_leaves_no_output(tmp_path):
    out = tmp_path / "m"
    result = invoke("a woman", "--mesh", "ply", "--mesh-res", "16", "--iso", "1000", "--out", str(out), *FAST)
    assert result.exit_code == 1
    assert "no surface at iso level 1000" in result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_existing_output_is_kept_without_overwrite(tmp_path):
    out = tmp_path / "keep"
    out.mkdir()
    (out / "mine.txt").write_text("precious")
    result = invoke("a woman", "--out", str(out), *FAST)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith("error:") and "--overwrite" in result.stderr
    assert (out / "mine.txt").read_text() == "precious"
    assert invoke("a woman", "--out", str(out), "--overwrite", *FAST).exit_code == 0
    assert not (out / "mine.txt").exists() and (out / "manifest.json").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seeds", "3-1"], "runs backwards"),
        (["--seeds", "x"], "not N or N-M"),
        (["--views", "a"], "numbers"),
        (["--mesh", "stl"], "expected ply, obj or glb"),
        (["--seeds", "1", "--num", "2"], "either --seeds or --num"),
        (["--video-format", "avi"], "mp4 or gif"),
    ],
)
def test_usage_errors_exit_2(tmp_path, args, message):
    result = invoke("a face", "--out", str(tmp_path / "u"), *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_no_prompts_is_a_usage_error(tmp_path):
    result = invoke("--out", str(tmp_path / "n"))
    assert result.exit_code == 2 and "no prompts" in result.stderr


def test_missing_bundle_is_an_error(tmp_path):
    result = invoke("a face", "--model", str(tmp_path / "nothing"), "--out", str(tmp_path / "x"))
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0 and "model bundle folder not found" in result.stderr


def test_help_lists_every_verb():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for verb in ("generate", "env"):
        assert verb in result.stdout


def test_env_json():
    result = runner.invoke(app, ["env", "--json"])
    assert result.exit_code == 0
    info = json.loads(result.stdout)
    assert info["torch"].startswith("2.14.1") and "tiny" in info["presets"]


def test_corrupted_bundle_exits_1_with_one_line(tmp_path):
    from pipelines.core.bundle import random_generator, save_bundle

    bundle = save_bundle(random_generator("tiny", 0, "builtin:tiny-random", 64), tmp_path / "bundle")
    weights = bundle / "generator.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    result = invoke("a face", "--model", str(bundle), "--out", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "corrupt or truncated" in result.stderr
    assert not (tmp_path / "o").exists()
    assert invoke("a face", "--model", str(bundle), "--out", str(tmp_path / "o"), "-v").exit_code == 1


def test_truncation_num_device_and_mp4(tmp_path):
    import imageio.v3 as iio
    import torch

    from pipelines.core.samples import load_latent

    out = tmp_path / "t"
    args = ["a woman", "--num", "2", "--seed", "5", "--truncation", "0.0", "--device", "cpu", "--video"]
    result = invoke(*args, "--video-frames", "4", "--out", str(out), "--json", *FAST)
    assert result.exit_code == 0, result.output
    assert [item["seed"] for item in json.loads(result.stdout)["items"]] == [5, 6]
    first, second = (load_latent(out / f"a-woman-seed{s}") for s in (5, 6))
    # psi = 0 puts every seed of a prompt on the prompt's average w
    torch.testing.assert_close(first.ws, second.ws)
    assert first.info["truncation"] == 0.0
    frames = iio.imread(out / "a-woman-seed5" / "turntable.mp4")
    assert frames.shape[0] == 4 and frames.shape[-1] == 3
