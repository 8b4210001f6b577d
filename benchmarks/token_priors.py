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
import sys
import time
from pathlib import Path

import torch
from _common import write_json

import vcodec
from vcodec.kinds.token_prior import prior_bits


def sampling_speed(tokenizer, tokens: int, batch: int = 16, repeats: int = 2) -> float:
    tokenizer.decode(tokenizer.sample(2, tokens, seed=0))  # warm-up
    start = time.perf_counter()
    for r in range(repeats):
        tokenizer.decode(tokenizer.sample(batch, tokens, seed=r))
    return batch * repeats / (time.perf_counter() - start)


def measure(name: str, data: Path, crops: int) -> dict:
    from vcodec.tokenizers.prior import TokenPriorModel

    tokenizer = vcodec.load(name)
    if isinstance(
        tokenizer, TokenPriorModel
    ):  # a standalone prior: its tokenizer, sampling from it
        tokenizer.tokenizer.prior, tokenizer = tokenizer.prior, tokenizer.tokenizer
    bits = prior_bits(tokenizer, tokenizer.prior, data, crops)
    counts = (
        (1, 4, 16, tokenizer.max_tokens)
        if len(tokenizer.token_grid) == 1
        else (tokenizer.max_tokens,)
    )
    result = {
        "vocabulary": list(tokenizer.vocab_sizes),
        "log2_vocabulary": bits["log2_vocabulary"],
        "held_in_tokens": [
            bits["held_in_sequences"],
            tokenizer.max_tokens,
            len(tokenizer.vocab_sizes),
        ],
        "held_out_tokens": [
            bits["held_out_sequences"],
            tokenizer.max_tokens,
            len(tokenizer.vocab_sizes),
        ],
        "prior_bits_held_in": bits["bits_held_in"],
        "prior_bits_held_out": bits["bits_held_out"],
        "static_bits_held_in": bits["static_bits_held_in"],
        "static_bits_held_out": bits["static_bits_held_out"],
        "images_per_s": {str(k): round(sampling_speed(tokenizer, k), 2) for k in counts},
    }
    print(
        f"{name}: log2 V {result['log2_vocabulary']:.2f}; autoregressive prior {result['prior_bits_held_in']:.2f} "
        f"(held in) / {result['prior_bits_held_out']:.2f} (held out) bits/token; static "
        f"{result['static_bits_held_in']:.2f} / {result['static_bits_held_out']:.2f}; sampling "
        + ", ".join(f"k={k}: {v} img/s" for k, v in result["images_per_s"].items()),
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
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
