"""The pieces of `prepare` on real data: decoding, layouts, masks, alignment and pose."""

import io
import math
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from pipelines.core.cameras import orbit_label, project_points
from pipelines.data.real.align import align_face, ffhq_quad, framing_of, transform_points, warp
from pipelines.data.real.decode import RejectedError, decode_image
from pipelines.data.real.layouts import detect_layout, list_source
from pipelines.data.real.masks import celebamask_label_map
from pipelines.data.real.pose import TEMPLATES, estimate_pose, mirror_pose, template_view

GRADIENT = np.linspace(0, 255, 96 * 96 * 3).reshape(96, 96, 3).astype(np.uint8)


def _png_with_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (a decompression bomb as far as the header goes)."""
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    header = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
    data[12:29] = header
    data[29:33] = struct.pack(">I", zlib.crc32(header))
    return bytes(data)


def test_decode_handles_every_mode(tmp_path):
    rgb = Image.fromarray(GRADIENT)
    cases = {
        "gray.png": rgb.convert("L"),
        "rgba.png": rgb.convert("RGBA"),
        "palette.gif": rgb.convert("P"),
        "cmyk.jpg": rgb.convert("CMYK"),
        "plain.webp": rgb,
    }
    for name, image in cases.items():
        image.save(tmp_path / name)
        decoded = decode_image(tmp_path / name)
        assert decoded.shape == (96, 96, 3) and decoded.dtype == np.uint8, name
    sixteen = (np.arange(96 * 96).reshape(96, 96) * 7).astype(np.uint16)
    Image.fromarray(sixteen).save(tmp_path / "gray16.png")
    decoded = decode_image(tmp_path / "gray16.png")
    np.testing.assert_array_equal(decoded[..., 0], np.round(sixteen / 65535 * 255).astype(np.uint8))


def test_decode_composites_alpha_on_white(tmp_path):
    Image.new("RGBA", (80, 80), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    assert (decode_image(tmp_path / "clear.png") == 255).all()


def test_decode_follows_exif_orientation(tmp_path):
    image = Image.fromarray(GRADIENT[:, :64])  # 64 wide, 96 tall
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    image.save(tmp_path / "rotated.jpg", exif=exif)
    assert decode_image(tmp_path / "rotated.jpg").shape == (64, 96, 3)


def test_decode_shrinks_huge_images(tmp_path):
    Image.fromarray(np.zeros((300, 600, 3), dtype=np.uint8)).save(tmp_path / "wide.png")
    assert decode_image(tmp_path / "wide.png", max_side=200).shape == (100, 200, 3)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("notes.jpg", b"this is not an image", "not an image"),
        ("empty.png", b"", "not an image"),
        ("bomb.png", _png_with_size(40000, 40000), "image too large"),
    ],
)
def test_decode_rejects_bad_files(tmp_path, name, content, reason):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(RejectedError, match=reason):
        decode_image(tmp_path / name)


def test_decode_rejects_truncated_and_tiny_images(tmp_path):
    Image.fromarray(GRADIENT).save(tmp_path / "full.jpg", quality=95)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(RejectedError, match="corrupt or truncated image"):
        decode_image(tmp_path / "cut.jpg")
    Image.fromarray(GRADIENT[:20, :20]).save(tmp_path / "tiny.png")
    with pytest.raises(RejectedError, match="image too small"):
        decode_image(tmp_path / "tiny.png")


def _touch_image(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(GRADIENT).save(path)


def test_layouts_are_detected_and_listed(tmp_path):
    mm = tmp_path / "mm"
    _touch_image(mm / "images" / "0.jpg")
    _touch_image(mm / "images" / "1.jpg")
    (mm / "text").mkdir()
    (mm / "text" / "0.txt").write_text("First caption.\n\nSecond caption.\n")
    (mm / "text" / "7.txt").write_text("Orphan.\n")
    listing = list_source(mm)
    assert listing.layout == "mm-celeba-hq"
    assert [(i.key, i.captions) for i in listing.items] == [
        ("images/0.jpg", ("First caption.", "Second caption."))
    ]
    assert {r["source"]: r["reason"] for r in listing.rejected} == {
        "images/1.jpg": "no caption file (text/1.txt)",
        "text/7.txt": "caption file without an image",
    }
    assert list_source(mm, layout="ffhq-text").layout == "ffhq-text"


def test_the_released_data_sets_folders_are_read(tmp_path):
    """The folders as the data sets ship them (MM-CelebA-HQ as loaders of the release read it, CelebAText-HQ
    as its authors' loader reads it, FFHQ-Text as its description lists it), with CelebAText-HQ's stray
    replacement characters."""
    mm = tmp_path / "Multi-Modal-CelebA-HQ"
    _touch_image(mm / "image" / "images" / "0.jpg")
    (mm / "text" / "celeba-caption").mkdir(parents=True)
    (mm / "text" / "celeba-caption" / "0.txt").write_text("The woman has wavy hair.\n")
    listing = list_source(mm)
    assert listing.layout == "mm-celeba-hq" and listing.rejected == []
    assert [(i.key, i.captions) for i in listing.items] == [
        ("image/images/0.jpg", ("The woman has wavy hair.",))
    ]
    celebatext = tmp_path / "CelebAText-HQ"
    _touch_image(celebatext / "CelebAimg" / "3.jpg")
    (celebatext / "captions").mkdir()
    (celebatext / "captions" / "3.txt").write_text("Her hair\ufffd\ufffdis  long.\n", encoding="utf-8")
    assert detect_layout(celebatext) == "celebatext-hq"
    assert list_source(celebatext).items[0].captions == ("Her hair is long.",)
    ffhq = tmp_path / "FFHQ-Text"
    _touch_image(ffhq / "Image" / "00012.png")
    (ffhq / "Text").mkdir()
    (ffhq / "Text" / "00012.txt").write_text("A caption.\n")
    assert detect_layout(ffhq) == "ffhq-text"
    assert [i.key for i in list_source(ffhq).items] == ["Image/00012.png"]


def test_generic_layouts_sidecar_and_jsonl(tmp_path):
    sidecar = tmp_path / "sidecar"
    _touch_image(sidecar / "a" / "me.png")
    (sidecar / "a" / "me.txt").write_text("Me.\n")
    _touch_image(sidecar / "a" / "._me.png")  # macOS metadata and hidden (work) folders are not inputs
    _touch_image(sidecar / ".data.work" / "files" / "x.png")
    assert [i.key for i in list_source(sidecar).items] == ["a/me.png"]
    jsonl = tmp_path / "jsonl"
    _touch_image(jsonl / "x.png")
    lines = [
        '{"image": "x.png", "captions": ["One.", "Two."]}',
        '{"file_name": "x.png", "text": "Three."}',
        '{"image": "gone.png", "caption": "Missing."}',
        "not json",
    ]
    (jsonl / "captions.jsonl").write_text("\n".join(lines) + "\n")
    listing = list_source(jsonl)
    assert listing.layout == "generic"
    assert listing.items[0].captions == ("One.", "Two.", "Three.")
    assert sorted(r["reason"] for r in listing.rejected) == [
        "image listed in captions.jsonl is missing",
        "not valid JSON",
    ]


def test_celebamask_part_files_combine_in_class_order(tmp_path):
    folder = tmp_path / "anno" / "1"
    folder.mkdir(parents=True)
    skin = np.zeros((8, 8), dtype=np.uint8)
    skin[2:6, 2:6] = 255
    nose = np.zeros((8, 8), dtype=np.uint8)
    nose[3:5, 3:5] = 255
    Image.fromarray(skin).save(folder / "02001_skin.png")
    Image.fromarray(nose).save(folder / "02001_nose.png")
    labels = celebamask_label_map(tmp_path / "anno", 2001)
    assert labels[0, 0] == 0 and labels[2, 2] == 1 and labels[3, 3] == 2
    assert celebamask_label_map(tmp_path / "anno", 5) is None


def test_alignment_maps_the_landmarks_to_the_ffhq_square():
    landmarks = np.array([[40.0, 50], [60, 50], [50, 60], [42, 72], [58, 72]])
    quad = ffhq_quad(landmarks)
    aligned = align_face(np.zeros((100, 100, 3), dtype=np.uint8), landmarks, 256)
    corners = transform_points(aligned.matrix, quad)
    np.testing.assert_allclose(corners, [[0, 0], [0, 256], [256, 256], [256, 0]], atol=1e-9)
    framed = align_face(np.zeros((100, 100, 3), dtype=np.uint8), landmarks, 256, (0.5, 0.25, 0.1))
    np.testing.assert_allclose(transform_points(framed.matrix, quad[:1]), [[64, 25.6]], atol=1e-9)


def test_warp_uses_edge_coordinates():
    """A crop of exactly the top-left 32 x 32 quarter of a 64 px image reproduces it pixel for pixel."""
    image = np.random.default_rng(0).integers(0, 19, (64, 64), dtype=np.uint8)
    matrix = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    np.testing.assert_array_equal(warp(image, matrix, 32, labels=True), image[:32, :32])


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_pose_recovers_orbit_cameras_of_the_template(template):
    """Landmarks of the template seen by orbit cameras, aligned FFHQ-style, give back yaw and pitch."""
    framing = framing_of(template_view(template))
    points = torch.from_numpy(TEMPLATES[template]).float()[None]
    for yaw_deg, pitch_deg in [(0, 0), (25, 0), (-35, 8), (10, -12)]:
        label = orbit_label(math.radians(yaw_deg), math.radians(pitch_deg))
        landmarks = project_points(points, label)[0].double().numpy() * 512
        aligned = align_face(np.zeros((512, 512, 3), dtype=np.uint8), landmarks, 512, framing)
        pose = estimate_pose(aligned.landmarks, 512, template)
        assert math.degrees(pose.yaw) == pytest.approx(yaw_deg, abs=1.0)
        assert math.degrees(pose.pitch) == pytest.approx(pitch_deg, abs=1.0)
        # The label describes the aligned crop, up to the zoom of FFHQ's quad: set by the eyes of a frontal
        # human face and by the mouth of a turned one, it shrinks a few % with yaw; the label keeps r = 2.7.
        assert pose.reprojection_px < 6.0
        assert len(pose.label) == 25


def test_pose_of_a_mirrored_face_negates_yaw():
    framing = framing_of(template_view("human"))
    label = orbit_label(math.radians(20), math.radians(5))
    landmarks = project_points(torch.from_numpy(TEMPLATES["human"]).float()[None], label)[0].double().numpy()
    aligned = align_face(np.zeros((512, 512, 3), dtype=np.uint8), landmarks * 512, 512, framing)
    flipped = np.stack([512 - aligned.landmarks[:, 0], aligned.landmarks[:, 1]], axis=1)[[1, 0, 2, 4, 3]]
    direct = estimate_pose(flipped, 512)
    mirrored = mirror_pose(estimate_pose(aligned.landmarks, 512))
    assert direct.yaw == pytest.approx(mirrored.yaw, abs=1e-3)
    assert direct.pitch == pytest.approx(mirrored.pitch, abs=1e-3)
    np.testing.assert_allclose(direct.label, mirrored.label, atol=1e-3)


def test_pose_from_three_landmarks():
    label = orbit_label(math.radians(-15), 0.0)
    template = torch.from_numpy(TEMPLATES["human"]).float()[None]
    landmarks = project_points(template, label)[0].double().numpy() * 512
    aligned = align_face(
        np.zeros((512, 512, 3), dtype=np.uint8), landmarks, 512, framing_of(template_view("human"))
    )
    pose = estimate_pose(aligned.landmarks, 512, measured=np.array([True, True, True, False, False]))
    assert math.degrees(pose.yaw) == pytest.approx(-15, abs=1.0)
