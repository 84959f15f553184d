"""Directional guidance and text editing on a seeded random tiny model (behaviour, not quality)."""

import json

import pytest
import torch
from typer.testing import CliRunner

from pipelines.core.encoders import load_encoder
from pipelines.core.guidance import GuidanceConfig, directional_loss, guide
from pipelines.core.samples import load_latent
from pipelines.edit import edited_prompt
from pipelines.generate import load_model, sample_z
from tg3dface_cli.app import app

runner = CliRunner()
FAST = ["--model", "random:tiny", "--views", "0", "--no-depth"]


@pytest.fixture(scope="module")
def model():
    generator = load_model("random:tiny", torch.device("cpu"))
    return generator, load_encoder(generator.config.text_encoder)


def test_guidance_lowers_the_directional_loss_and_zero_steps_is_identity(model):
    generator, encoder = model
    camera = generator.frontal_camera(2)
    text = encoder.encode_text(["a man with green hair", "a woman with a hat"])
    neutral = encoder.encode_text(["a photo of a face"]).expand(2, -1)
    z = torch.cat([sample_z(0, 64), sample_z(1, 64)])
    with torch.no_grad():
        ws = generator.map(z, camera, text)
        reference = encoder.encode_image(
            generator.synthesis(generator.map(z, camera, neutral), camera)["image"]
        )
        before = directional_loss(
            encoder.encode_image(generator.synthesis(ws, camera)["image"]), reference, text - neutral
        )
    assert (
        guide(generator, encoder.encode_image, ws, camera, text - neutral, reference, GuidanceConfig(steps=0))
        is ws
    )
    guided = guide(
        generator,
        encoder.encode_image,
        ws,
        camera,
        text - neutral,
        reference,
        GuidanceConfig(steps=8, lr=0.05, reg=0.0),
    )
    with torch.no_grad():
        after = directional_loss(
            encoder.encode_image(generator.synthesis(guided, camera)["image"]), reference, text - neutral
        )
    assert (after < before).all()
    assert torch.equal(guided[:, 0], guided[:, -1])  # 'w' space stays one latent per sample


def test_edited_prompt_appends_phrases_and_replaces_sentences():
    assert edited_prompt("a woman.", "with blond hair") == "a woman with blond hair"
    assert edited_prompt("a man", "wearing eyeglasses") == "a man wearing eyeglasses"
    assert edited_prompt("a man", "an old woman") == "an old woman"
    assert edited_prompt("She has short wavy red hair, green eyes.", "with blond hair") == (
        "She has blond hair, green eyes."
    )
    assert edited_prompt("She has red hair. She wears no glasses.", "wearing sunglasses") == (
        "She has red hair. She wears sunglasses."
    )
    source = "A photo of a lady who has long wavy brown hair with bangs and a neutral mouth."
    expected = "A photo of a lady who has blond hair and a neutral mouth."
    assert edited_prompt(source, "with blond hair") == expected


def test_generate_guidance_changes_the_latent_only_when_asked(tmp_path):
    args = ["generate", "a man with green hair", *FAST, "--quiet"]
    assert runner.invoke(app, [*args, "--out", str(tmp_path / "plain")]).exit_code == 0
    assert runner.invoke(app, [*args, "--guidance", "0", "--out", str(tmp_path / "zero")]).exit_code == 0
    assert runner.invoke(app, [*args, "--guidance", "2", "--out", str(tmp_path / "guided")]).exit_code == 0
    name = "a-man-with-green-hair-seed0"
    plain, zero, guided = (load_latent(tmp_path / k / name) for k in ("plain", "zero", "guided"))
    assert torch.equal(plain.ws, zero.ws)
    assert not torch.equal(plain.ws, guided.ws)
    assert guided.info["guidance"]["steps"] == 2


def test_edit_recondition_and_strength(tmp_path, model):
    generator, encoder = model
    source = tmp_path / "src"
    assert (
        runner.invoke(
            app, ["generate", "a woman", "--seeds", "0-1", *FAST, "--out", str(source), "-q"]
        ).exit_code
        == 0
    )
    result = runner.invoke(
        app, ["edit", str(source), "with a hat", *FAST, "--out", str(tmp_path / "e"), "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [item["prompt"] for item in payload["items"]] == ["a woman with a hat"] * 2
    edited = load_latent(tmp_path / "e" / "a-woman-seed0-with-a-hat")
    with torch.no_grad():
        expected = generator.map(
            sample_z(0, 64), generator.frontal_camera(1), encoder.encode_text(["a woman with a hat"])
        )
    torch.testing.assert_close(edited.ws, expected)
    assert edited.info["source_prompt"] == "a woman" and edited.info["mode"] == "recondition"
    zero = runner.invoke(
        app,
        [
            "edit",
            str(source / "a-woman-seed0"),
            "with a hat",
            "--strength",
            "0",
            *FAST,
            "--out",
            str(tmp_path / "z"),
            "-q",
        ],
    )
    assert zero.exit_code == 0
    torch.testing.assert_close(
        load_latent(tmp_path / "z" / "a-woman-seed0-with-a-hat").ws, load_latent(source / "a-woman-seed0").ws
    )


def test_edit_direction_mode_moves_the_latent(tmp_path):
    source = tmp_path / "src"
    assert runner.invoke(app, ["generate", "a woman", *FAST, "--out", str(source), "-q"]).exit_code == 0
    result = runner.invoke(
        app,
        [
            "edit",
            str(source),
            "with green hair",
            "--mode",
            "direction",
            "--steps",
            "2",
            *FAST,
            "--out",
            str(tmp_path / "d"),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    edited = load_latent(tmp_path / "d" / "a-woman-seed0-with-green-hair")
    assert not torch.equal(edited.ws, load_latent(source / "a-woman-seed0").ws)
    assert edited.info["edit_guidance"]["steps"] == 2


def test_edit_errors(tmp_path):
    result = runner.invoke(app, ["edit", str(tmp_path), "with a hat", "--out", str(tmp_path / "x")])
    assert result.exit_code == 1 and "not a sample folder" in result.stderr
    result = runner.invoke(app, ["edit", str(tmp_path), "with a hat", "--mode", "sideways"])
    assert result.exit_code == 2


def test_recondition_with_the_same_text_reproduces_the_source_exactly(tmp_path):
    source = tmp_path / "src"
    assert runner.invoke(app, ["generate", "a woman", *FAST, "--out", str(source), "-q"]).exit_code == 0
    result = runner.invoke(
        app, ["edit", str(source), "a woman", *FAST, "--out", str(tmp_path / "same"), "-q"]
    )
    assert result.exit_code == 0, result.output
    edited, original = (
        load_latent(tmp_path / "same" / "a-woman-seed0-a-woman"),
        load_latent(source / "a-woman-seed0"),
    )
    assert torch.equal(edited.ws, original.ws) and torch.equal(edited.text_embedding, original.text_embedding)
