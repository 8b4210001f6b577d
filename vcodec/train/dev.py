"""Development-set metrics while a run trains: a cheap look at where its weights stand.

Image codecs: the model's own rate estimate (−log2 of its likelihoods, per pixel) and PSNR of the
rounded reconstruction, per quality, averaged over the development images. Image tokenizers: PSNR of
the centre crop reconstructed from all tokens. `vcodec export` measures real bitstreams afterwards.
Video models are evaluated at export only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vcodec.eval.datasets import development_images

_IMAGES: list[Tensor] | None = None


def _images() -> list[Tensor]:
    global _IMAGES
    if _IMAGES is None:
        _IMAGES = [
            torch.from_numpy(im).permute(2, 0, 1)[None].float() / 255
            for im in development_images().values()
        ]
    return _IMAGES


def _psnr(a: Tensor, b: Tensor) -> float:
    mse = (torch.round(a.clamp(0, 1) * 255) / 255 - b).pow(2).mean()
    return float(-10 * torch.log10(mse.clamp_min(1e-10)))


@torch.no_grad()
def codec_metrics(codec: nn.Module) -> dict:
    """Estimated bpp and PSNR per quality of an image codec on the development images."""
    device = next(codec.parameters()).device
    align = codec.alignment
    bpp, psnr = [], []
    for quality in range(1, codec.num_qualities + 1):
        rates, scores = [], []
        for image in _images():
            h, w = image.shape[-2:]
            x = F.pad(image, (0, -w % align, 0, -h % align), mode="replicate").to(device)
            out = codec(x, torch.tensor([quality], device=device))
            bits = sum(-torch.log2(lik).sum() for lik in out["likelihoods"].values())
            rates.append(float(bits) / (h * w))
            scores.append(_psnr(out["x_hat"][..., :h, :w].cpu(), image))
        bpp.append(sum(rates) / len(rates))
        psnr.append(sum(scores) / len(scores))
    summary = ", ".join(
        f"q{q + 1} {b:.3f} bpp {p:.2f} dB" for q, (b, p) in enumerate(zip(bpp, psnr))
    )
    return {"bpp": bpp, "psnr": psnr, "summary": summary}


@torch.no_grad()
def tokenizer_metrics(tokenizer: nn.Module) -> dict:
    """Reconstruction PSNR of an image tokenizer from all its tokens (centre crops)."""
    device = next(tokenizer.parameters()).device
    side = tokenizer.config.image_size
    scores = []
    for image in _images():
        h, w = image.shape[-2:]
        top, left = (h - side) // 2, (w - side) // 2
        crop = image[..., top : top + side, left : left + side]
        scores.append(_psnr(tokenizer(crop.to(device))["x_hat"].cpu(), crop))
    psnr = sum(scores) / len(scores)
    return {"psnr": psnr, "summary": f"{psnr:.2f} dB (centre {side}² crops, all tokens)"}
