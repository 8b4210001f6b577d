"""Token priors as likelihood models and as generators, for each shipped image tokenizer.

- bits/token of the shipped (autoregressive) prior on held-in tokens (random crops of the training
  photos, the prior's own data: a fresh draw, seed 12345 as at export) and held-out tokens (every
  128² tile of the development images), against log2(vocabulary) and against a static per-position
  prior fitted by counting on the same held-in tokens;
- sampling speed, images per second (sampling + decoding, batch 16), at several token counts.

    python benchmarks/token_priors.py [--data data/photos.npz] [--crops 2048]
        [--models tok1d-64,vq2d-f8,prior-tok1d-64]   (a token-prior name: its tokenizer with that prior)
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

import vcodec
from _common import write_json
from vcodec.entropy import StaticTokenPrior
from vcodec.eval.datasets import development_images
from vcodec.eval.methods import tiles
from vcodec.train.data import RandomCrops


@torch.no_grad()
def ids_of(tokenizer, images: torch.Tensor, batch: int = 64) -> torch.Tensor:
    return torch.cat([tokenizer.as_indices(tokenizer.encode(images[i : i + batch]))
                      for i in range(0, len(images), batch)])


@torch.no_grad()
def bits_per_token(prior, ids: torch.Tensor) -> float:
    return float(torch.cat([prior.bits(ids[i : i + 256]) for i in range(0, len(ids), 256)]).mean())


def sampling_speed(tokenizer, tokens: int, batch: int = 16, repeats: int = 2) -> float:
    tokenizer.decode(tokenizer.sample(2, tokens, seed=0))  # warm-up
    start = time.perf_counter()
    for r in range(repeats):
        tokenizer.decode(tokenizer.sample(batch, tokens, seed=r))
    return batch * repeats / (time.perf_counter() - start)


def measure(name: str, data: Path, crops: int) -> dict:
    from vcodec.tokenizers.prior import TokenPriorModel

    tokenizer = vcodec.load(name)
    if isinstance(tokenizer, TokenPriorModel):  # a standalone prior: its tokenizer, sampling from it
        tokenizer.tokenizer.prior, tokenizer = tokenizer.prior, tokenizer.tokenizer
    size = tokenizer.image_size
    held_in = ids_of(tokenizer, RandomCrops.from_npz(data, size, seed=12345).batch(crops))
    held_out = ids_of(tokenizer, torch.cat([tiles(im, size)[0] for im in development_images().values()]))
    static = StaticTokenPrior(tokenizer.vocab_sizes, held_in.shape[1])
    static.fit(held_in)
    counts = (1, 4, 16, tokenizer.max_tokens) if len(tokenizer.token_grid) == 1 else (tokenizer.max_tokens,)
    result = {
        "vocabulary": list(tokenizer.vocab_sizes), "log2_vocabulary": sum(math.log2(v) for v in tokenizer.vocab_sizes),
        "held_in_tokens": list(held_in.shape), "held_out_tokens": list(held_out.shape),
        "prior_bits_held_in": bits_per_token(tokenizer.prior, held_in),
        "prior_bits_held_out": bits_per_token(tokenizer.prior, held_out),
        "static_bits_held_in": bits_per_token(static, held_in),
        "static_bits_held_out": bits_per_token(static, held_out),
        "images_per_s": {str(k): round(sampling_speed(tokenizer, k), 2) for k in counts},
    }
    print(f"{name}: log2 V {result['log2_vocabulary']:.2f}; autoregressive prior {result['prior_bits_held_in']:.2f} "
          f"(held in) / {result['prior_bits_held_out']:.2f} (held out) bits/token; static "
          f"{result['static_bits_held_in']:.2f} / {result['static_bits_held_out']:.2f}; sampling "
          + ", ".join(f"k={k}: {v} img/s" for k, v in result["images_per_s"].items()), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("data/photos.npz"))
    parser.add_argument("--crops", type=int, default=2048)
    parser.add_argument("--models", default="tok1d-64,vq2d-f8,prior-tok1d-64")
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"{args.data}: no training cache (run `vcodec data prepare {args.data}`)")
    torch.manual_seed(0)
    results = {name: measure(name, args.data, args.crops) for name in args.models.split(",")}
    write_json("token_priors", {"data": args.data.name, "crops": args.crops, "results": results})


if __name__ == "__main__":
    main()
