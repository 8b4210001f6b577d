"""The determinism matrix (issue 7): does a stream made under one set-up decode to exactly the encoder's
symbols under another? For every shipped model family, encoder threads × decoder threads × batch
(× device when a GPU is present: run this script on the lent GPU machine for the CPU ↔ GPU cells).

A cell says "bit-exact: yes" when the decoder rebuilds every latent (codecs) or token id (tokenizers)
exactly as the encoder had it. (The synthesis networks after that are float, as in every learned
codec: pixels may differ in the last bit of a float, which is below the uint8 output's resolution.)

    python benchmarks/determinism.py [--device cuda]
"""
# ruff: noqa: E402 (warnings are filtered before the imports that raise them)

from __future__ import annotations

import argparse
import itertools
import warnings

warnings.filterwarnings("ignore", category=FutureWarning)

import numpy as np
import torch
from _common import write_json

from vcodec import registry, zoo
from vcodec.eval.datasets import development_clips, development_images
from vcodec.threads import torch_threads

THREADS = (1, 2)


def images(size: int, count: int = 4) -> torch.Tensor:
    """``count`` development images, centre ``size``² crops, as a batch."""
    crops = []
    for image in list(development_images().values())[:count]:
        h, w = image.shape[:2]
        top, left = (h - size) // 2, (w - size) // 2
        crops.append(
            torch.from_numpy(image[top : top + size, left : left + size].copy()).permute(2, 0, 1)
        )
    return torch.stack(crops).float().div(255.0)


def on_threads(threads: int, fn, *args):
    with torch_threads(threads):
        return fn(*args)


def image_codec(codec, batch: int):
    """(encode, decode) for an image codec: sections and ŷ of each image; ŷ back from the sections."""

    def encode(device):
        x = images(256).to(device)
        coded = [codec.encode_latent(im[None], 3) for im in x]
        return [(sections, latent.shape[-2:]) for sections, latent in coded], [
            latent.cpu() for _, latent in coded
        ]

    def decode(streams, device):
        return [codec.decode_latent(sections, 3, shape).cpu() for sections, shape in streams]

    return encode, decode


def video_codec(codec, batch: int):
    """(encode, decode) for the video codec: the packets and every frame's ŷ; ŷ back from the packets."""
    clip = development_clips(8)["astronaut-pan"].load()

    def encode(device):
        frames = [
            torch.from_numpy(f.copy()).permute(2, 0, 1)[None].float().div(255.0).to(device)
            for f in clip.frames
        ]
        coded = list(codec.encode_states(frames, 3, 4, 1.0))
        return [p for p, _, _ in coded], [latent.cpu() for _, latent, _ in coded]

    def decode(packets, device):
        height, width = clip.frames.shape[1:3]
        return [latent.cpu() for latent in codec.decode_states(packets, width, height, 3)]

    return encode, decode


def tokenizer(model, batch: int):
    """(encode, decode) for a tokenizer: its token containers (``batch`` inputs per call) and the ids."""
    if getattr(model.config, "architecture", "") == "causal-3d":
        clip = development_clips(9)["astronaut-pan"].load().frames[:, :64, :64]
        inputs = (
            torch.from_numpy(np.stack([clip, clip[:, ::-1]]).copy())
            .permute(0, 4, 1, 2, 3)
            .float()
            .div(255.0)
        )
    else:
        inputs = images(model.image_size)

    def encode(device):
        x = inputs.to(device)
        streams = [s for i in range(0, len(x), batch) for s in model.compress(x[i : i + batch])]
        return streams, [t.cpu() for t in model.encode(x)]

    def decode(streams, device):
        return [model.decompress_tokens(s)[0].cpu() for s in streams]

    return encode, decode


FAMILIES = {
    "image-codec": (image_codec, (1,)),
    "video-codec": (video_codec, (1,)),
    "tokenizer": (tokenizer, (1, 4)),
    "video-tokenizer": (tokenizer, (1, 2)),
}


def cells(name: str, devices: list[str]) -> tuple[str, list[dict]]:
    """Every (encoder device, threads) × (decoder device, threads) × batch cell of one shipped model."""
    models = {device: zoo.load(name, device=device) for device in devices}
    kind = registry.kind_of(models[devices[0]]).name
    family, batches = FAMILIES[kind]
    setups = list(itertools.product(devices, THREADS))
    out = []
    for batch in batches:
        for (enc_device, enc_threads), (dec_device, dec_threads) in itertools.product(
            setups, setups
        ):
            encode, _ = family(models[enc_device], batch)
            _, decode = family(models[dec_device], batch)
            with torch.inference_mode():
                streams, symbols = on_threads(enc_threads, encode, enc_device)
                decoded = on_threads(dec_threads, decode, streams, dec_device)
            exact = len(decoded) == len(symbols) and all(
                torch.equal(a, b) for a, b in zip(decoded, symbols)
            )
            out.append(
                {
                    "encoder": f"{enc_device}, {enc_threads} thread(s)",
                    "decoder": f"{dec_device}, {dec_threads} thread(s)",
                    "batch": batch,
                    "bit_exact": exact,
                }
            )
    return kind, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--device", default="cpu", help="cpu, or cuda on a GPU machine (adds CPU ↔ GPU cells)"
    )
    parser.add_argument("--models", default="all", help="comma-separated shipped names, or all")
    args = parser.parse_args()
    names = (
        [
            n for n in zoo.list_models() if zoo.shipped_info(n).kind != "token-prior"
        ]  # priors code no streams
        if args.models == "all"
        else args.models.split(",")
    )
    devices = ["cpu"] + ([args.device] if args.device != "cpu" else [])
    results = {}
    for name in names:
        kind, matrix = cells(name, devices)
        results[name] = {"kind": kind, "cells": matrix}
        for cell in matrix:
            print(name, kind, cell, flush=True)
    all_exact = all(c["bit_exact"] for r in results.values() for c in r["cells"])
    print(f"bit-exact in every cell: {'yes' if all_exact else 'NO'}")
    write_json(f"determinism-{args.device}", {"models": results, "all_bit_exact": all_exact})


if __name__ == "__main__":
    main()
