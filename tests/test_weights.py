"""The weights home: precedence of --weights-dir, TG3DFACE_HOME and the default, and missing-file errors."""

from pathlib import Path

import pytest

from pipelines.core.weights import find_weight_file, hub_cache_dir, weights_home
from pipelines.errors import MissingWeightsError


def test_weights_home_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("TG3DFACE_HOME", raising=False)
    assert weights_home() == Path("~/.cache/tg3dface").expanduser()
    monkeypatch.setenv("TG3DFACE_HOME", str(tmp_path / "env"))
    assert weights_home() == tmp_path / "env"
    assert weights_home(tmp_path / "flag") == tmp_path / "flag"
    assert hub_cache_dir(tmp_path / "flag") == tmp_path / "flag" / "huggingface"


def test_find_weight_file_returns_existing_file(tmp_path):
    path = tmp_path / "facexlib" / "parsing_bisenet.pth"
    path.parent.mkdir()
    path.touch()
    assert find_weight_file("parsing_bisenet.pth", tmp_path, subdir="facexlib") == path


def test_missing_weight_file_is_a_one_line_exit_code_3_error(tmp_path):
    url = "https://github.com/xinntao/facexlib/releases"
    with pytest.raises(MissingWeightsError) as caught:
        find_weight_file("parsing_bisenet.pth", tmp_path, subdir="facexlib", source=url)
    message = str(caught.value)
    assert caught.value.exit_code == 3 and "\n" not in message
    assert str(tmp_path / "facexlib" / "parsing_bisenet.pth") in message and url in message
