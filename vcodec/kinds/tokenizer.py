"""Image tokenizers: trained on reconstruction at their fixed input size, shipped with a token prior
fitted on their own tokens, measured per token count on tiles of the development images."""

from __future__ import annotations

import math
from typing import Any

from vcodec.errors import VcodecError
from vcodec.kinds.base import Dependency, FuzzSeeds, ModelKind

FSQ_LEVELS = {
    256: (8, 6, 5),
    1024: (8, 5, 5, 5),
    4096: (7, 5, 5, 5, 5),
    16384: (8, 8, 8, 6, 5),
}  # Mentzer 2023
PRIOR_CROPS = 4096
# latent windows a linear start is fitted to (a 1D plan ranks 32k coefficient variances)
LINEAR_FIT_WINDOWS = 1024
PRIOR_FIT_IDS = (
    4096  # token positions per step of fitting an autoregressive prior (64 × 64 for tok1d-64)
)
PRIOR_NOTES = {
    "static": "per-position categorical (maximum likelihood by counting)",
    "autoregressive": "small causal transformer (coded through its fixed-point copy)",
}


def fsq_levels(codebook_size: int) -> tuple[int, ...]:
    """FSQ levels whose product is nearest ``codebook_size``."""
    return FSQ_LEVELS[min(FSQ_LEVELS, key=lambda v: abs(v - codebook_size))]


class CodecLatentDependency:
    """Kind hooks for models in an image codec's latent space (their config names ``codec``): the codec
    is a declared dependency, named with its weights hash, never copied into their weights."""

    def dependencies(self, config: Any, record: dict | None = None) -> list[Dependency]:
        """A latent-space tokenizer's image codec (g_a and g_s), named with its weights hash."""
        if not in_latent_space(config):
            return []
        recorded = (record or {}).get("codec")
        expected = recorded.get("weights_hash") if isinstance(recorded, dict) else None
        return [Dependency("codec", config.codec, "image-codec", expected)]

    def shipping_record(self, model, state: dict) -> tuple[dict, dict]:
        if not in_latent_space(model.config):
            return {}, state
        return {
            "codec": {"name": model.config.codec, "weights_hash": model.codec.weights_hash.hex()}
        }, state


class TokenizerKind(CodecLatentDependency, ModelKind):
    name = "tokenizer"
    noun = "an image tokenizer"
    rate_unit = "tokens"
    eval_method_type = "vcodec.eval.methods:TokenizerMethod"
    fitted_at_export = "prior."  # the token prior, fitted on the shipped weights' tokens

    def rate_points(self, model: dict) -> int:
        """Tokens: a 1D tokenizer's K, a 2D one's grid cells."""
        if "num_tokens" in model:
            return int(model["num_tokens"])
        if "codec" in model:  # a 2D tokenizer in a codec's latent space: one token per position
            from vcodec.latent_grid import STRIDE

            return (model["image_size"] // STRIDE) ** 2
        return (model["image_size"] // model["factor"]) ** 2  # zoo counts a malformed record as 0

    # --- training ------------------------------------------------------------------------------------------
    def objective(self, config: Any) -> type:
        from vcodec.train.objectives import LatentReconstruction, Reconstruction

        return LatentReconstruction if in_latent_space(config) else Reconstruction

    def training_data(self, config, model) -> Any:
        """Random crops of the training photos; for a latent-space tokenizer, windows of its codec's
        latents of them, analysed once and cached next to the photo cache."""
        if not in_latent_space(config.model):
            return super().training_data(config, model)
        from pathlib import Path

        from vcodec.train.latents import LatentWindows

        data = Path(config.data)
        cache = data.with_name(f"{data.stem}.latents-{config.model.codec}-{config.crop}.pt")
        analysis = model.codec.g_a
        windows = LatentWindows.from_config(
            config, analysis, next(analysis.parameters()).device, cache
        )
        # a linear start (latent-1d, latent-2d) is fitted here, once, to many windows
        if not bool(getattr(model, "linear_fitted", True)):
            from vcodec.latent_grid import STRIDE
            from vcodec.tokenizers.latent import fit_linear_start

            fit_linear_start(model, windows.sample(LINEAR_FIT_WINDOWS, config.seed), STRIDE)
        return windows

    def check_training(self, config, model) -> None:
        if config.crop != model.image_size:
            raise ValueError(f"crop must equal the tokenizer's image size ({model.image_size})")

    def development_metrics(self, model):
        from vcodec.train.dev import tokenizer_metrics

        return tokenizer_metrics(model)

    def config_from_flags(self, architecture: str, flags: dict, run_dir) -> Any:
        """A tokenizer config from the command line's few knobs (the rest are the architecture's defaults)."""
        from vcodec import registry

        size, tokens, quantizer, codebook_size = (
            flags["crop"],
            flags["tokens"],
            flags["quantizer"],
            flags["codebook_size"],
        )
        options = {
            "vq": {"codebook_size": codebook_size},
            "lfq": {"codebook_size": codebook_size},
            "factorized-vq": {"codebook_sizes": (codebook_size, codebook_size)},
            "fsq": {"levels": fsq_levels(codebook_size)},
        }
        config_type = registry.architecture(architecture).config_type
        if "num_tokens" not in config_type.__dataclass_fields__ and architecture != "conv-2d":
            raise VcodecError(f"a {architecture} tokenizer trains from a config file; see configs/")
        try:
            if architecture == "conv-2d":  # --tokens is the grid: (image_size / factor)² cells
                side = math.isqrt(tokens)
                if side * side != tokens or size % side:
                    raise ValueError(
                        "a 2D tokenizer needs --tokens = (crop / factor)², e.g. 256 for crop 128, factor 8"
                    )
                return config_type(
                    image_size=size,
                    factor=size // side,
                    quantizer=quantizer,
                    quantizer_options=options[quantizer],
                )
            return config_type(
                image_size=size,
                num_tokens=tokens,
                quantizer=quantizer,
                quantizer_options=options[quantizer],
                nested_dropout=flags["nested_dropout"],
            )
        except ValueError as err:
            raise VcodecError(str(err)) from None

    # --- the command line ---------------------------------------------------------------------------------
    def image_compressor(self, model, quality: int | None, num_tokens: int | None, effort: int = 0):
        """Token containers of the first ``num_tokens`` tokens; other images are scaled and centre-cropped
        to the tokenizer's input size."""
        from vcodec.io.images import load_square

        if effort:
            raise VcodecError(
                f"{model.name} is a tokenizer: --effort is for image and video codecs"
            )

        try:
            k = model.check_num_tokens(num_tokens)
        except ValueError as err:
            raise VcodecError(str(err)) from None
        size = model.image_size

        def compress(path):
            return (
                model.compress(load_square(path, size, "crop"), num_tokens=k)[0],
                size * size,
                f"{size}×{size}, {k} tokens",
            )

        return compress

    def decode_image(self, model, stream: bytes):
        from vcodec.entropy.container import Container

        return Container.from_bytes(stream), model.decompress(stream)

    # --- export and evaluation ---------------------------------------------------------------------------------
    def prepare_export(self, model, config) -> None:
        """Fit the token prior on the tokens of the weights as shipped, then round the prior's own weights."""
        from pathlib import Path

        from vcodec.zoo import prepare_for_shipping

        fit_token_prior(model, Path(config.data))
        prepare_for_shipping(model)

    def measure(self, model, name: str, description: str, config, steps: int, hardware: str):
        from vcodec.eval.datasets import development_images
        from vcodec.eval.methods import TokenizerMethod, token_bytes
        from vcodec.eval.rd import evaluate_images

        images = development_images()
        (dev,), _ = evaluate_images([TokenizerMethod(name, model)], images, strict=True)
        dev = dev["results"]
        dev["bits_per_token"] = [token_bytes(model, images, k)[0] * 8 / k for k in dev["tokens"]]
        return dev, _card(name, description, config, steps, hardware, dev, model.vocab_sizes)

    def fuzz_seeds(self, model, generator) -> FuzzSeeds:
        import torch

        size = model.image_size
        seeds = model.compress(torch.rand(2, 3, size, size, generator=generator))
        if len(model.token_grid) == 1:
            seeds += model.compress(torch.rand(1, 3, size, size, generator=generator), num_tokens=4)
        return FuzzSeeds(seeds, model.decompress)  # always an image_size² image


def in_latent_space(config: Any) -> bool:
    """Whether a tokenizer config works in an image codec's latent space (it names the codec)."""
    return isinstance(getattr(config, "codec", None), str)


def fit_token_prior(tokenizer, data, crops: int | None = None, batch: int = 64) -> None:
    """Fit the tokenizer's prior to the tokens of ``crops`` training crops (fixed seed): counts for the
    static prior, maximum-likelihood training for the autoregressive one. Plain crops, not the
    tokenizer's 1–4× shrunk windows: a prior fitted on those coded the development and held-out tiles
    in more bits at every k, up to 5 points of the raw ids (benchmarks/RESULTS.md, issue 24)."""
    import torch
    from tqdm import tqdm

    from vcodec.train.data import RandomCrops

    source = RandomCrops.from_npz(data, tokenizer.image_size, seed=12345)
    batches = range(max(1, (crops or PRIOR_CROPS) // batch))
    with torch.no_grad():
        indices = torch.cat(
            [
                tokenizer.as_indices(tokenizer.encode(source.batch(batch)))
                for _ in tqdm(batches, desc="tokens for the prior", unit="batch", leave=False)
            ]
        )
    if tokenizer.config.prior == "autoregressive":  # as many ids per step, whatever the length
        batch = max(1, PRIOR_FIT_IDS // indices.shape[1])
        tokenizer.prior.fit(indices, batch=batch, progress=True)
    else:
        tokenizer.prior.fit(indices)


def _loss(config) -> str:
    """What a tokenizer's card calls its reconstruction loss."""
    if in_latent_space(config.model):
        return (
            f"pixel MSE through `{config.model.codec}`'s frozen g_s, linearised (the latent error under "
            "the Gram kernel of g_s's impulse responses)"
        )
    return "MSE"


def codec_line(config) -> str:
    """A latent-space tokenizer's card names the codec it needs (installed, with the same weights)."""
    if not in_latent_space(config.model):
        return ""
    return (
        f"\n- Needs the image codec `{config.model.codec}` (its g_a and g_s): config.json names it with "
        "its weights hash, and loading fails with a clear error if it is missing or differs."
    )


def _card(
    name: str,
    description: str,
    config,
    steps: int,
    hardware: str,
    dev: dict,
    vocab_sizes: tuple[int, ...],
) -> str:
    import numpy as np

    from vcodec.train.export import data_note, extra_terms, schedule_notes

    model = config.model
    vocab_bits = float(np.log2(np.prod(vocab_sizes)))
    rows = "\n".join(
        f"| {k} | {bpp:.4f} | {bits:.2f} | {psnr:.2f} | {msssim:.4f} |"
        for k, bpp, bits, psnr, msssim in zip(
            dev["tokens"], dev["bpp"], dev["bits_per_token"], dev["psnr-rgb"], dev["ms-ssim-rgb"]
        )
    )
    return f"""# {name}

{description}

- Architecture: `{model.architecture}`: {model.summary()}.{codec_line(config)}
- Training data: {data_note(config)}.
- Training: {steps} steps of batch {config.batch}, Adam lr {config.lr} (cosine to {config.final_lr}), loss {_loss(config)}
  + quantizer loss{extra_terms(config)} (1D tokenizers: the token tail dropped at a random length){schedule_notes(config)}.
- Token prior: {PRIOR_NOTES[model.prior]}, fitted on the tokens of {PRIOR_CROPS} training crops.
- Hardware: {hardware}.
- Rebuild: `vcodec data prepare`, then `vcodec train configs/{name}.toml --export checkpoints/{name}` (the
  run's own config is `RUN/config.toml`).

## Measured on the development images (every {model.image_size}² tile coded with its first k tokens)

Images: skimage astronaut, coffee, chelsea, rocket, motorcycle (left), hubble crop 512²; sklearn china,
flower (lossy sources: development numbers, not Kodak). bpp counts every byte of every tile's container;
bits/token: the range-coded ids per token (raw ids: {vocab_bits:.2f} bits; each tile's stream ends on a
whole byte).

| tokens k | bpp | bits/token | PSNR-RGB (dB) | MS-SSIM-RGB |
|---|---|---|---|---|
{rows}
"""
