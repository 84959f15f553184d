"""EG3D camera convention: hand-computed cases."""

import math

import pytest
import torch

from pipelines.core import cameras


def test_frontal_camera_position_and_axes():
    cam2world = cameras.orbit_cam2world(0.0, 0.0)[0]
    torch.testing.assert_close(cam2world[:3, 3], torch.tensor([0.0, 0.0, 2.7]))
    # OpenCV axes: x right = world +x, y down = world -y, z forward = world -z (toward the pivot)
    torch.testing.assert_close(cam2world[:3, 0], torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(cam2world[:3, 1], torch.tensor([0.0, -1.0, 0.0]))
    torch.testing.assert_close(cam2world[:3, 2], torch.tensor([0.0, 0.0, -1.0]))
    torch.testing.assert_close(cam2world[3], torch.tensor([0.0, 0.0, 0.0, 1.0]))


def test_yaw_90_degrees_puts_camera_on_plus_x_looking_at_pivot():
    cam2world = cameras.orbit_cam2world(math.pi / 2, 0.0)[0]
    torch.testing.assert_close(cam2world[:3, 3], torch.tensor([2.7, 0.0, 0.0]), atol=1e-5, rtol=0)
    forward = torch.tensor([-2.7, 0.0, 0.2]) / math.hypot(2.7, 0.2)
    torch.testing.assert_close(cam2world[:3, 2], forward, atol=1e-5, rtol=0)
    # looking toward -x with y up, the image's right is world -z (toward the back of the head)
    right = torch.tensor([-0.2, 0.0, -2.7]) / math.hypot(2.7, 0.2)
    torch.testing.assert_close(cam2world[:3, 0], right, atol=1e-5, rtol=0)
    torch.testing.assert_close(cam2world[:3, 1], torch.tensor([0.0, -1.0, 0.0]), atol=1e-5, rtol=0)


def test_positive_pitch_moves_camera_below_the_head():
    origin = cameras.orbit_cam2world(0.0, 0.3)[0, :3, 3]
    assert origin[1] < 0
    assert torch.linalg.norm(origin).item() == pytest.approx(2.7, abs=1e-5)


def test_rotation_is_orthonormal_for_random_orbits():
    cam2world = cameras.orbit_cam2world(torch.linspace(-1, 1, 7), torch.linspace(-0.4, 0.4, 7))
    rotation = cam2world[:, :3, :3]
    torch.testing.assert_close(
        rotation.transpose(1, 2) @ rotation, torch.eye(3).expand(7, 3, 3), atol=1e-5, rtol=0
    )
    torch.testing.assert_close(torch.linalg.det(rotation), torch.ones(7), atol=1e-5, rtol=0)


def test_label_round_trip_and_intrinsics():
    label = cameras.orbit_label([0.1, -0.2], [0.0, 0.05])
    assert label.shape == (2, 25)
    cam2world, intrinsics = cameras.split_label(label)
    torch.testing.assert_close(cameras.make_label(cam2world, intrinsics), label)
    torch.testing.assert_close(intrinsics[0], torch.tensor([[4.2647, 0, 0.5], [0, 4.2647, 0.5], [0, 0, 1.0]]))


def test_split_label_rejects_wrong_length():
    with pytest.raises(ValueError, match="16 values, expected 25"):
        cameras.split_label(torch.zeros(1, 16))


def test_centre_ray_looks_forward_and_corner_ray_by_hand():
    label = cameras.orbit_label(0.0, 0.0)
    origins, directions = cameras.generate_rays(label, 3)
    assert origins.shape == directions.shape == (1, 9, 3)
    torch.testing.assert_close(directions[0, 4], torch.tensor([0.0, 0.0, -1.0]))
    # pixel (row 0, col 0) at resolution 2 has normalised centre (0.25, 0.25): up and to world -x
    _, directions = cameras.generate_rays(label, 2)
    offset = 0.25 / 4.2647
    expected = torch.tensor([-offset, offset, -1.0])
    torch.testing.assert_close(directions[0, 0], expected / expected.norm())


def test_points_on_rays_project_back_to_pixel_centres():
    label = cameras.orbit_label(0.4, -0.2)
    resolution = 8
    origins, directions = cameras.generate_rays(label, resolution)
    points = origins + 2.5 * directions
    projected = cameras.project_points(points, label) * resolution
    rows, cols = torch.meshgrid(torch.arange(resolution), torch.arange(resolution), indexing="ij")
    centres = torch.stack([cols.reshape(-1), rows.reshape(-1)], dim=-1).float() + 0.5
    torch.testing.assert_close(projected[0], centres, atol=1e-4, rtol=0)


def test_parse_views():
    assert cameras.parse_views("0,-30,30:10") == [(0.0, 0.0), (-30.0, 0.0), (30.0, 10.0)]
    assert cameras.parse_views("3") == [(-30.0, 0.0), (0.0, 0.0), (30.0, 0.0)]
    assert cameras.parse_views("1") == [(0.0, 0.0)]
    assert cameras.parse_views("0") == [(0.0, 0.0)]
    with pytest.raises(ValueError, match="YAW or YAW:PITCH"):
        cameras.parse_views("1:2:3")
    with pytest.raises(ValueError, match="numbers"):
        cameras.parse_views("left")
