"""Turntable video export: mp4 through ffmpeg, GIF fallback, atomic writes."""

import numpy as np
import pytest
import torch

from pipelines.core import video
from pipelines.core.video import write_video
from pipelines.errors import InvalidInputError


def _frames(count=6, height=50, width=70):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(count, height, width, 3), dtype=np.uint8)


def _read(path):
    import imageio.v3 as iio

    return iio.imread(path, index=None)


def test_mp4_reads_back_with_frame_count_and_size(tmp_path):
    path = write_video(_frames(), tmp_path / "turntable.mp4", fps=12)
    assert path == tmp_path / "turntable.mp4"
    assert _read(path).shape == (6, 50, 70, 3)  # 50 x 70: not a multiple of 16, kept as is
    assert [p.name for p in tmp_path.iterdir()] == ["turntable.mp4"]


def test_mp4_of_odd_size_gains_one_edge_row(tmp_path):
    path = write_video(torch.from_numpy(_frames(3, 49, 70)), tmp_path / "odd.mp4")
    assert _read(path).shape == (3, 50, 70, 3)


def test_gif_when_asked(tmp_path):
    frames = _frames(4, 33, 41)
    path = write_video(frames, tmp_path / "turntable.gif", fps=10)
    back = _read(path)
    assert path.suffix == ".gif" and back.shape[:3] == (4, 33, 41)


def test_gif_fallback_when_ffmpeg_is_missing(tmp_path, monkeypatch):
    import imageio_ffmpeg

    def no_ffmpeg():
        raise RuntimeError("No ffmpeg exe could be found")

    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", no_ffmpeg)
    path = write_video(_frames(), tmp_path / "turntable.mp4")
    assert path == tmp_path / "turntable.gif"
    assert _read(path).shape[:3] == (6, 50, 70)
    assert [p.name for p in tmp_path.iterdir()] == ["turntable.gif"]


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    def crash(frames, path, *args):
        path.write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(video, "_write_mp4", crash)
    with pytest.raises(OSError, match="disk full"):
        write_video(_frames(), tmp_path / "turntable.mp4")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "frames",
    [np.zeros((2, 8, 8, 3), np.float32), np.zeros((8, 8, 3), np.uint8), np.zeros((0, 8, 8, 3), np.uint8)],
)
def test_bad_frames_are_rejected(tmp_path, frames):
    with pytest.raises(InvalidInputError, match="expected uint8 frames"):
        write_video(frames, tmp_path / "v.mp4")
