"""`tg3dface prepare synthetic` through Typer's test runner: output modes and exit codes."""

import json

from typer.testing import CliRunner

from pipelines.data.dataset import validate_dataset
from tg3dface_cli.app import app

runner = CliRunner()
FAST = ["--num", "2", "--compile", "never", "--device", "cpu"]


def invoke(*args):
    return runner.invoke(app, ["prepare", "synthetic", *args])


def test_json_mode_prints_one_parsable_object_and_builds_a_valid_set(tmp_path):
    out = tmp_path / "data"
    result = invoke("--out", str(out), *FAST, "--json", "--holdout", "eyewear=sunglasses")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["path"] == str(out) and payload["num_images"] == 2
    assert sum(payload["counts"].values()) == 2
    info = validate_dataset(out)
    assert info.resolution == 64
    assert info.manifest["synthetic"]["holdout"] == ["eyewear=sunglasses"]


def test_quiet_prints_only_the_path(tmp_path):
    out = tmp_path / "q"
    result = invoke("--out", str(out), *FAST, "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{out}\n"


def test_usage_errors_exit_2(tmp_path):
    for args in (
        ["--resolution", "100"],
        ["--holdout", "hair_color=teal"],
        ["--num", "0"],
        ["--compile", "maybe"],
    ):
        result = invoke("--out", str(tmp_path / "x"), *FAST, *args)
        assert result.exit_code == 2, (args, result.output)
    assert not (tmp_path / "x").exists()


def test_existing_output_is_a_one_line_failure_with_exit_1(tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    (out / "file").write_text("x")
    result = invoke("--out", str(out), *FAST)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "--overwrite" in errors[0] and str(out) in errors[0]
