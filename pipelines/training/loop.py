"""One training iteration of the text-conditioned 3D GAN, and the state it needs (DESIGN §5.1).

Per micro-batch: the generator phase (adversarial + global contrastive + D-feature contrastive +
fine-grained alignment, plus lazy density regularisation on the same tri-planes), then the discriminator
phase on the generator phase's detached fakes (adversarial + contrastive on reals, plus lazy R1 on the same
real forward pass). Gradients are accumulated over micro-batches and summed across processes before each
optimiser step, so the result depends only on the global batch. Every random draw derives from
(seed, step, micro-batch index), so a resumed run repeats an uninterrupted one exactly.
"""

from __future__ import annotations

import copy
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from pipelines.core import losses
from pipelines.core.discriminator import DualDiscriminator
from pipelines.core.generator import TriPlaneGenerator
from pipelines.errors import InvalidInputError
from pipelines.training.config import RunConfig
from pipelines.training.data import TrainingSet


@dataclass
class Distributed:
    """This process's place among `world` processes (1 = not distributed)."""

    rank: int = 0
    world: int = 1


def step_generator(seed: int, step: int, micro: int) -> torch.Generator:
    """The CPU random source of one micro-batch of one step."""
    state = np.random.SeedSequence([seed, step, micro]).generate_state(2)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


class Trainer:
    """Networks, optimisers and the iteration; `state` lists everything a checkpoint must hold."""

    def __init__(
        self,
        config: RunConfig,
        data: TrainingSet,
        encoder,
        parser,
        device: torch.device,
        distributed: Distributed | None = None,
    ) -> None:
        self.config = config
        self.data = data
        self.encoder = encoder
        self.parser = parser
        self.device = device
        self.dist = distributed or Distributed()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.train.seed)
            self.G = TriPlaneGenerator(config.generator).to(device).train()
            self.D = (
                DualDiscriminator(
                    config.discriminator, config.generator.image_resolution, config.generator.mapping.text_dim
                )
                .to(device)
                .train()
            )
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.opt_G = self._adam(
            self.G, config.train.g_lr, config.loss.density_interval if config.loss.density else 0
        )
        self.opt_D = self._adam(
            self.D, config.train.d_lr, config.loss.r1_interval if config.loss.r1_gamma else 0
        )
        self.step = 0

    def _adam(self, module: torch.nn.Module, lr: float, lazy_interval: int) -> torch.optim.Adam:
        """Adam with EG3D's lazy-regularisation correction of lr and betas (ratio k / (k + 1))."""
        ratio = lazy_interval / (lazy_interval + 1) if lazy_interval else 1.0
        betas = tuple(b**ratio for b in self.config.train.betas)
        return torch.optim.Adam(module.parameters(), lr=lr * ratio, betas=betas, eps=1e-8)

    @property
    def images_seen(self) -> int:
        return self.step * self.config.train.batch

    def schedules(self) -> tuple[float, float]:
        """(blur sigma, generator pose-conditioning swap probability) at the current step."""
        loss = self.config.loss
        kimg = self.images_seen / 1000
        blur = (
            loss.blur_init_sigma * max(1 - kimg / loss.blur_fade_kimg, 0.0)
            if loss.blur_fade_kimg > 0
            else 0.0
        )
        fade = min(kimg / loss.gpc_fade_kimg, 1.0) if loss.gpc_fade_kimg > 0 else 1.0
        return blur, 1.0 + (loss.gpc_prob_final - 1.0) * fade

    def _autocast(self):
        precision = self.config.train.precision
        if precision == "auto":
            precision = "bf16" if self.device.type == "cuda" else "fp32"
        if precision == "fp32":
            return nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def train_step(self) -> dict[str, float]:
        """One iteration over the global batch; returns the mean of each loss term over micro-batches."""
        train = self.config.train
        rounds = train.batch // (train.batch_gpu * self.dist.world)
        if rounds < 1 or rounds * train.batch_gpu * self.dist.world != train.batch:
            raise InvalidInputError(
                f"train.batch={train.batch} is not a multiple of train.batch_gpu={train.batch_gpu} "
                f"x {self.dist.world} processes"
            )
        blur, swap = self.schedules()
        do_density = self.config.loss.density > 0 and self.step % self.config.loss.density_interval == 0
        do_r1 = self.config.loss.r1_gamma > 0 and self.step % self.config.loss.r1_interval == 0
        self.opt_G.zero_grad(set_to_none=True)
        self.opt_D.zero_grad(set_to_none=True)
        totals: dict[str, float] = {}
        for r in range(rounds):
            micro = self.dist.rank * rounds + r
            generator = step_generator(train.seed, self.step, micro)
            terms = self._micro_step(generator, blur, swap, do_density, do_r1, train.batch_gpu / train.batch)
            for key, value in terms.items():
                totals[key] = totals.get(key, 0.0) + value / rounds
        self._all_reduce_gradients()
        self.opt_G.step()
        self.opt_D.step()
        self._update_ema()
        self.step += 1
        return totals

    def _micro_step(
        self, rng: torch.Generator, blur: float, swap: float, do_density: bool, do_r1: bool, scale: float
    ) -> dict[str, float]:
        loss_cfg = self.config.loss
        n = self.config.train.batch_gpu
        real = self.data.draw(n, rng, loss_cfg.fine_parts, self.device)
        cond = self.data.draw(n, rng, loss_cfg.fine_parts, self.device)  # camera + caption of the fakes
        z = torch.randn(n, self.config.generator.mapping.z_dim, generator=rng).to(self.device)
        swapped = torch.rand(n, generator=rng).to(self.device) < swap
        mapping_camera = torch.where(swapped[:, None], cond.camera.roll(1, 0), cond.camera)
        jitter = torch.Generator().manual_seed(int(torch.randint(1 << 62, (1,), generator=rng)))
        terms: dict[str, float] = {}

        # generator phase
        self.D.requires_grad_(False)
        with self._autocast():
            ws = self.G.map(z, mapping_camera, cond.text)
            planes = self.G.triplanes(ws)
            fake = self.G.render(planes, ws, cond.camera, generator=jitter)
            logits, features = self.D(fake["image"], fake["image_raw"], cond.camera, cond.text, blur)
        g_loss = self._weighted(
            terms, "G_adv", loss_cfg.adversarial, lambda: losses.generator_adversarial(logits.float())
        )
        g_loss += self._weighted(
            terms,
            "G_gc",
            loss_cfg.gc,
            lambda: losses.contrastive_loss(
                self.encoder.encode_image(fake["image"].float()),
                cond.text,
                loss_cfg.temperature,
                cond.caption_ids,
            ),
        )
        g_loss += self._weighted(
            terms,
            "G_dcontrast",
            loss_cfg.d_contrastive,
            lambda: losses.contrastive_loss(features, cond.text, loss_cfg.temperature, cond.caption_ids),
        )
        g_loss += self._weighted(
            terms, "G_fine", loss_cfg.fine, lambda: self._fine_grained(fake["image"].float(), cond)
        )
        if do_density:
            g_loss += self._weighted(
                terms,
                "G_density",
                loss_cfg.density * loss_cfg.density_interval,
                lambda: self._density(planes, rng),
            )
        (g_loss * scale).backward()
        self.D.requires_grad_(True)

        # discriminator phase (reuses the generator phase's fakes)
        real_raw = F.interpolate(real.images, size=fake["image_raw"].shape[-2:], mode="area")
        if do_r1:
            real.images.requires_grad_(True)
            real_raw.requires_grad_(True)
        with self._autocast():
            fake_logits, _ = self.D(
                fake["image"].detach(), fake["image_raw"].detach(), cond.camera, cond.text, blur
            )
            real_logits, real_features = self.D(real.images, real_raw, real.camera, real.text, blur)
        d_loss = self._weighted(
            terms,
            "D_adv",
            loss_cfg.adversarial,
            lambda: losses.discriminator_adversarial(real_logits.float(), fake_logits.float()),
        )
        d_loss += self._weighted(
            terms,
            "D_contrast",
            loss_cfg.d_contrastive,
            lambda: losses.contrastive_loss(real_features, real.text, loss_cfg.temperature, real.caption_ids),
        )
        if do_r1:
            r1_weight = loss_cfg.r1_gamma / 2 * loss_cfg.r1_interval
            d_loss += self._weighted(
                terms,
                "D_r1",
                r1_weight,
                lambda: losses.r1_penalty(real_logits.float(), [real.images, real_raw]),
            )
        (d_loss * scale).backward()
        terms["D_real"] = real_logits.float().mean().item()
        terms["D_fake"] = fake_logits.float().mean().item()
        return terms

    @staticmethod
    def _weighted(terms: dict[str, float], name: str, weight: float, compute) -> Tensor | float:
        """weight * compute(), recording the unweighted value; skipped (0) when the weight is 0."""
        if weight == 0:
            return 0.0
        value = compute()
        terms[name] = float(value.detach())
        return weight * value

    def _fine_grained(self, images: Tensor, cond) -> Tensor:
        probabilities = self.parser(images)
        return losses.fine_grained_loss(
            self.encoder.encode_image, images, probabilities, cond.parts, self.config.loss.temperature
        )

    def _density(self, planes: Tensor, rng: torch.Generator) -> Tensor:
        loss_cfg = self.config.loss
        box = self.config.generator.rendering.box_warp
        points = (torch.rand(planes.shape[0], loss_cfg.density_points, 3, generator=rng) - 0.5) * box
        return losses.density_regularization(
            lambda p: self.G.query(planes, p)[0], points.to(planes.device), loss_cfg.density_perturbation, rng
        )

    def _all_reduce_gradients(self) -> None:
        """Sum gradients over processes (each already scaled by its share of the global batch)."""
        if self.dist.world == 1:
            return
        import torch.distributed as dist

        params = [p for m in (self.G, self.D) for p in m.parameters()]
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        offset = 0
        for p in params:
            count = p.numel()
            p.grad = flat[offset : offset + count].view_as(p).clone()
            offset += count

    @torch.no_grad()
    def _update_ema(self) -> None:
        train = self.config.train
        half_life = train.ema_kimg * 1000
        if train.ema_rampup:
            half_life = min(half_life, self.images_seen * train.ema_rampup)
        beta = 0.5 ** (train.batch / max(half_life, 1e-8))
        for ema, live in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
            ema.copy_(live.detach().lerp(ema, beta))
        for ema, live in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
            ema.copy_(live)

    @torch.no_grad()
    def sample_grid(self, prompts: list[str], seeds: list[int]) -> Tensor:
        """(3, rows*R, cols*R) grid in [-1, 1] of the EMA generator: prompts in rows, seeds in columns."""
        from pipelines.generate import sample_z

        text = self.encoder.encode_text(prompts).float().to(self.device)
        rows = []
        for t in text:
            z = torch.cat([sample_z(s, self.config.generator.mapping.z_dim) for s in seeds]).to(self.device)
            camera = self.G_ema.frontal_camera(len(seeds))
            images = self.G_ema(z, camera, t[None].expand(len(seeds), -1))["image"]
            rows.append(torch.cat(list(images), dim=2))
        return torch.cat(rows, dim=1)
