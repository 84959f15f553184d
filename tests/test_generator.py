"""The tri-plane generator: shapes, determinism, batching, truncation, sizes of the presets."""

import pytest
import torch

from pipelines.core import cameras
from pipelines.core.config import generator_config
from pipelines.core.generator import TriPlaneGenerator
from pipelines.core.layers import upsample2x


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return TriPlaneGenerator(generator_config("tiny")).eval()


def inputs(generator, n, seed=0):
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(n, generator.config.mapping.z_dim, generator=rng)
    text = torch.randn(n, generator.config.mapping.text_dim, generator=rng)
    camera = cameras.orbit_label(torch.linspace(-0.4, 0.4, n), torch.zeros(n))
    return z, camera, text


def test_output_shapes_and_depth_range(tiny):
    z, camera, text = inputs(tiny, 2)
    with torch.no_grad():
        out = tiny(z, camera, text)
    assert out["image"].shape == (2, 3, 64, 64)
    assert out["image_raw"].shape == (2, 3, 32, 32)
    assert out["image_depth"].shape == (2, 1, 32, 32)
    assert out["image_opacity"].shape == (2, 1, 32, 32)
    rendering = tiny.config.rendering
    assert out["image_depth"].min() >= rendering.ray_start and out["image_depth"].max() <= rendering.ray_end
    assert torch.isfinite(out["image"]).all()


def test_same_inputs_give_identical_outputs(tiny):
    z, camera, text = inputs(tiny, 2)
    with torch.no_grad():
        first, second = tiny(z, camera, text), tiny(z, camera, text)
    for key in first:
        assert torch.equal(first[key], second[key]), key


def test_batch_equals_items_one_at_a_time(tiny):
    z, camera, text = inputs(tiny, 3)
    with torch.no_grad():
        batch = tiny(z, camera, text)
        for i in range(3):
            single = tiny(z[i : i + 1], camera[i : i + 1], text[i : i + 1])
            for key in batch:
                torch.testing.assert_close(batch[key][i : i + 1], single[key], atol=1e-4, rtol=1e-4)


def test_truncation_zero_gives_the_prompts_mean_w(tiny):
    z, camera, text = inputs(tiny, 2)
    w_avg = tiny.mean_w(text, num_samples=64)
    ws = tiny.map(z, camera, text, truncation_psi=0.0, w_avg=w_avg)
    torch.testing.assert_close(ws[:, 0], w_avg)
    assert ws.shape == (2, tiny.num_ws, tiny.config.mapping.w_dim)
    # different prompts have different averages: truncation is per prompt, not global
    assert (w_avg[0] - w_avg[1]).abs().max() > 1e-3
    with pytest.raises(ValueError, match="average w"):
        tiny.map(z, camera, text, truncation_psi=0.5)


def test_text_changes_the_image(tiny):
    z, camera, text = inputs(tiny, 1)
    with torch.no_grad():
        a = tiny(z, camera, text)["image"]
        b = tiny(z, camera, -text)["image"]
    assert (a - b).abs().mean() > 1e-3


def test_gradients_reach_every_parameter_in_training_mode():
    torch.manual_seed(1)
    generator = TriPlaneGenerator(generator_config("tiny")).train()
    z, camera, text = inputs(generator, 2)
    ws = generator.map(z, camera, text)
    out = generator.synthesis(ws, camera, generator=torch.Generator().manual_seed(0))
    (out["image"].square().mean() + out["image_raw"].mean()).backward()
    missing = [
        name for name, p in generator.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0
    ]
    assert missing == []


def test_query_returns_density_and_features(tiny):
    z, camera, text = inputs(tiny, 1)
    with torch.no_grad():
        planes = tiny.triplanes(tiny.map(z, camera, text))
        density, features = tiny.query(planes, torch.zeros(1, 5, 3))
    assert planes.shape == (1, 3, 16, 32, 32)
    assert density.shape == (1, 5, 1) and features.shape == (1, 5, 16)
    assert features.min() >= -1e-3 and features.max() <= 1 + 1e-3


def test_ffhq512_preset_has_eg3d_scale():
    with torch.device("meta"):
        generator = TriPlaneGenerator(generator_config("ffhq512"))
    params = sum(p.numel() for p in generator.parameters())
    assert 28e6 < params < 34e6  # EG3D's FFHQ-512 generator: 30.7 M
    assert generator.num_ws == 14


def test_upsample_keeps_constants_and_doubles_size():
    x = torch.full((1, 2, 6, 6), 3.0)
    y = upsample2x(x)
    assert y.shape == (1, 2, 12, 12)
    torch.testing.assert_close(y[..., 1:-1, 1:-1], torch.full((1, 2, 10, 10), 3.0))


def test_sample_matches_query_and_renderer_activation(tiny):
    z, camera, text = inputs(tiny, 1)
    points = torch.rand(1, 7, 3) - 0.5
    with torch.no_grad():
        ws = tiny.map(z, camera, text)
        field = tiny.sample(ws, points)
        raw, features = tiny.query(tiny.triplanes(ws), points)
    torch.testing.assert_close(field["sigma"], torch.nn.functional.softplus(raw - 1.0))
    torch.testing.assert_close(field["rgb"], features[..., :3])


def test_package_level_loader(tmp_path):
    import pipelines
    from pipelines.core.bundle import random_generator, save_bundle

    generator = random_generator("tiny", seed=0, text_encoder="builtin:tiny-random", text_dim=64)
    loaded = pipelines.load_generator(save_bundle(generator, tmp_path / "b"))
    assert loaded.config == generator.config


def test_allocator_tuning_applies_on_linux_and_respects_opt_out(monkeypatch):
    import sys

    from pipelines.core.runtime import tune_allocator

    monkeypatch.setenv("TG3DFACE_NO_MALLOC_TUNING", "1")
    assert tune_allocator() is False
    monkeypatch.delenv("TG3DFACE_NO_MALLOC_TUNING")
    assert tune_allocator() is sys.platform.startswith("linux")
