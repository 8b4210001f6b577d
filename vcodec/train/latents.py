"""Entropy-model training on cached latents.

With the analysis transform g_a and the gains frozen, the quantized latent — and so the distortion —
no longer depends on what trains: the loss is the rate alone. g_a then needs to run once per photo,
not once per step, and a step costs only the entropy model at latent resolution (1/16 of the side):
a step of 4,096 latent positions takes about as long as a pixel step of 512 (benchmarks/RESULTS.md).
This is how a new entropy model learns on a trained codec's transforms.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from vcodec.errors import VcodecError
from vcodec.io.images import atomic_path
from vcodec.latent_grid import STRIDE
from vcodec.train.data import downscale, load_photos

SCALE_STEPS = 5  # scales each photo is analysed at, between the crop scales
# what must stay as it starts for the rate to be the whole loss
FROZEN_FOR_LATENT_RATE = ("g_a", "y_gain")


def scale_steps(scales: tuple[float, float], count: int = SCALE_STEPS) -> list[float]:
    """``count`` downscale factors spaced evenly in log between the low and high crop scale."""
    low, high = scales
    if high == low:
        return [low]
    return [low * (high / low) ** (i / (count - 1)) for i in range(count)]


class LatentWindows:
    """Endless random windows (B×M×w×w, w = crop/16) of g_a's latents of the training photos.

    The photos are analysed once, on first use (so the weights a run starts from are the ones cached):
    each at :data:`SCALE_STEPS` scales between the crop scales (shrunk as the training cache is) and
    mirrored, so the windows show what the pixel crops would. A window is drawn like a crop: a photo,
    then a scale, then a place.
    """

    def __init__(
        self,
        images: list[np.ndarray],
        analysis: nn.Module,
        crop: int,
        seed: int = 0,
        scales: tuple[float, float] = (1.0, 1.0),
        device: torch.device | str = "cpu",
        cache: Path | None = None,
    ):
        if crop % STRIDE:
            raise VcodecError(f"latent-rate training needs a crop that is a multiple of {STRIDE}")
        self.images, self.analysis, self.window = images, analysis, crop // STRIDE
        self.scales, self.device = scale_steps(scales), torch.device(device)
        self.rng, self.cache = np.random.default_rng(seed), cache
        self._maps: list[list[Tensor]] | None = None  # per photo: its latent maps (C×h×w)

    @classmethod
    def from_config(
        cls, config, analysis: nn.Module, device: torch.device | str, cache: Path | None
    ) -> "LatentWindows":
        """Windows of ``analysis``'s latents of a run's training photos (``config``: its TrainConfig:
        data, crop, seed and crop scales)."""
        return cls(
            load_photos(Path(config.data)),
            analysis,
            config.crop,
            config.seed,
            config.crop_scales,
            device,
            cache=cache,
        )

    @property
    def maps(self) -> list[list[Tensor]]:
        """The latent maps, from ``cache`` when it holds these photos' under these weights (a resumed
        run skips the analysis), else analysed now and written there."""
        if self._maps is None:
            key = self._key()
            if self.cache is not None and self.cache.is_file():
                stored = torch.load(self.cache, map_location=self.device, weights_only=True)
                if stored.get("key") == key:
                    self._maps = stored["maps"]
            if self._maps is None:
                self._maps = self._analyse()
                if self.cache is not None:
                    with atomic_path(self.cache, force=True) as tmp:
                        torch.save({"key": key, "maps": self._maps}, tmp)
        return self._maps

    def _key(self) -> str:
        """What the maps depend on: the photos, g_a's weights, the scales and the window."""
        digest = hashlib.sha256(repr((self.scales, self.window)).encode())
        for image in self.images:
            digest.update(repr(image.shape).encode())
            digest.update(np.ascontiguousarray(image).data)
        for name, value in self.analysis.state_dict().items():
            digest.update(name.encode())
            digest.update(value.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()

    @torch.inference_mode()
    def _analyse(self) -> list[list[Tensor]]:
        side = self.window * STRIDE
        out = []
        for image in tqdm(self.images, desc="caching latents", unit="photo", leave=False):
            maps = []
            for scale in self.scales:
                shrunk = downscale(image, scale)
                h, w = (n // STRIDE * STRIDE for n in shrunk.shape[:2])
                if min(h, w) < side:
                    continue
                x = torch.from_numpy(np.array(shrunk[:h, :w])).to(self.device)
                x = x.permute(2, 0, 1)[None].float().div_(255.0)
                for mirrored in (x, x.flip(-1)):
                    maps.append(self.analysis(mirrored)[0].clone())
            if maps:
                out.append(maps)
        if not out:
            raise VcodecError(f"no training photo is at least {side}×{side} pixels")
        return out

    def batch(self, size: int) -> Tensor:
        """A B×M×w×w float batch of latent windows."""
        return self._draw(size, self.rng)

    def sample(self, size: int, seed: int) -> Tensor:
        """``size`` windows drawn with a generator of their own (seeded as the batches' is), so the
        batches that follow are unchanged."""
        return self._draw(size, np.random.default_rng(seed))

    def _draw(self, size: int, rng: np.random.Generator) -> Tensor:
        maps, w = self.maps, self.window
        out = []
        for _ in range(size):
            photo = maps[rng.integers(len(maps))]
            latent = photo[rng.integers(len(photo))]
            top = rng.integers(latent.shape[-2] - w + 1)
            left = rng.integers(latent.shape[-1] - w + 1)
            out.append(latent[:, top : top + w, left : left + w])
        return torch.stack(out)


def check_latent_rate(freeze: tuple[str, ...]) -> None:
    """ValueError unless what decides the quantized latent is frozen (else the rate is not the loss)."""
    missing = [m for m in FROZEN_FOR_LATENT_RATE if m not in freeze]
    if missing:
        raise ValueError(
            f"latent_rate trains on cached latents, so {', '.join(missing)} must be in [train] freeze"
        )
