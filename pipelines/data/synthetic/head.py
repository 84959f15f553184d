"""The procedural head: a parameter row -> a composite signed distance function with labelled parts.

Head coordinates: y up, the face toward +z, the eyes at y = EYE_Y, the face surface near z = 0.2 (EG3D's
camera pivot). World coordinates are head coordinates scaled by HEAD_SCALE about HEAD_ANCHOR (and lifted by
HEAD_LIFT), which frames the head like an FFHQ crop under EG3D's default cameras.

Left and right follow CelebAMask-HQ (see `LEFT_SIGN`): "left" parts (l_eye, l_brow, l_ear and the first
landmarks) are the ones on the image's left in a frontal view, i.e. the subject's right side, at x < 0.

Every function takes separate (N,) coordinate tensors and a `HeadParams` view and returns (N,) distances.
"""

from __future__ import annotations

import torch
from torch import Tensor

from pipelines.data.synthetic.params import HeadParams
from pipelines.data.synthetic.sdf import (
    capsule,
    ellipse,
    ellipsoid,
    extrude,
    height_field,
    smax,
    smin,
    smoothstep,
    smoothstep_slope,
    sphere,
)

LEFT_SIGN = -1.0
"""x sign of CelebAMask-HQ's "left" parts: -1 puts them on the subject's right, the image's left."""

EYE_Y = 0.02
"""Height of the eye centres."""
EYE_Z = 0.142
"""Depth of the back of the eye openings."""
EYEBALL_Z = EYE_Z - 0.004
"""Depth of the eyeball centres (the iris faces +z)."""
HEAD_SCALE = 1.06
HEAD_ANCHOR = (0.0, 0.02, 0.2)
HEAD_LIFT = 0.005
OFF = 10.0
"""Distance added to switch a part off."""

COMPONENTS = (
    "skin", "nose", "l_ear", "r_ear", "l_eye", "r_eye", "hair", "beard",
    "eyeglasses", "earring", "neck", "cloth", "necklace", "hat",
)  # fmt: skip
"""The parts `head_components` returns, in column order."""
COMPONENT_LABELS = (1, 2, 8, 9, 4, 5, 13, 1, 3, 15, 17, 18, 16, 14)
"""CelebAMask-HQ class of each component (beards are skin: CelebAMask-HQ has no beard class)."""


def to_local(x: Tensor, y: Tensor, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """World -> head coordinates."""
    ax, ay, az = HEAD_ANCHOR
    return x / HEAD_SCALE, (y - HEAD_LIFT - ay) / HEAD_SCALE + ay, (z - az) / HEAD_SCALE + az


def to_world(points: Tensor) -> Tensor:
    """(..., 3) head -> world coordinates."""
    anchor = torch.tensor(HEAD_ANCHOR, dtype=points.dtype, device=points.device)
    lift = torch.tensor((0.0, HEAD_LIFT, 0.0), dtype=points.dtype, device=points.device)
    return (points - anchor) * HEAD_SCALE + anchor + lift


def mouth_line(x: Tensor, y: Tensor, g: HeadParams) -> Tensor:
    """Signed height above the (smile-bent) mouth line."""
    return y + 0.11 * g["face_len"] - g["smile"] * 5.0 * x * x


def mouth_half_width(g: HeadParams) -> Tensor:
    """Half width of the upper lip, the mouth corners' |x|."""
    return 0.035 * g["mouth_w"] * (1.0 + 0.12 * g["smile"])


def lip_regions(x: Tensor, y: Tensor, g: HeadParams) -> tuple[Tensor, Tensor, Tensor]:
    """2D distances (front view) to the upper lip, lower lip and the open-mouth gap."""
    yb = mouth_line(x, y, g)
    gap = g["mouth_open"] * 0.006
    half = mouth_half_width(g)
    upper = ellipse(x, yb - 0.0065 - gap, half, 0.0068 * g["lip_full"])
    lower = ellipse(x, yb + 0.0085 + gap, 0.886 * half, 0.0085 * g["lip_full"])
    opening = ellipse(x, yb + 0.001, 0.857 * half, gap + 0.0005)
    return upper, lower, opening


def brow_distance(x: Tensor, y: Tensor, g: HeadParams) -> Tensor:
    """2D distance (front view) to both eyebrows; negative inside a brow."""
    u = x.abs() - g["eye_sep"]
    centre = EYE_Y + g["brow_h"] - g["brow_arch"] * 5.0 * (u - 0.004) ** 2
    thickness = g["brow_thick"] * (1.0 - 0.45 * smoothstep(-0.01, 0.034, u))
    return ((y - centre).abs() - thickness).maximum((u - 0.004).abs() - 0.03)


def _skull(x: Tensor, y: Tensor, z: Tensor, g: HeadParams) -> Tensor:
    """Cranium, jaw, cheeks and chin without openings: the surface beards and landmarks build on."""
    ax, fl = x.abs(), g["face_len"]
    d = ellipsoid(x, y - 0.05, z + 0.02, g["head_w"], g["head_h"], 0.19)
    d = smin(d, ellipsoid(x, y + 0.055 * fl, z - 0.035, g["jaw_w"], 0.135 * fl, 0.148), 0.05)
    cheek = g["cheek"]
    d = smin(d, ellipsoid(ax - 0.064 * cheek, y + 0.004, z - 0.095, 0.052 * cheek, 0.046, 0.062), 0.03)
    full = g["cheek_full"]
    d = smin(d, ellipsoid(ax - 0.058, y + 0.075 * fl, z - 0.07, 0.03 + 0.024 * full, 0.04, 0.05), 0.03)
    corner = g["jaw_corner"]
    corner_x = g["jaw_w"] - 0.032 + 0.012 * corner
    d = smin(d, ellipsoid(ax - corner_x, y + 0.115 * fl, z + 0.005, 0.024, 0.02 + 0.008 * corner, 0.04), 0.03)
    chin = g["chin"]
    chin_z = z - 0.118 - 0.01 * chin
    d = smin(d, ellipsoid(x, y + 0.166 * fl, chin_z, g["chin_w"] + 0.006 * chin, 0.032, 0.04), 0.035)
    ridge = ellipsoid(x, y - 0.052, z - 0.126 - 0.008 * g["brow_ridge"], 0.085, 0.026, 0.05)
    return smin(d, ridge, 0.025)


def _skin(x: Tensor, y: Tensor, z: Tensor, skull: Tensor, g: HeadParams) -> Tensor:
    """The skull with almond eye openings carved and lips and brows raised."""
    size = g["eye_size"]
    u = x.abs() - g["eye_sep"]
    almond = ellipse(u, y - EYE_Y - g["eye_tilt"] * 0.15 * u, 0.0215 * size, 0.0105 * size)
    d = smax(skull, -almond.maximum(EYE_Z - z), 0.004)
    upper, lower, _ = lip_regions(x, y, g)
    front = smoothstep(0.08, 0.12, z)
    lips = 0.0035 * g["lip_full"] * (smoothstep(0.0, 0.01, -upper) + smoothstep(0.0, 0.01, -lower))
    brows = 0.0015 * smoothstep(0.0, 0.003, -brow_distance(x, y, g))
    return d - (lips + brows) * front


def _nose(x: Tensor, y: Tensor, z: Tensor, g: HeadParams) -> Tensor:
    tip_y = EYE_Y - 0.068 * g["nose_len"]
    width = g["nose_w"]
    tip = (0.0, tip_y, 0.207 + 0.008 * g["nose_len"] + g["nose_proj"])
    d = capsule(x, y, z, (0.0, EYE_Y + 0.008, 0.174), tip, 0.0095, 0.0165 * width)
    wings = ellipsoid(x.abs() - 0.015 * width, y - tip_y + 0.008, z - 0.192, 0.015 * width, 0.011, 0.013)
    return smin(d, wings, 0.012)


def _ears(x: Tensor, y: Tensor, z: Tensor, g: HeadParams) -> tuple[Tensor, Tensor]:
    """(left, right) ears, left at x = LEFT_SIGN * head width."""
    s = g["ear_size"]
    side = g["head_w"] - 0.008
    ear_y = y - EYE_Y + 0.022
    left = ellipsoid(x - LEFT_SIGN * side, ear_y, z + 0.015, 0.016, 0.045 * s, 0.027 * s)
    right = ellipsoid(x + LEFT_SIGN * side, ear_y, z + 0.015, 0.016, 0.045 * s, 0.027 * s)
    return left, right


def eyeball_radius(g: HeadParams) -> Tensor:
    """Radius of both eyeballs."""
    return 0.0235 * g["eye_size"]


def _eyes(x: Tensor, y: Tensor, z: Tensor, g: HeadParams) -> tuple[Tensor, Tensor]:
    """(left, right) eyeballs."""
    sep, radius = g["eye_sep"], eyeball_radius(g)
    left = sphere(x, y, z, (LEFT_SIGN * sep, EYE_Y, EYEBALL_Z), radius)
    right = sphere(x, y, z, (-LEFT_SIGN * sep, EYE_Y, EYEBALL_Z), radius)
    return left, right


def _neck_and_cloth(x: Tensor, y: Tensor, z: Tensor, g: HeadParams) -> tuple[Tensor, Tensor]:
    radius = g["neck_r"]
    neck = capsule(x, y, z, (0.0, -0.06, -0.035), (0.0, -0.5, -0.05), radius)
    adam = ellipsoid(x, y + 0.2, z + 0.04 - radius, 0.012, 0.02, 0.012) + (1.0 - g["adam"]) * OFF
    neck = smin(neck, adam, 0.01)
    cloth = capsule(x.abs(), y, z, (0.0, -0.345, -0.04), (0.32, -0.39, -0.04), 0.1)
    return neck, smin(cloth, ellipsoid(x, y + 0.5, z + 0.04, 0.3, 0.15, 0.15), 0.05)


def _above_hairline(x: Tensor, y: Tensor, z: Tensor, g: HeadParams) -> Tensor:
    """Signed distance below the hairline surface (negative where hair grows), which rises from the nape
    (y = -0.075) to the forehead (y = 0.108) and recedes at the temples."""
    ax, recede = x.abs(), g["recede"]
    front = 0.108 - 0.095 * smoothstep(0.082, 0.125, ax) + recede * 0.045 * smoothstep(0.015, 0.07, ax)
    front_slope = -0.095 * smoothstep_slope(0.082, 0.125, ax) + recede * 0.045 * smoothstep_slope(
        0.015, 0.07, ax
    )
    back = smoothstep(0.12, -0.12, z)
    line = front * (1.0 - back) - 0.075 * back
    return height_field(
        line - y, front_slope * (1.0 - back), (front + 0.075) * smoothstep_slope(0.12, -0.12, z)
    )


def _hair(x: Tensor, y: Tensor, z: Tensor, ears: Tensor, hat: Tensor, g: HeadParams) -> Tensor:
    """Scalp hair (short cap, or a falling medium/long mass), fringe, waves; cut by the ears and the hat."""
    vol, hw, style = g["hair_vol"], g["head_w"], g["hair_style"]
    cap = ellipsoid(x, y - 0.05 - 0.4 * vol, z + 0.02, hw + vol, g["head_h"] + vol, 0.19 + vol)
    cap = smax(cap, _above_hairline(x, y, z, g), 0.012)
    cap = smax(cap, -(ears - 0.006), 0.006)
    # medium / long: the cap stretched downward (opElongate), flared, open in front of the face
    fall = g["hair_len"]
    top = 0.05 + 0.4 * vol
    yy = y - top
    yy = yy - (yy.clamp(max=0.0)).maximum(-fall)
    flare = 1.0 + 0.12 * ((top - y) / fall).clamp(0.0, 1.0)
    mass = ellipsoid(
        x, yy, z + 0.025, (hw + vol + 0.006) * flare, g["head_h"] + vol + 0.004, (0.19 + vol + 0.006) * flare
    )
    front_cut = z + 0.12 - 0.21 * smoothstep(hw - 0.05, hw + 0.005, x.abs())
    mass = smax(mass, height_field(front_cut, 0.21 * smoothstep_slope(hw - 0.05, hw + 0.005, x.abs())), 0.02)
    mass = smax(mass, (top - fall) - y, 0.01)
    hair = smin(cap, mass + (style < 1.5).float() * OFF, 0.02)
    side = g["bangs_side"]
    fringe = ellipsoid(x - side, y - 0.105, z - 0.13, 0.115, 0.055, 0.075 + vol)
    fringe = smax(fringe, 0.062 + 6.0 * side * x - y, 0.01) + (1.0 - g["bangs"]) * OFF
    hair = smin(hair, fringe, 0.02)
    waves = g["wavy"] * 0.003 * torch.sin(45.0 * y + 10.0 * x) * torch.sin(35.0 * z + 25.0 * x)
    grooves = 0.0012 * torch.sin(150.0 * x + 40.0 * z) * smoothstep(0.0, 0.05, y)
    hair = hair - waves - grooves + (style < 0.5).float() * OFF
    return smax(hair, -(hat - 0.003), 0.004)


def _hat(x: Tensor, y: Tensor, z: Tensor, g: HeadParams) -> Tensor:
    """A beanie: the scalp inflated and cut by a brim line that drops toward the back."""
    vol = g["hair_vol"]
    shell = ellipsoid(
        x, y - 0.06 - 0.4 * vol, z + 0.02, g["head_w"] + vol + 0.014, g["head_h"] + vol + 0.018, 0.204 + vol
    )
    brim = (0.125 - 0.17 * smoothstep(0.12, -0.12, z)) - y
    return smax(shell, brim, 0.01) + (1.0 - g["hat"]) * OFF


def _beard(x: Tensor, y: Tensor, z: Tensor, skull: Tensor, g: HeadParams) -> Tensor:
    """Full beard (the lower skull inflated, below the cheek line, mouth left free) and mustache."""
    yb = mouth_line(x, y, g)
    mouth_y = -0.11 * g["face_len"]
    top = mouth_y - 0.006 + 0.07 * smoothstep(0.03, 0.075, x.abs())
    below_cheeks = height_field(y - top, 0.07 * smoothstep_slope(0.03, 0.075, x.abs()))
    region = below_cheeks.maximum(-(z + 0.02)).maximum(-ellipse(x, yb, 0.045, 0.021))
    beard = smax(skull - g["beard_thick"], region, 0.006) + (1.0 - g["beard"]) * OFF
    mustache = ellipsoid(x, yb - 0.018, z - 0.2, 0.038, 0.007, 0.02) + (1.0 - g["mustache"]) * OFF
    return beard.minimum(mustache)


def _glasses(x: Tensor, y: Tensor, z: Tensor, g: HeadParams) -> Tensor:
    """Frames (rims, bridge, temple arms) and, for sunglasses, dark filled lenses."""
    ax, sep, plane = x.abs(), g["eye_sep"], 0.214
    rx, ry = 0.03, 0.022 + 0.004 * g["glasses_h"]
    outline = ellipse(ax - sep - 0.002, y - EYE_Y + 0.002, rx, ry)
    rims = extrude(outline.abs() - 0.0028, (z - plane).abs() - 0.0022)
    lenses = extrude(outline, (z - plane).abs() - 0.001) + (1.0 - g["sunglasses"]) * OFF
    bridge = capsule(
        ax, y, z, (0.0, EYE_Y + 0.01, plane + 0.004), (sep - rx + 0.002, EYE_Y + 0.006, plane), 0.0022
    )
    arms = capsule(
        ax,
        y,
        z,
        (sep + rx, EYE_Y + 0.006, plane - 0.002),
        (g["head_w"] + 0.006, EYE_Y + 0.012, -0.04),
        0.0026,
    )
    return rims.minimum(lenses).minimum(bridge).minimum(arms) + (1.0 - g["glasses"]) * OFF


def _jewellery(x: Tensor, y: Tensor, z: Tensor, g: HeadParams) -> tuple[Tensor, Tensor]:
    """(earrings, necklace)."""
    lobe_y = EYE_Y - 0.022 - 0.045 * g["ear_size"] - 0.002
    studs = sphere(x.abs(), y, z, (g["head_w"] + 0.002, lobe_y, -0.008), 0.0075) + (1.0 - g["earrings"]) * OFF
    tilt = y + 0.27 - 0.35 * (z + 0.03)
    ring = (x * x + (z + 0.03) ** 2).sqrt() - (g["neck_r"] + 0.012)
    chain = (ring * ring + tilt * tilt).sqrt() - 0.005 + (1.0 - g["necklace"]) * OFF
    return studs, chain


def _parts_local(x: Tensor, y: Tensor, z: Tensor, g: HeadParams) -> list[Tensor]:
    """Every component's distance in head coordinates, in COMPONENTS order."""
    skull = _skull(x, y, z, g)
    ear_l, ear_r = _ears(x, y, z, g)
    eye_l, eye_r = _eyes(x, y, z, g)
    neck, cloth = _neck_and_cloth(x, y, z, g)
    hat = _hat(x, y, z, g)
    hair = _hair(x, y, z, ear_l.minimum(ear_r), hat, g)
    earrings, necklace = _jewellery(x, y, z, g)
    skin = _skin(x, y, z, skull, g)
    return [skin, _nose(x, y, z, g), ear_l, ear_r, eye_l, eye_r, hair, _beard(x, y, z, skull, g),
            _glasses(x, y, z, g), earrings, neck, cloth, necklace, hat]  # fmt: skip


def _union(parts: list[Tensor]) -> Tensor:
    """Blend the body parts smoothly, then add the separate objects with a hard union."""
    skin, nose, ear_l, ear_r, eye_l, eye_r, hair, beard, glasses, earrings, neck, cloth, necklace, hat = parts
    d = smin(skin, nose, 0.014)
    d = smin(d, ear_l.minimum(ear_r), 0.01)
    d = smin(d, neck, 0.03)
    d = smin(d, cloth, 0.03)
    for part in (eye_l, eye_r, hair, beard, glasses, earrings, necklace, hat):
        d = d.minimum(part)
    return d


def head_sdf(x: Tensor, y: Tensor, z: Tensor, g: HeadParams) -> Tensor:
    """(N,) signed distance of world points to their heads (negative inside)."""
    return _union(_parts_local(*to_local(x, y, z), g)) * HEAD_SCALE


def head_components(x: Tensor, y: Tensor, z: Tensor, g: HeadParams) -> tuple[Tensor, Tensor]:
    """World points -> (N,) head distance and (N, C) per-component distances (C = len(COMPONENTS))."""
    parts = _parts_local(*to_local(x, y, z), g)
    return _union(parts) * HEAD_SCALE, torch.stack(parts, dim=-1) * HEAD_SCALE


def face_sdf_local(x: Tensor, y: Tensor, z: Tensor, g: HeadParams) -> Tensor:
    """Skin and nose only, in head coordinates: the anatomical surface the landmarks lie on."""
    return smin(_skin(x, y, z, _skull(x, y, z, g), g), _nose(x, y, z, g), 0.014)
