"""`tg3dface prepare SRC --out DATA` end to end: a real photo, synthetic faces in the Multi-Modal-CelebA-HQ
layout, bad inputs, resume, mirroring, the facexlib paths and the command line."""

import json
import math
import shutil

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image
from typer.testing import CliRunner

from pipelines.core.faces import RETINAFACE_FILES, DetectorConfig
from pipelines.core.io import sha256_tree
from pipelines.data.dataset import validate_dataset
from pipelines.data.labels import PARSING_CLASSES
from pipelines.data.real import RealDataConfig
from pipelines.data.real.align import align_face, framing_of
from pipelines.data.real.builder import work_folder
from pipelines.data.real.check import check_dataset
from pipelines.data.real.pose import estimate_pose, template_view
from pipelines.data.synthetic import SyntheticConfig
from pipelines.data.text_cache import TextCache
from pipelines.prepare import prepare_real, prepare_synthetic
from tg3dface_cli.app import app

TINY_PARSER = "builtin:tiny-random-parser"
FAST = RealDataConfig(resolution=64, parser=TINY_PARSER, pose_template="synthetic", device="cpu")
"""Small crops and the random parser: what the tests need and nothing slower."""
NUM_SYNTHETIC = 8
MASKED = 3
"""The first MASKED synthetic faces come with CelebAMask-HQ part masks."""


def _records(folder):
    return [json.loads(line) for line in open(folder / "records.jsonl", encoding="utf-8")]


@pytest.fixture(scope="module")
def synthetic_faces(tmp_path_factory):
    """Synthetic heads at 64 px (the renders and their records, with exact landmarks, yaw and pitch)."""
    out = tmp_path_factory.mktemp("faces") / "synthetic"
    config = SyntheticConfig(num_images=NUM_SYNTHETIC, resolution=64, seed=1, compile="never", device="cpu")
    prepare_synthetic(config, out)
    return out


@pytest.fixture(scope="module")
def mm_source(synthetic_faces, tmp_path_factory):
    """The synthetic faces in the Multi-Modal-CelebA-HQ layout: images/<id>.jpg, text/<id>.txt, and
    CelebAMask-HQ part masks (at half the image size, as CelebAMask-HQ's are) for the first few."""
    root = tmp_path_factory.mktemp("mm") / "mm-celeba-hq"
    for folder in ("images", "text", "CelebAMask-HQ-mask-anno/0"):
        (root / folder).mkdir(parents=True)
    for index, record in enumerate(_records(synthetic_faces)):
        image = Image.open(synthetic_faces / record["image"]).convert("RGB")
        image.save(root / "images" / f"{index}.jpg", quality=95)
        (root / "text" / f"{index}.txt").write_text("\n".join(record["captions"]) + "\n", encoding="utf-8")
        if index < MASKED:
            labels = np.asarray(Image.open(synthetic_faces / record["parsing"]))[::2, ::2]
            for label in np.unique(labels[labels > 0]):
                mask = Image.fromarray(((labels == label) * 255).astype(np.uint8))
                mask.save(
                    root / "CelebAMask-HQ-mask-anno" / "0" / f"{index:05d}_{PARSING_CLASSES[label]}.png"
                )
    return root


@pytest.fixture(scope="module")
def astronaut_source(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos") / "photos"
    root.mkdir()
    Image.fromarray(skimage.data.astronaut()).save(root / "astronaut.png")
    (root / "astronaut.txt").write_text(
        "The woman has short wavy brown hair and is smiling. She is wearing a necklace.\n", encoding="utf-8"
    )
    return root


def test_a_real_photo_goes_through_detection_alignment_and_pose(astronaut_source, tmp_path):
    config = RealDataConfig(resolution=128, parser=TINY_PARSER, encoder="builtin:tiny-random", device="cpu")
    result = prepare_real(astronaut_source, tmp_path / "data", config)
    info = validate_dataset(result.path, deep=True)
    assert check_dataset(result.path) == []
    assert result.num_images == 1 and result.rejected == 0
    (record,) = info.records
    assert record["source"] == "astronaut.png" and record["detector"] == "dlib-hog-5pt"
    assert record["parts"] == [
        {"hair": "short wavy brown hair", "mouth": "smiling", "accessories": "a necklace"}
    ]
    left_eye, right_eye = np.array(record["landmarks"][:2])
    assert abs(left_eye[1] - right_eye[1]) < 0.5  # the crop levels the eyes
    assert 0.3 * 128 < left_eye[0] < right_eye[0] < 0.7 * 128
    assert abs(record["pose"]["yaw_deg"]) < 15 and abs(record["pose"]["pitch_deg"]) < 25
    cam2world = np.array(record["camera"][:16]).reshape(4, 4)
    assert np.linalg.norm(cam2world[:3, 3]) == pytest.approx(2.7, abs=1e-4)
    assert cam2world[2, 3] > 2.0  # in front of the face
    assert info.manifest["source"] == "generic" and info.manifest["text_embeddings"]["count"] == 4


def test_synthetic_faces_in_the_mm_layout_go_through_the_command(mm_source, synthetic_faces, tmp_path):
    out = tmp_path / "data"
    command = [
        "prepare", str(mm_source), "--out", str(out), "--resolution", "64", "--mirror", "--json",
        "--parser", TINY_PARSER, "--pose-template", "synthetic", "--encoder", "builtin:tiny-random",
    ]  # fmt: skip
    run = CliRunner().invoke(app, command)
    assert run.exit_code == 0, run.output
    summary = json.loads(run.stdout)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"] == "mm-celeba-hq"
    accepted = {r["source"] for r in _records(out)}
    assert len(accepted) >= NUM_SYNTHETIC - 2  # dlib's HOG misses the odd procedural face at 64 px
    assert summary["num_images"] == 2 * len(accepted)
    rejected = [json.loads(line) for line in open(out / "rejected.jsonl")] if summary["rejected"] else []
    assert all(r["reason"] == "no face found" for r in rejected)
    assert manifest["parsing_sources"]["celebamask-hq"] == len(
        accepted & {f"images/{i}.jpg" for i in range(MASKED)}
    )
    assert CliRunner().invoke(app, ["prepare", "--check", str(out)]).exit_code == 0
    truth = {f"images/{i}.jpg": r for i, r in enumerate(_records(synthetic_faces))}
    for record in _records(out):
        if not record["mirror"]:  # poses from dlib's landmarks (mouth estimated) are rough
            true_yaw = math.degrees(truth[record["source"]]["yaw"])
            assert record["pose"]["yaw_deg"] == pytest.approx(true_yaw, abs=12)


def test_masks_of_the_source_become_the_parsing(mm_source, synthetic_faces, tmp_path):
    result = prepare_real(mm_source, tmp_path / "data", FAST)
    records = {r["source"]: r for r in _records(result.path)}
    truth = _records(synthetic_faces)
    for index in range(MASKED):
        record = records.get(f"images/{index}.jpg")
        if record is None:
            continue
        parsing = np.asarray(Image.open(result.path / record["parsing"]))
        present = set(np.unique(parsing).tolist())
        expected = set(np.unique(np.asarray(Image.open(synthetic_faces / truth[index]["parsing"]))).tolist())
        assert present <= expected and {1, 13} <= present  # skin and hair, from the masks


def test_mirrored_copies_flip_image_parsing_and_pose(mm_source, tmp_path):
    result = prepare_real(mm_source, tmp_path / "data", RealDataConfig(**{**FAST.__dict__, "mirror": True}))
    records = _records(result.path)
    for original, mirror in zip(records[::2], records[1::2], strict=True):
        assert not original["mirror"] and mirror["mirror"] and original["source"] == mirror["source"]
        image = np.asarray(Image.open(result.path / original["image"]))
        np.testing.assert_array_equal(np.asarray(Image.open(result.path / mirror["image"])), image[:, ::-1])
        labels = np.asarray(Image.open(result.path / original["parsing"]))[:, ::-1]
        flipped = np.asarray(Image.open(result.path / mirror["parsing"]))
        assert ((labels == 4) == (flipped == 5)).all() and ((labels == 1) == (flipped == 1)).all()
        assert mirror["pose"]["yaw_deg"] == -original["pose"]["yaw_deg"]
        camera, mirrored = np.array(original["camera"][:16]), np.array(mirror["camera"][:16])
        np.testing.assert_allclose(mirrored[[0, 5, 10, 7, 11]], camera[[0, 5, 10, 7, 11]])
        np.testing.assert_allclose(mirrored[[1, 2, 3, 4, 8]], -camera[[1, 2, 3, 4, 8]])


def _true_pose_errors(records, own_template: bool = False) -> np.ndarray:
    """(N, 2) absolute yaw and pitch errors, degrees, of poses from the records' true landmarks."""
    framing = framing_of(template_view("synthetic"))
    errors = []
    for record in records:
        blank = np.zeros((8, 8, 3), dtype=np.uint8)
        aligned = align_face(blank, np.array(record["landmarks"]), 512, framing)
        template = np.array(record["landmarks_3d"]) if own_template else "synthetic"
        pose = estimate_pose(aligned.landmarks, 512, template)
        errors.append((math.degrees(pose.yaw - record["yaw"]), math.degrees(pose.pitch - record["pitch"])))
    return np.abs(np.array(errors))


def test_pose_from_true_landmarks_matches_the_true_camera(synthetic_faces, tiny_synthetic):
    """The synthetic heads' true landmarks, aligned like the command aligns them, with the mean template:
    yaw within 5 degrees of the truth, pitch within 5 degrees on average. Five landmarks fix pitch only
    through where the nose tip falls between the eyes and the mouth, which differs from head to head (a
    longer nose reads as a camera above), so one head's pitch can be off by up to about 18 degrees. With
    each head's own 3D landmarks as the template both are within 1 degree: the solver and its conventions
    are exact."""
    records = _records(synthetic_faces) + _records(tiny_synthetic)
    errors = _true_pose_errors(records)
    assert errors[:, 0].mean() < 5.0 and errors[:, 0].max() < 5.0
    assert errors[:, 1].mean() < 5.0 and errors[:, 1].max() < 20.0
    own = _true_pose_errors(records, own_template=True)
    assert own.max() < 1.0


def _write_face(path, image, **save):
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **save)
    path.with_suffix(".txt").write_text("A face with brown eyes.\n", encoding="utf-8")


def test_bad_inputs_are_rejected_with_their_reason_and_good_ones_kept(synthetic_faces, tmp_path):
    source = tmp_path / "photos"
    face = Image.open(synthetic_faces / "images" / "000000.png").convert("RGB").resize((128, 128))
    exif = Image.Exif()
    exif[0x0112] = 8  # stored turned a quarter clockwise; "rotate 90 degrees counter-clockwise to view"
    _write_face(source / "exif.jpg", face.transpose(Image.Transpose.ROTATE_270), exif=exif, quality=95)
    _write_face(source / "gray.png", face.convert("L"))
    _write_face(source / "rgba.png", face.convert("RGBA"))
    sixteen = np.asarray(face.convert("L")).astype(np.uint16) * 257
    _write_face(source / "gray16.png", Image.fromarray(sixteen))
    _write_face(source / "cmyk.jpg", face.convert("CMYK"), quality=95)
    _write_face(source / "good.png", face)
    pair = Image.new("RGB", (256, 128))
    pair.paste(face, (0, 0))
    pair.paste(face, (128, 0))
    _write_face(source / "two.png", pair)
    _write_face(source / "flat.png", Image.new("RGB", (128, 128), (120, 120, 120)))
    _write_face(source / "tiny.png", face.resize((20, 20)))
    for name, content in (("notes.jpg", b"not an image"), ("empty.png", b"")):
        (source / name).write_bytes(content)
        (source / name).with_suffix(".txt").write_text("A caption.\n")
    face.save(source / "whole.jpg", quality=95)
    data = (source / "whole.jpg").read_bytes()
    (source / "whole.jpg").unlink()
    (source / "cut.jpg").write_bytes(data[: len(data) // 3])
    (source / "cut.txt").write_text("A caption.\n")
    face.save(source / "nocaption.png")
    face.save(source / "blank.png")
    (source / "blank.txt").write_text("\n  \n")
    result = prepare_real(source, tmp_path / "data", FAST)
    reasons = {
        r["source"]: r["reason"].split(" (")[0] for r in map(json.loads, open(result.path / "rejected.jsonl"))
    }
    assert reasons == {
        "blank.png": "caption file blank.txt is empty",
        "cut.jpg": "corrupt or truncated image",
        "empty.png": "not an image",
        "flat.png": "no face found",
        "nocaption.png": "no caption file",
        "notes.jpg": "not an image",
        "tiny.png": "image too small",
        "two.png": "2 faces found and none is clearly the main one",
    }
    kept = sorted(r["source"] for r in _records(result.path))
    assert kept == ["cmyk.jpg", "exif.jpg", "good.png", "gray.png", "gray16.png", "rgba.png"]
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest["rejected"] == 8 and manifest["rejected_reasons"]["not an image"] == 2
    validate_dataset(result.path, deep=True)


def test_an_interrupted_run_resumes_to_the_same_result(mm_source, tmp_path):
    config = RealDataConfig(**{**FAST.__dict__, "encoder": "builtin:tiny-random"})
    prepare_real(mm_source, tmp_path / "whole", config)
    out = tmp_path / "resumed"
    finished = []

    def interrupt(count: int) -> None:
        finished.append(count)
        if len(finished) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prepare_real(mm_source, out, config, progress=interrupt)
    assert not out.exists() and len(list((work_folder(out) / "done").iterdir())) == 3
    counts = []
    prepare_real(mm_source, out, config, resume=True, progress=counts.append)
    assert counts[0] == 3 and sum(counts) == NUM_SYNTHETIC  # the 3 done items were not redone
    assert not work_folder(out).exists()
    for name in ("records.jsonl", "dataset.json", "splits.json"):
        assert (out / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    resumed_cache, whole_cache = TextCache.open(out), TextCache.open(tmp_path / "whole")
    records = _records(out)
    texts = sorted({t for r in records for t in r["captions"] + [p for e in r["parts"] for p in e.values()]})
    assert len(resumed_cache) == len(whole_cache) == len(texts)
    assert torch.equal(resumed_cache.lookup(texts), whole_cache.lookup(texts))
    assert sha256_tree(out / "images") == sha256_tree(tmp_path / "whole" / "images")
    assert sha256_tree(out / "parsing") == sha256_tree(tmp_path / "whole" / "parsing")
    whole, resumed = (json.loads((d / "manifest.json").read_text()) for d in (tmp_path / "whole", out))
    for manifest in (whole, resumed):
        del manifest["created"], manifest["command"]
    assert whole == resumed


@pytest.mark.slow
def test_workers_give_the_same_result(mm_source, tmp_path):
    prepare_real(mm_source, tmp_path / "one", FAST)
    prepare_real(mm_source, tmp_path / "two", RealDataConfig(**{**FAST.__dict__, "workers": 2}))
    assert (tmp_path / "one" / "records.jsonl").read_bytes() == (
        tmp_path / "two" / "records.jsonl"
    ).read_bytes()
    assert sha256_tree(tmp_path / "one" / "images") == sha256_tree(tmp_path / "two" / "images")


@pytest.fixture(scope="module")
def facexlib_home(tmp_path_factory):
    """Randomly initialised BiSeNet and RetinaFace saved under facexlib's upstream file names."""
    from facexlib.detection.retinaface import RetinaFace
    from facexlib.parsing.bisenet import BiSeNet

    home = tmp_path_factory.mktemp("weights")
    (home / "facexlib").mkdir()
    torch.manual_seed(0)
    torch.save(BiSeNet(num_class=19).state_dict(), home / "facexlib" / "parsing_bisenet.pth")
    retinaface = RetinaFace(network_name="mobile0.25", device="cpu")
    torch.save(retinaface.state_dict(), home / "facexlib" / RETINAFACE_FILES["retinaface_mobile0.25"])
    return home


def test_facexlib_parser_and_detector_paths(astronaut_source, facexlib_home, tmp_path):
    detector = DetectorConfig(detector="dlib", weights_dir=str(facexlib_home))
    config = RealDataConfig(resolution=64, parser="facexlib:bisenet", detector=detector, device="cpu")
    result = prepare_real(astronaut_source, tmp_path / "bisenet", config)
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest["parsing_sources"] == {"facexlib:bisenet": 1}
    validate_dataset(result.path, deep=True)
    retina = DetectorConfig(
        detector="auto",
        retinaface_model="retinaface_mobile0.25",
        weights_dir=str(facexlib_home),
        min_score=0.5,
    )
    config = RealDataConfig(resolution=64, parse=False, detector=retina, device="cpu")
    result = prepare_real(astronaut_source, tmp_path / "retinaface", config)
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert result.num_images == 0  # random weights find no face or a swarm of them: rejected, not crashed
    (reason,) = manifest["rejected_reasons"]
    assert reason == "no face found" or reason.endswith("faces found and none is clearly the main one")


def test_cli_forms_and_help(tmp_path, astronaut_source):
    runner = CliRunner()
    group = runner.invoke(app, ["prepare", "--help"])
    assert group.exit_code == 0 and "synthetic" in group.output and "SRC --out DATA" in group.output
    assert "--num" in runner.invoke(app, ["prepare", "synthetic", "--help"]).output
    real = runner.invoke(app, ["prepare", str(astronaut_source), "--help"])
    assert real.exit_code == 0 and "--mirror" in real.output and "--resume" in real.output
    missing = runner.invoke(app, ["prepare", str(astronaut_source), "--out", str(tmp_path / "d"),
                                  "--weights-dir", str(tmp_path / "empty")])  # fmt: skip
    assert missing.exit_code == 3 and "parsing_bisenet.pth" in missing.output
    assert runner.invoke(app, ["prepare", str(astronaut_source)]).exit_code == 2
    assert runner.invoke(app, ["prepare", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x"),
                               "--no-parse"]).exit_code == 1  # fmt: skip


def test_check_lists_every_problem(astronaut_source, tmp_path):
    data = tmp_path / "data"
    prepare_real(astronaut_source, data, RealDataConfig(resolution=64, parse=False, device="cpu"))
    runner = CliRunner()
    assert runner.invoke(app, ["prepare", "--check", str(data)]).exit_code == 0
    records = (data / "records.jsonl").read_text().replace('"hair"', '"hairdo"')
    (data / "records.jsonl").write_text(records)
    (data / "rejected.jsonl").write_text("{}\nnot json\n")
    run = runner.invoke(app, ["prepare", "--check", str(data)])
    assert run.exit_code == 1
    lines = [line for line in run.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 3 and "unknown part name(s) hairdo" in lines[0]
    shutil.rmtree(data / "images")
    run = runner.invoke(app, ["prepare", "--check", str(data)])
    assert run.exit_code == 1 and "image file images/000000.png is missing" in run.output


def test_cli_defaults_are_the_config_defaults(astronaut_source, tmp_path, monkeypatch):
    import pipelines.prepare
    from pipelines.errors import InvalidInputError

    seen = []

    def fake_prepare_real(source, out, config, **kwargs):
        seen.append(config)
        raise InvalidInputError("stop")

    monkeypatch.setattr(pipelines.prepare, "prepare_real", fake_prepare_real)
    CliRunner().invoke(
        app, ["prepare", str(astronaut_source), "--out", str(tmp_path / "d"), "--device", "cpu"]
    )
    assert seen == [RealDataConfig(device="cpu")]


def test_sources_with_masks_for_every_image_need_no_parser_weights(mm_source, tmp_path):
    source = tmp_path / "masked"
    shutil.copytree(mm_source, source)
    for index in range(MASKED, NUM_SYNTHETIC):
        (source / "images" / f"{index}.jpg").unlink()
        (source / "text" / f"{index}.txt").unlink()
    config = RealDataConfig(resolution=64, detector=DetectorConfig(weights_dir=str(tmp_path / "none")))
    result = prepare_real(source, tmp_path / "data", config)  # the default parser's weights are absent
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest["parsing_sources"] == {"celebamask-hq": result.num_images}
