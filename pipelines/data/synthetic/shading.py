"""Surface appearance at ray hits: albedo per part, skin decals (brows, lips, mouth, age lines, make-up),
eyes, and simple lighting. Also turns the hit component into a CelebAMask-HQ label.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from pipelines.data.synthetic.head import (
    COMPONENT_LABELS,
    COMPONENTS,
    EYE_Y,
    EYEBALL_Z,
    LEFT_SIGN,
    brow_distance,
    lip_regions,
    mouth_half_width,
    mouth_line,
    to_local,
)
from pipelines.data.synthetic.params import HeadParams
from pipelines.data.synthetic.sdf import capsule, ellipse, smoothstep

C = {name: i for i, name in enumerate(COMPONENTS)}
TEETH_RGB = (0.95, 0.93, 0.88)
MOUTH_RGB = (0.35, 0.08, 0.08)
SCLERA_RGB = (0.93, 0.92, 0.9)
PUPIL_RGB = (0.03, 0.03, 0.03)


def _const(rgb: tuple[float, float, float], like: Tensor) -> Tensor:
    return torch.tensor(rgb, dtype=like.dtype, device=like.device).expand_as(like)


def _eye_albedo(x: Tensor, y: Tensor, z: Tensor, g: HeadParams) -> Tensor:
    """Sclera, iris and pupil by the angle from +z on the eyeball (the eyes look straight ahead)."""
    centre_x = torch.where(x > 0, g["eye_sep"], -g["eye_sep"])
    v = torch.nn.functional.normalize(torch.stack([x - centre_x, y - EYE_Y, z - EYEBALL_Z], -1), dim=-1)
    cos_angle = v[:, 2:3]
    iris_shade = 0.8 + 0.35 * (1.0 - cos_angle) / (1.0 - math.cos(0.5))
    sclera = _const(SCLERA_RGB, v)
    colour = torch.where(cos_angle > math.cos(0.5), g.colour("iris") * iris_shade, sclera)
    return torch.where(cos_angle > math.cos(0.2), _const(PUPIL_RGB, v), colour)


def _age_and_makeup(x: Tensor, y: Tensor, g: HeadParams) -> Tensor:
    """Skin darkening factor (N, 1): nasolabial folds, under-eye bags and forehead lines of age; eyeliner."""
    ax = x.abs()
    zeros = torch.zeros_like(x)
    tip_y = EYE_Y - 0.068 * g["nose_len"]
    corner = mouth_half_width(g) + 0.008
    fold = capsule(
        ax, y, zeros, (0.03, tip_y + 0.002, 0.0), (corner, -0.11 * g["face_len"] - 0.004, 0.0), 0.0025
    )
    bags = ellipse(ax - g["eye_sep"], y - EYE_Y + 0.02, 0.018, 0.006)
    lines = (torch.sin(y * 320.0) > 0.6).float() * smoothstep(0.065, 0.075, y) * smoothstep(0.11, 0.1, y)
    age = (0.22 * smoothstep(0.003, 0.0, fold) + 0.15 * smoothstep(0.004, 0.0, bags) + 0.1 * lines) * g[
        "wrinkles"
    ]
    u = ax - g["eye_sep"]
    almond = ellipse(u, y - EYE_Y - g["eye_tilt"] * 0.15 * u, 0.0215 * g["eye_size"], 0.0105 * g["eye_size"])
    liner = 0.75 * smoothstep(0.004, 0.0015, almond) * g["eyeliner"]
    return (1.0 - (age + liner).clamp(max=0.8))[:, None]


def shade(points: Tensor, normals: Tensor, view: Tensor, occlusion: Tensor, parts: Tensor, g: HeadParams):
    """Colour and label the hit points.

    Args:
        points: (N, 3) world hit points. normals: (N, 3) unit normals. view: (N, 3) unit ray directions.
        occlusion: (N,) ambient-occlusion factor in [0, 1]. parts: (N, C) component distances.
        g: the parameters of each point's head.

    Returns:
        rgb (N, 3) in [0, 1] before clamping, labels (N,) int64 CelebAMask-HQ classes.
    """
    x, y, z = to_local(points[:, 0], points[:, 1], points[:, 2])
    comp = parts.argmin(-1)
    labels = torch.tensor(COMPONENT_LABELS, device=points.device)[comp]
    skin = g.colour("skin")
    by_part = {
        "hair": g.colour("hair")
        * (0.94 + 0.06 * torch.sin(160 * x + 50 * z + 8 * torch.sin(25 * y)))[:, None],
        "beard": g.colour("brow"),
        "neck": skin * 0.93,
        "cloth": g.colour("cloth"),
        "eyeglasses": g.colour("frame"),
        "earring": g.colour("metal"),
        "necklace": g.colour("metal"),
        "hat": g.colour("hat_col") * (0.9 + 0.1 * (torch.sin(300 * x) > 0).float())[:, None],
        "l_ear": skin * torch.tensor([0.97, 0.9, 0.88]),
        "r_ear": skin * torch.tensor([0.97, 0.9, 0.88]),
        "nose": skin * torch.tensor([1.0, 0.96, 0.95]),
    }
    albedo = skin * _age_and_makeup(x, y, g)
    for name, colour in by_part.items():
        albedo = torch.where((comp == C[name])[:, None], colour, albedo)
    eyes = (comp == C["l_eye"]) | (comp == C["r_eye"])
    albedo = torch.where(eyes[:, None], _eye_albedo(x, y, z, g), albedo)
    # decals on the front of the face
    on_skin = (comp == C["skin"]) & (z > 0.08)
    brow = on_skin & (brow_distance(x, y, g) < 0)
    albedo = torch.where(brow[:, None], g.colour("brow"), albedo)
    labels = torch.where(brow, torch.where(x * LEFT_SIGN > 0, 6, 7), labels)
    upper, lower, opening = lip_regions(x, y, g)
    lip_upper, lip_lower = on_skin & (upper < 0), on_skin & (lower < 0)
    albedo = torch.where(lip_upper[:, None], g.colour("lip"), albedo)
    albedo = torch.where(lip_lower[:, None], g.colour("lip") * 1.05, albedo)
    labels = torch.where(lip_upper, 11, torch.where(lip_lower, 12, labels))
    mouth = on_skin & (opening < 0) & (g["mouth_open"] > 0)
    inner = torch.where(
        (mouth_line(x, y, g) > -0.0005)[:, None], _const(TEETH_RGB, albedo), _const(MOUTH_RGB, albedo)
    )
    albedo = torch.where(mouth[:, None], inner, albedo)
    labels = torch.where(mouth, 10, labels)
    # light: key light + ambient with occlusion, and a highlight on shiny parts
    light = torch.nn.functional.normalize(torch.stack([g["light_x"], g["light_y"], g["light_z"]], -1), dim=-1)
    diffuse = (normals * light).sum(-1).clamp(min=0.0)
    ambient = g["ambient"] * (0.85 + 0.15 * normals[:, 1])
    rgb = albedo * ((ambient + (1.0 - g["ambient"]) * diffuse) * occlusion)[:, None]
    half = torch.nn.functional.normalize(light - view, dim=-1)
    shiny = (
        eyes
        | (comp == C["eyeglasses"])
        | (comp == C["earring"])
        | (comp == C["necklace"])
        | lip_upper
        | lip_lower
    )
    highlight = (normals * half).sum(-1).clamp(min=0.0) ** 40 * 0.5 * shiny.float()
    return rgb + highlight[:, None], labels
