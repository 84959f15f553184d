"""Ground truth of the synthetic world is self-consistent: depth, labels, landmarks, left/right, meshes."""

import numpy as np
import pytest
import torch

from pipelines.core.cameras import generate_rays, orbit_label
from pipelines.data.dataset import read_dataset
from pipelines.data.labels import PARSING_CLASSES
from pipelines.data.synthetic import HeadRenderer, landmarks_2d, landmarks_3d, plan_image
from pipelines.data.synthetic.head import COMPONENT_LABELS, head_components
from pipelines.data.synthetic.mesh import head_mesh
from pipelines.data.synthetic.params import HeadParams, params_from_dict

DECALS = {PARSING_CLASSES.index(n) for n in ("l_brow", "r_brow", "mouth", "u_lip", "l_lip")}
SKIN = PARSING_CLASSES.index("skin")


def _record_rays(info, record):
    camera = torch.tensor(record["camera"])[None]
    origins, directions = generate_rays(camera, info.resolution)
    return origins[0], directions[0]


def _head(record):
    return torch.from_numpy(params_from_dict(record["head"]))[None]


def test_depth_is_the_first_zero_of_the_sdf_along_each_ray(tiny_synthetic):
    info = read_dataset(tiny_synthetic)
    renderer = HeadRenderer()
    for record in info.records[:4]:
        origins, directions = _record_rays(info, record)
        depth = torch.from_numpy(info.load_depth(record)).reshape(-1)
        head = _head(record)
        hit = torch.isfinite(depth)
        assert 0.15 < hit.float().mean() < 0.9
        points = origins[hit] + directions[hit] * depth[hit, None]
        zeros = torch.zeros(len(points), dtype=torch.long)
        epsilon = 0.08 * 2.5 / (4.2647 * info.resolution)  # the renderer's hit threshold
        assert renderer.sdf(points, zeros, head).abs().max() < epsilon
        # nothing is crossed before the hit, and background rays cross nothing (dense reference march)
        ts = torch.linspace(1.9, 3.4, 300)
        before = ts[None, :] < (depth[:, None] - 5e-3)
        samples = origins[:, None, :] + directions[:, None, :] * ts[None, :, None]
        values = renderer.sdf(
            samples.reshape(-1, 3), torch.zeros(samples.shape[0] * 300, dtype=torch.long), head
        )
        assert values.reshape(-1, 300)[before].min() > -1e-4


def test_each_pixel_label_is_the_part_its_ray_hit(tiny_synthetic):
    info = read_dataset(tiny_synthetic)
    for record in info.records[:4]:
        origins, directions = _record_rays(info, record)
        depth = torch.from_numpy(info.load_depth(record)).reshape(-1)
        labels = torch.from_numpy(info.load_parsing(record).astype(np.int64)).reshape(-1)
        hit = torch.isfinite(depth)
        assert (labels[~hit] == 0).all() and (labels[hit] > 0).all()
        points = origins[hit] + directions[hit] * depth[hit, None]
        g = HeadParams(_head(record).T.contiguous(), torch.zeros(len(points), dtype=torch.long))
        _, parts = head_components(points[:, 0], points[:, 1], points[:, 2], g)
        expected = torch.tensor(COMPONENT_LABELS)[parts.argmin(-1)]
        stored = labels[hit]
        decal = torch.tensor([int(v) in DECALS for v in stored])
        assert torch.equal(stored[~decal], expected[~decal])
        assert (expected[decal] == SKIN).all()


def test_camera_label_reprojects_the_3d_landmarks_onto_the_stored_pixels(tiny_synthetic):
    info = read_dataset(tiny_synthetic)
    for record in info.records:
        points = landmarks_3d(_head(record))[0].double().numpy()
        assert np.allclose(points, record["landmarks_3d"], atol=1e-6)
        label = np.asarray(record["camera"], dtype=np.float64)
        world2cam = np.linalg.inv(label[:16].reshape(4, 4))
        intrinsics = label[16:].reshape(3, 3)
        cam = points @ world2cam[:3, :3].T + world2cam[:3, 3]
        assert (cam[:, 2] > 0).all()
        pixels = (cam @ intrinsics.T)[:, :2] / cam[:, 2:3] * info.resolution
        assert np.abs(pixels - np.asarray(record["landmarks"])).max() < 0.5


def _frontal(seed: int, resolution: int = 64, yaw: float = 0.0):
    for index in range(200):
        spec = plan_image(seed, index, {}, 0.0)
        a = spec.attributes
        if a.eyewear == "none" and not a.hat and a.hair_length in ("bald", "short") and not a.mustache:
            break
    head = torch.from_numpy(spec.head)[None]
    camera = orbit_label(yaw, 0.0)
    out = HeadRenderer().render(head, camera, resolution)
    return head, camera, out.parsing[0].numpy()


def test_left_parts_follow_celebamask_hq_image_left_convention():
    """Decision: CelebAMask-HQ's l_eye, l_brow and l_ear are the parts on the image's left in a frontal
    view, i.e. the subject's right side. Source: CelebAMask-HQ's README and MaskGAN paper only list the
    class names (l_eye, r_eye, ...) without defining the side, so the convention is taken from the data
    set's own annotation as published in its colour-coded sample masks (l_eye blue, r_eye magenta, the
    blue eye on the image's left). It is one constant (`head.LEFT_SIGN`) should that ever need flipping.
    The five landmarks use the same side in the RetinaFace/ArcFace order (first eye = image left).
    """
    head, camera, labels = _frontal(seed=11)
    columns = np.arange(labels.shape[1])[None, :].repeat(labels.shape[0], 0)
    for left, right in (("l_eye", "r_eye"), ("l_brow", "r_brow"), ("l_ear", "r_ear")):
        left_cols = columns[labels == PARSING_CLASSES.index(left)]
        right_cols = columns[labels == PARSING_CLASSES.index(right)]
        assert len(left_cols) and len(right_cols), (left, right)
        assert left_cols.mean() < labels.shape[1] / 2 < right_cols.mean()
    pixels = landmarks_2d(landmarks_3d(head), camera, labels.shape[0])[0].numpy()
    assert pixels[0, 0] < pixels[1, 0] and pixels[3, 0] < pixels[4, 0]
    names = [PARSING_CLASSES[labels[int(y), int(x)]] for x, y in pixels]
    assert names[:3] == ["l_eye", "r_eye", "nose"]
    assert {names[3], names[4]} <= {"u_lip", "l_lip", "mouth", "skin"}


@pytest.mark.parametrize(("yaw", "seen", "hidden"), [(-0.6, "l_ear", "r_ear"), (0.6, "r_ear", "l_ear")])
def test_turning_the_camera_shows_the_ear_on_that_side(yaw, seen, hidden):
    """Negative yaw moves the camera toward -x, the subject's right, where the l_ear is."""
    _, _, labels = _frontal(seed=11, resolution=32, yaw=yaw)
    assert (labels == PARSING_CLASSES.index(seen)).sum() > (labels == PARSING_CLASSES.index(hidden)).sum()


def test_mesh_is_closed_outward_and_lies_on_the_surface():
    import trimesh

    renderer = HeadRenderer()
    head = torch.from_numpy(plan_image(0, 3, {}, 0.0).head)[None]
    vertices, faces = head_mesh(renderer.sdf, head, 48)
    mesh = trimesh.Trimesh(vertices, faces)
    assert mesh.is_watertight and mesh.volume > 0
    distance = renderer.sdf(torch.from_numpy(vertices), torch.zeros(len(vertices), dtype=torch.long), head)
    inside_box = torch.from_numpy((np.abs(vertices[:, 0]) < 0.44) & (vertices[:, 1] > -0.6))
    assert distance[inside_box].abs().max() < 0.02
