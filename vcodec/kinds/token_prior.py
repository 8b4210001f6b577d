"""Token priors: autoregressive transformers over a shipped tokenizer's ids, which they name (with the
hash of what its ids mean) instead of storing; trained on bits per token."""

from __future__ import annotations

from typing import Any

from vcodec.kinds.base import Dependency, ModelKind

HELD_IN_CROPS = 1024


class TokenPriorKind(ModelKind):
    name = "token-prior"
    noun = "a token prior"
    decodes_streams = False  # a generator and a likelihood model

    # --- the tokenizer it models ------------------------------------------------------------------------------
    def dependencies(self, config: Any, record: dict | None = None) -> list[Dependency]:
        recorded = (record or {}).get("tokenizer")
        expected = recorded.get("tokens_hash") if isinstance(recorded, dict) else None
        return [Dependency("tokenizer", config.tokenizer, "tokenizer", expected)]

    def dependency_hash(self, role: str, model) -> str:
        return model.tokens_hash  # a prior is valid over any tokenizer with the same ids

    def dependency_hash_name(self, role: str) -> str:
        return "ids (the tokens hash: its weights without its own prior)"

    def shipping_record(self, model, state: dict) -> tuple[dict, dict]:
        return {
            "tokenizer": {"name": model.tokenizer.name, "tokens_hash": model.tokenizer.tokens_hash}
        }, state

    # --- training ------------------------------------------------------------------------------------------
    def objective(self, config: Any) -> type:
        from vcodec.train.objectives import TokenLikelihood

        return TokenLikelihood

    def check_training(self, config, model) -> None:
        size = model.tokenizer.image_size
        if config.crop != size:
            raise ValueError(f"crop must equal the tokenizer's image size ({size})")

    def config_from_flags(self, architecture: str, flags: dict, run_dir) -> Any:
        from vcodec.errors import VcodecError

        raise VcodecError(
            'a token prior trains from a config file ([model] architecture = "token-prior", '
            "tokenizer = NAME); see configs/"
        )

    # --- export ------------------------------------------------------------------------------------------
    def measure(self, model, name: str, description: str, config, steps: int, hardware: str):
        from pathlib import Path

        dev = prior_bits(model.tokenizer, model.prior, Path(config.data))
        return dev, _card(name, description, config, steps, hardware, dev, model)


def prior_bits(tokenizer, prior, data, crops: int | None = None) -> dict:
    """Bits per token of ``prior`` over ``tokenizer``'s ids: held in (``crops`` training crops, the
    export's fixed draw) and held out (every tile of the development images), next to log2 V and a
    static per-position prior fitted on the held-in ids."""
    import numpy as np
    import torch

    from vcodec.entropy import StaticTokenPrior
    from vcodec.eval.datasets import development_images
    from vcodec.eval.methods import tiles
    from vcodec.train.data import RandomCrops

    size = tokenizer.image_size

    def ids(images: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                tokenizer.as_indices(tokenizer.encode(images[i : i + 64])).clone()
                for i in range(0, len(images), 64)
            ]
        )

    with torch.no_grad():
        held_in = ids(RandomCrops.from_npz(data, size, seed=12345).batch(crops or HELD_IN_CROPS))
        held_out = ids(torch.cat([tiles(im, size)[0] for im in development_images().values()]))
        static = StaticTokenPrior(tokenizer.vocab_sizes, held_in.shape[1])
        static.fit(held_in)
        return {
            "bits_held_in": float(prior.bits(held_in).mean()),
            "bits_held_out": float(prior.bits(held_out).mean()),
            "static_bits_held_in": float(static.bits(held_in).mean()),
            "static_bits_held_out": float(static.bits(held_out).mean()),
            "log2_vocabulary": float(sum(np.log2(v) for v in tokenizer.vocab_sizes)),
            "held_in_sequences": held_in.shape[0],
            "held_out_sequences": held_out.shape[0],
        }


def _card(name: str, description: str, config, steps: int, hardware: str, dev: dict, model) -> str:
    from vcodec.train.export import data_note

    c = config.model
    return f"""# {name}

{description}

- Architecture: causal transformer, width {c.width}, {c.depth} layers, {c.heads} heads, over the
  {model.tokenizer.max_tokens} ids of `{model.tokenizer.name}` (vocabulary {list(model.tokenizer.vocab_sizes)}); the
  tokenizer is named with the hash of its weights (its prior aside), not stored.
- Training data: the tokenizer's ids of {data_note(config)}.
- Training: {steps} steps of batch {config.batch}, Adam lr {config.lr} (cosine to {config.final_lr}), loss: bits
  per token.
- Hardware: {hardware}.
- Use: `vcodec sample --tokenizer {model.tokenizer.name} --prior {name} -n 8 --out samples/`.

## Bits per token (log2 V = {dev["log2_vocabulary"]:.2f})

| ids | this prior | static per-position prior |
|---|---|---|
| held in ({dev["held_in_sequences"]} training crops) | {dev["bits_held_in"]:.3f} | {dev["static_bits_held_in"]:.3f} |
| held out ({dev["held_out_sequences"]} tiles of the development images) | {dev["bits_held_out"]:.3f} | {dev["static_bits_held_out"]:.3f} |
"""
