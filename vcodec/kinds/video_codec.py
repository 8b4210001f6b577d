"""Video codecs: trained on the rate of predicted frames over a frozen image codec, which a shipped
checkpoint names (with the hash of its weights) instead of storing a second copy."""

from __future__ import annotations

from typing import Any

from vcodec.errors import VcodecError
from vcodec.kinds.base import Dependency, FuzzSeeds, Log, ModelKind

PIXEL = "pixel-residual"  # the architecture that codes prediction errors in pixels
IMAGE_CODEC_ROLES = ("intra", "residual")  # the image codecs a video codec may be built on


class VideoCodecKind(ModelKind):
    name = "video-codec"
    noun = "a video codec"
    media = "video"
    eval_method_type = "vcodec.eval.methods:LearnedVideoMethod"

    def rate_points(self, model: dict) -> int:
        return len(model.get("lambdas", ()))

    def check_config(self, config: Any) -> None:
        if min(config.n, config.m, len(config.lambdas)) < 1:
            raise ValueError("n, m and lambdas must be positive")

    # --- the image codec it is built on -------------------------------------------------------------------
    def dependencies(self, config: Any, record: dict | None = None) -> list[Dependency]:
        """The image codecs a checkpoint names (``intra``, and ``residual`` for a pixel-domain codec)."""
        return [
            Dependency(role, str(entry.get("name")), "image-codec", entry.get("weights_hash"))
            for role in IMAGE_CODEC_ROLES
            if isinstance(entry := (record or {}).get(role), dict)
        ]  # a role not named: the checkpoint stores that image codec's weights itself

    def shipping_record(self, model, state: dict) -> tuple[dict, dict]:
        from vcodec import zoo

        record = {}
        for role in IMAGE_CODEC_ROLES:
            codec = getattr(model, role, None)
            twin = None if codec is None else zoo.shipped_twin(codec)
            if twin is not None:
                record[role] = {"name": twin, "weights_hash": codec.weights_hash.hex()}
                state = {k: v for k, v in state.items() if not k.startswith(f"{role}.")}
        return record, state

    # --- training ------------------------------------------------------------------------------------------
    def objective(self, config: Any) -> type:
        from vcodec.train.objectives import ResidualRateDistortion, TemporalRate

        return ResidualRateDistortion if config_is_pixel(config) else TemporalRate

    def training_data(self, config, model) -> Any:
        from pathlib import Path

        from vcodec.train.data import SyntheticMotion

        return SyntheticMotion.from_npz(
            Path(config.data), config.crop, config.seed, deform=config.deform, change=config.change
        )

    def check_training(self, config, model) -> None:
        if config.crop % model.intra.alignment:
            raise ValueError(
                f"crop must be a multiple of {model.intra.alignment} for {config.model.architecture}"
            )

    def initialise(self, model, state: dict, recipe, log: Log) -> None:
        """From an image codec (its weights become the intra codec, the temporal prior starts as a copy
        of its entropy model; a pixel-domain codec's residual codec starts as a copy of it too) or from
        another video codec of the architecture (a motion predictor the init lacks keeps its identity
        start)."""
        from vcodec.train.loop import load_training_state

        if config_is_pixel(model.config):  # both image codecs from an image codec, or everything
            if any(key.startswith("residual.") for key in state):
                load_training_state(model, state)
            else:
                load_training_state(model.intra, state)
                load_training_state(model.residual, state)
            return
        prior = _part(state, "prior.")
        load_training_state(model.intra, _part(state, "intra.") if prior else state)
        if prior:
            missing, unexpected = model.prior.load_state_dict(prior, strict=False)
            if unexpected or any(not key.startswith("motion.") for key in missing):
                raise ValueError(
                    f"temporal priors differ (missing {missing[:3]}, unexpected {unexpected[:3]})"
                )
        else:
            model.prior.start_from(model.intra)

    def config_from_flags(self, architecture: str, flags: dict, run_dir) -> Any:
        """A video codec config around the image codec ``--init`` names (a started run keeps its own)."""
        from vcodec import registry, zoo
        from vcodec.train.loop import saved_config

        init_from = flags["init_from"]
        started = saved_config(run_dir) if init_from is None else None
        if started is not None:
            return started.model
        if init_from is None:
            raise VcodecError(
                "a video codec trains on an image codec's transforms: give --init IMAGE_CODEC"
            )
        c = zoo.load(init_from).config
        if c.architecture != "mean-scale-checkerboard":
            raise VcodecError(f"{init_from} is not a mean-scale-checkerboard image codec")
        config_type = registry.architecture(architecture).config_type
        return config_type(n=c.n, m=c.m, lambdas=c.lambdas, hyper_n=c.hyper_n)

    def usage(self, name: str) -> str:
        from vcodec.io.video import VIDEO_SUFFIXES

        return f"; it codes videos ({', '.join(sorted(VIDEO_SUFFIXES))}): vcodec encode CLIP OUT.vcd -m {name}"

    # --- export and evaluation ---------------------------------------------------------------------------------
    def measure(self, model, name: str, description: str, config, steps: int, hardware: str):
        """RD of the video codec on the synthetic development clips, next to its image codec all-intra."""
        from vcodec.eval.datasets import development_clips
        from vcodec.eval.methods import LearnedIntraVideoMethod, LearnedVideoMethod
        from vcodec.eval.rd import evaluate_videos

        clips = development_clips()
        (dev, intra), _ = evaluate_videos(
            [LearnedVideoMethod(name, model), LearnedIntraVideoMethod("intra", model.intra)],
            clips,
            strict=True,
        )
        dev, intra = dev["results"], intra["results"]
        dev["intra-bpp"] = intra["bpp"]
        return dev, _card(name, description, config, steps, hardware, dev, intra, clips)

    def fuzz_seeds(self, model, generator) -> FuzzSeeds:
        from fractions import Fraction

        import torch

        from vcodec.testing.fuzz import test_images, video_decoder, video_output

        base = test_images()[0][..., :32, :48]
        frames = [torch.roll(base, shifts=t, dims=-1) for t in range(4)]
        seeds = [
            b"".join(model.encode_stream(frames, 48, 32, Fraction(25), q, 2, frame_count=4))
            for q in (1, model.num_qualities)
        ]
        return FuzzSeeds(
            seeds, video_decoder(model, keep_going=True), video=True, declared=video_output(model)
        )


def config_is_pixel(config: Any) -> bool:
    return config.architecture == PIXEL


def _part(state: dict, prefix: str) -> dict:
    """The entries of a state dict under ``prefix``, with the prefix removed."""
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def _motion_note(model) -> str:
    if not model.motion_search:
        return ""
    return (
        f"\n  Coded blocks carry integer motion vectors (±{model.motion_search} pixels per 32×32), and a latent "
        f"motion\n  predictor of width {model.motion_width} moves the previous latent by them before the prior "
        f"sees it."
    )


def _data_note(config) -> str:
    turning = (
        f" {config.deform:.0%} of the clips also turn and change brightness."
        if config.deform
        else ""
    )
    changing = (
        f" {config.change:.0%} of the moving objects change what they show or enter the shot part-way."
        if config.change
        else ""
    )
    return turning + changing


def _design_lines(config, steps: int) -> str:
    """What a card says of the architecture, its training data and its training."""
    from vcodec.train.export import DATA_NOTE

    model, pairs = config.model, f"cut from {DATA_NOTE}.{_data_note(config)}"
    if config_is_pixel(model):
        return f"""- Architecture: `{model.architecture}`: I-frames are the image codec's streams (N={model.n}, M={model.m},
  {len(model.lambdas)} qualities, frozen); P-frames are a quarter-pel block motion prediction (64×64 blocks, split
  into 16×16 where it pays, ±{model.search} pixels{_pixel_note(model)}) plus the prediction error coded by a
  residual codec of the same architecture, each 64×64 block skipped or coded by rate–distortion cost.
- Training data: pairs of frames with known motion (pans, zooms, static shots, moving patches, per-frame
  noise) {pairs} The first frame passes through the intra codec; the encoder's own motion
  search gives the prediction of the second; its error is what the residual codec learns to code.
- Training: {steps} steps of batch {config.batch} ({config.crop}² crops), Adam lr {config.lr}, loss: λ·255²·MSE + bpp of
  the residual codec on the prediction errors (the intra codec stays fixed)."""
    return f"""- Architecture: `{model.architecture}` on the image codec's transforms (N={model.n},
  M={model.m}, {len(model.lambdas)} qualities, frozen); temporal prior width
  {model.temporal_width}. I-frames are the image codec's streams; P-frames code the latent under a
  prior conditioned on the previous decoded latent, with 64×64 blocks skipped when they barely change.{_motion_note(model)}
- Training data: pairs of frames with known motion (pans, zooms, static shots, moving patches, per-frame
  noise) {pairs}
- Training: {steps} steps of batch {config.batch} ({config.crop}² crops), Adam lr {config.lr}, loss: bits of the
  P-frame (the image codec stays fixed, so distortion does not change){_proxy_note(model)}."""


def _pixel_note(model) -> str:
    notes = ["overlapped block compensation"] if model.overlapped else []
    if model.quality_period:
        notes.append(f"every {model.quality_period}th P-frame a quality higher")
    return "".join(f"; {note}" for note in notes)


def _proxy_note(model) -> str:
    return ", plus a rate proxy for the motion predictor's error" if model.motion_search else ""


def _card(
    name: str,
    description: str,
    config,
    steps: int,
    hardware: str,
    dev: dict,
    intra: dict,
    clips: dict,
) -> str:
    from vcodec.eval.methods import LearnedVideoMethod

    rows = "\n".join(
        f"| {q} | {bpp:.4f} | {ibpp:.4f} | {bpp / ibpp:.0%} | {psnr:.2f} | {ipsnr:.2f} |"
        for q, bpp, ibpp, psnr, ipsnr in zip(
            dev["quality"], dev["bpp"], intra["bpp"], dev["psnr-rgb"], intra["psnr-rgb"]
        )
    )
    return f"""# {name}

{description}

{_design_lines(config, steps)}
- Hardware: {hardware}.
- Rebuild: `vcodec data prepare`, then `vcodec train configs/{name}.toml --export checkpoints/{name}` (the
  run's own config is `RUN/config.toml`).

## Measured on the synthetic development clips

{", ".join(f"{n} ({c.frames} frames, {c.size[1]}×{c.size[0]}, shift {c.shift}, noise σ {c.noise})" for n, c in clips.items())},
intra period {LearnedVideoMethod.gop}, whole-stream bpp, mean per-frame PSNR on uint8 RGB. Real clips: see
`benchmarks/RESULTS.md`.

| quality | bpp | all-intra bpp | share | PSNR-RGB (dB) | all-intra PSNR |
|---|---|---|---|---|---|
{{rows}}
""".replace("{rows}", rows)
