"""Building a synthetic set: holdout splits, determinism, worker independence, atomic output."""

import json

import pytest

from pipelines.data.dataset import read_dataset
from pipelines.data.synthetic import SyntheticConfig
from pipelines.data.synthetic import builder as builder_module
from pipelines.errors import OutputExistsError
from pipelines.prepare import prepare_synthetic

HELD_OUT = {"blond", "red"}  # conftest.TINY_SYNTHETIC holds out hair_color=blond,red
SMALL = {"num_images": 6, "resolution": 32, "batch_size": 2, "compile": "never", "device": "cpu"}


def test_held_out_values_never_reach_the_training_split(tiny_synthetic):
    info = read_dataset(tiny_synthetic)
    ood = info.split("ood_test")
    assert ood and info.split("train")
    assert all(r["attributes"]["hair_color"] in HELD_OUT for r in ood)
    for record in info.split("train") + info.split("test"):
        assert record["attributes"]["hair_color"] not in HELD_OUT
        text = " ".join(record["captions"] + [p for parts in record["parts"] for p in parts.values()])
        assert not any(f"{colour} hair" in text for colour in HELD_OUT)


def _tree(root):
    """Every file's bytes, with the manifest's run-specific fields (time, command line) removed."""
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    manifest = json.loads(files.pop("manifest.json"))
    for volatile in ("created", "command"):
        manifest.pop(volatile)
    manifest["synthetic"].pop("workers")
    return files, manifest


def test_same_seed_gives_identical_files_whatever_the_worker_count(tmp_path):
    one = prepare_synthetic(SyntheticConfig(**SMALL, seed=3, workers=1), tmp_path / "one").path
    two = prepare_synthetic(SyntheticConfig(**SMALL, seed=3, workers=2), tmp_path / "two").path
    other = prepare_synthetic(SyntheticConfig(**SMALL, seed=4, workers=1), tmp_path / "other").path
    files_one, manifest_one = _tree(one)
    files_two, manifest_two = _tree(two)
    assert manifest_one == manifest_two
    assert files_one.keys() == files_two.keys() and len(files_one) == 6 * 3 + 3
    assert [name for name in files_one if files_one[name] != files_two[name]] == []
    files_other, _ = _tree(other)
    assert files_other["images/000000.png"] != files_one["images/000000.png"]


def test_existing_folder_is_kept_without_overwrite_and_replaced_with_it(tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        prepare_synthetic(SyntheticConfig(**{**SMALL, "num_images": 2}), out)
    assert (out / "keep.txt").read_text() == "mine"
    prepare_synthetic(SyntheticConfig(**{**SMALL, "num_images": 2}), out, overwrite=True)
    assert not (out / "keep.txt").exists() and len(read_dataset(out).records) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_a_failed_build_leaves_nothing_and_destroys_nothing(tmp_path, monkeypatch):
    calls = []

    def fail_second_batch(batch):
        calls.append(batch)
        if len(calls) == 2:
            raise RuntimeError("renderer exploded")
        return real(batch)

    real = builder_module._render_batch
    monkeypatch.setattr(builder_module, "_render_batch", fail_second_batch)
    with pytest.raises(RuntimeError, match="exploded"):
        prepare_synthetic(SyntheticConfig(**SMALL), tmp_path / "new")
    assert list(tmp_path.iterdir()) == []
    old = tmp_path / "old"
    old.mkdir()
    (old / "keep.txt").write_text("mine")
    calls.clear()
    with pytest.raises(RuntimeError):
        prepare_synthetic(SyntheticConfig(**SMALL), old, overwrite=True)
    assert (old / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]


def test_meshes_are_written_on_request(tmp_path):
    config = SyntheticConfig(**{**SMALL, "num_images": 1, "meshes": True, "mesh_resolution": 32})
    info = read_dataset(prepare_synthetic(config, tmp_path / "m").path)
    assert info.records[0]["mesh"] == "meshes/000000.ply"
    assert (info.root / "meshes" / "000000.ply").read_bytes().startswith(b"ply\n")
