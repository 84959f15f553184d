"""Presets, overrides and config validation."""

from pathlib import Path

import pytest

from pipelines.core.config import (
    GeneratorConfig,
    apply_overrides,
    available_presets,
    from_dict,
    generator_config,
    to_dict,
)
from pipelines.errors import InvalidInputError


def test_all_presets_resolve():
    assert {"tiny", "small", "ffhq512"} <= set(available_presets())
    for name in available_presets():
        config = generator_config(name)
        assert config.preset == name


def test_overrides_change_fields_and_parse_types():
    config = generator_config(
        "tiny", ["generator.rendering.samples_coarse=20", "generator.mapping.camera_conditioning=false"]
    )
    assert config.rendering.samples_coarse == 20
    assert config.mapping.camera_conditioning is False
    assert apply_overrides({}, ["a.b=[1, 2]"]) == {"a": {"b": [1, 2]}}


def test_round_trip_through_plain_data():
    config = generator_config("small")
    assert from_dict(GeneratorConfig, to_dict(config)) == config


def test_unknown_field_and_bad_override_are_one_line_errors():
    with pytest.raises(InvalidInputError, match="unknown field"):
        generator_config("tiny", ["generator.rendering.samples=3"])
    with pytest.raises(InvalidInputError, match="KEY=VALUE"):
        apply_overrides({}, ["novalue"])
    with pytest.raises(InvalidInputError, match="unknown preset"):
        generator_config("huge")


def test_impossible_sizes_are_rejected():
    with pytest.raises(InvalidInputError, match="power of two"):
        generator_config("tiny", ["generator.synthesis.plane_resolution=48"])
    with pytest.raises(InvalidInputError, match="not reachable"):
        generator_config("tiny", ["generator.image_resolution=63"])


def test_list_fields_accept_unquoted_shell_lists_and_train_rejects_unknown_metrics():
    from pipelines.train import TrainRequest, resolve_request_config
    from pipelines.training.config import resolve_run_config

    for text in ('["attr","clip"]', "[attr,clip]", "attr,clip"):
        config = resolve_run_config("tiny", [f"train.eval_metrics={text}"])
        assert config.train.eval_metrics == ("attr", "clip")
    request = TrainRequest(Path("unused"), Path("unused"), overrides=("train.eval_metrics=[attr,fdi]",))
    with pytest.raises(InvalidInputError, match="train.eval_metrics: unknown metric 'fdi'"):
        resolve_request_config(request)


def test_generator_overrides_take_the_short_form_and_reject_other_sections():
    assert generator_config("tiny", ["rendering.samples_coarse=24"]).rendering.samples_coarse == 24
    with pytest.raises(InvalidInputError, match="samples_corse"):
        generator_config("tiny", ["rendering.samples_corse=24"])
    with pytest.raises(InvalidInputError, match="only generator fields"):
        generator_config("tiny", ["train.batch=2"])
