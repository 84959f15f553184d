"""The synthetic text–face world (DESIGN §6): procedural SDF heads with exact captions, labels and depth.

Modules, in dependency order: `sdf` (primitives), `params` (the head parameter vector), `head` (the
composite SDF), `attributes` (the vocabulary and sampler), `head_sampler` (attributes -> parameters),
`captions`, `landmarks`, `shading` and `render` (sphere tracing), `mesh`, `plan` (one image's decisions),
`config` and `builder` (a whole dataset folder).
"""

from pipelines.data.synthetic.attributes import ATTRIBUTE_VALUES, Attributes, parse_holdout, sample_attributes
from pipelines.data.synthetic.builder import build_synthetic
from pipelines.data.synthetic.captions import captions, part_phrases
from pipelines.data.synthetic.config import SyntheticConfig
from pipelines.data.synthetic.landmarks import LANDMARK_NAMES, landmarks_2d, landmarks_3d
from pipelines.data.synthetic.plan import ImageSpec, plan_image
from pipelines.data.synthetic.render import HeadRenderer, RenderOutput

__all__ = [
    "ATTRIBUTE_VALUES", "Attributes", "HeadRenderer", "ImageSpec", "LANDMARK_NAMES", "RenderOutput",
    "SyntheticConfig", "build_synthetic", "captions", "landmarks_2d", "landmarks_3d", "parse_holdout",
    "part_phrases", "plan_image", "sample_attributes",
]  # fmt: skip
