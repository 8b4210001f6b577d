"""Image codecs: variable-rate, trained on rate–distortion, measured per quality on the development images."""

from __future__ import annotations

from typing import Any

from vcodec.errors import VcodecError
from vcodec.kinds.base import FuzzSeeds, Log, ModelKind


class ImageCodecKind(ModelKind):
    name = "image-codec"
    noun = "an image codec"

    def rate_points(self, model: dict) -> int:
        """The learned qualities and the residual layer's above them."""
        from vcodec.defaults import REFINEMENT_MAX_ERRORS

        return len(model.get("lambdas", ())) + len(REFINEMENT_MAX_ERRORS)

    def check_config(self, config: Any) -> None:
        if min(config.n, config.m, config.side_channels, len(config.lambdas)) < 1:
            raise ValueError("n, m, hyper_n and lambdas must be positive")

    # --- training ------------------------------------------------------------------------------------------
    def objective(self, config: Any) -> type:
        from vcodec.train.objectives import RateDistortion

        return RateDistortion

    def check_training(self, config, model) -> None:
        if config.crop % model.alignment:
            raise ValueError(
                f"crop must be a multiple of {model.alignment} for {config.model.architecture}"
            )

    def initialise(self, model, state: dict, recipe, log: Log) -> None:
        """The init's weights; widened first when [model] m or n is larger (function-preserving),
        with its rate points moved to [model] lambdas when those differ."""
        from vcodec.train.loop import load_training_state

        load_training_state(model, _with_rate_points(_widened(state, recipe, log), recipe, log))

    def development_metrics(self, model):
        from vcodec.train.dev import codec_metrics

        return codec_metrics(model)

    def config_from_flags(self, architecture: str, flags: dict, run_dir) -> Any:
        from vcodec import registry

        config_type = registry.architecture(architecture).config_type
        return config_type(architecture, n=flags["n"], m=flags["m"])

    # --- the command line ---------------------------------------------------------------------------------
    def image_compressor(self, model, quality: int | None, num_tokens: int | None, effort: int = 0):
        from tqdm import tqdm

        from vcodec.codecs.base import check_effort
        from vcodec.defaults import EFFORT_ITERATIONS
        from vcodec.io.images import GREY_MODES, load_image

        quality = model.check_quality(quality if quality is not None else model.default_quality)
        check_effort(effort)

        def compress(path):
            image, mode = load_image(path)
            h, w = image.shape[-2:]
            with tqdm(
                total=EFFORT_ITERATIONS[effort],
                desc="refine",
                unit="step",
                leave=False,
                disable=not effort,
            ) as bar:
                data = model.compress(
                    image,
                    quality=quality,
                    grey=mode in GREY_MODES,
                    effort=effort,
                    progress=lambda step: bar.update(step - bar.n),
                )
            return (
                data,
                h * w,
                f"{w}×{h}, quality {quality}" + (f", effort {effort}" if effort else ""),
            )

        return compress

    def decode_image(self, model, stream: bytes):
        container = model.parse(stream)
        return container, model.decode_container(container)

    # --- export and evaluation ---------------------------------------------------------------------------------
    def measure(self, model, name: str, description: str, config, steps: int, hardware: str):
        from vcodec.eval.datasets import development_images
        from vcodec.eval.methods import LearnedImageMethod
        from vcodec.eval.rd import evaluate_images

        (dev,), _ = evaluate_images(
            [LearnedImageMethod(name, model)], development_images(), strict=True
        )
        return dev["results"], _card(name, description, config, steps, hardware, dev["results"])

    def eval_method(self, label: str, model, video: bool) -> Any:
        from vcodec.eval.methods import LearnedImageMethod, LearnedIntraVideoMethod

        return (
            LearnedIntraVideoMethod(label + "-intra", model)
            if video
            else LearnedImageMethod(label, model)
        )

    def fuzz_seeds(self, model, generator) -> FuzzSeeds:
        import torch

        from vcodec.testing.fuzz import image_output, test_images

        seeds = [
            model.compress(x, quality=q)
            for x in (test_images()[0], torch.rand(1, 3, 24, 70, generator=generator))
            for q in (1, model.num_qualities, model.max_quality)  # the last with a residual layer
        ]
        return FuzzSeeds(seeds, model.decompress, declared=image_output(model))


def _widened(state: dict, recipe, log: Log) -> dict:
    from vcodec.train.widen import latent_width, widen_latent

    model, channels = recipe.train.model, latent_width(state)
    if channels is not None and channels < model.m:
        log(
            f"widening {recipe.init}'s latent from M={channels} to M={model.m} (same function: the "
            f"new channels start at zero)"
        )
        state = widen_latent(state, model.m, seed=recipe.train.seed)
    return _widened_transforms(state, recipe, log)


def _widened_transforms(state: dict, recipe, log: Log) -> dict:
    from vcodec.train.widen import hyper_width, transform_width, widen_state

    model, width = recipe.train.model, transform_width(state)
    if width is None or width >= model.n:
        return state
    side = hyper_width(state)
    if side is not None and side != model.side_channels:
        raise VcodecError(
            f"init {recipe.init} has a hyper path of width {side}: set [model] "
            f"hyper_n = {side} to widen only its image transforms"
        )
    log(
        f"widening {recipe.init} from N={width} to N={model.n} (same function, new channels copy old ones)"
    )
    return widen_state(state, model.n, seed=recipe.train.seed)


def _with_rate_points(state: dict, recipe, log: Log) -> dict:
    from vcodec.train.launch import init_lambdas
    from vcodec.train.widen import gain_rows, rate_points

    model = recipe.train.model
    if gain_rows(state) is None:
        return state
    own = init_lambdas(recipe)
    if own == tuple(model.lambdas):
        return state
    log(
        f"rate points of {recipe.init} (λ {', '.join(map(str, own))}) moved to λ "
        f"{', '.join(map(str, model.lambdas))}: each starts from the init's nearest λ"
    )
    return rate_points(state, own, tuple(model.lambdas))


def _card(name: str, description: str, config, steps: int, hardware: str, dev: dict) -> str:
    from vcodec.train.export import data_note, schedule_notes

    rows = "\n".join(
        f"| {q} | {lam} | {bpp:.3f} | {psnr:.2f} | {msssim:.4f} |"
        for q, lam, bpp, psnr, msssim in zip(
            dev["quality"], config.model.lambdas, dev["bpp"], dev["psnr-rgb"], dev["ms-ssim-rgb"]
        )
    )
    return f"""# {name}

{description}

- Architecture: `{config.model.architecture}`, N={config.model.n}, M={config.model.m}{_hyper_width(config.model)}; one variable-rate
  model (gain units), {len(config.model.lambdas)} qualities.
- Training data: {data_note(config)}.
- Training: {steps} steps of batch {config.batch}, Adam lr {config.lr} (cosine to {config.final_lr}),
  {_objective(config)}{schedule_notes(config)}.
- Hardware: {hardware}.
- Rebuild: `vcodec data prepare`, then `vcodec train configs/{name}.toml --export checkpoints/{name}` (the
  run's own config is `RUN/config.toml`).

## Measured rate–distortion (development images, whole-container bpp, PSNR on uint8 RGB)

Images: skimage astronaut, coffee, chelsea, rocket, motorcycle (left), hubble crop 512²; sklearn china,
flower. All are lossy sources: these are development numbers, not Kodak numbers.

| quality | λ | bpp | PSNR-RGB (dB) | MS-SSIM-RGB |
|---|---|---|---|---|
{rows}
"""


def _objective(config) -> str:
    """The loss a run trained, in words."""
    from vcodec.latent_grid import STRIDE

    if config.latent_rate:
        return (
            f"loss: bpp of g_a's latents of the photos, cached once ({config.crop // STRIDE}² windows; "
            "with g_a and the y gains frozen the distortion is fixed), quality drawn per sample"
        )
    distortion = "λ·1250·(1 − MS-SSIM)" if config.loss.distortion == "ms-ssim" else "λ·255²·MSE"
    return f"loss {distortion} + bpp with λ drawn per sample from the quality levels"


def _hyper_width(model) -> str:
    """ ", hyper path N=…" when the hyper transforms are narrower or wider than the image transforms."""
    hyper_n = getattr(model, "hyper_n", None)
    return "" if hyper_n is None or hyper_n == model.n else f", hyper path N={hyper_n}"
