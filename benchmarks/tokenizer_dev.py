"""A tokenizer on the development images: quality against the number of tokens k, bytes after
entropy coding against raw ids, and images per second.

Every image_size² tile of the 8 development images (edges replicated) is coded with its first k tokens, one
token container per tile, through the same code as ``vcodec eval images`` (PSNR and MS-SSIM on the
reassembled image). ``--from-card`` reads those RD numbers from the checkpoint's config.json, where
``vcodec export`` measured them with that same code, instead of decoding every tile again. With
``--fixed NAME=CHECKPOINT:K`` (repeatable) it also evaluates tokenizers of the same architecture
trained at a single fixed K, for the nested-vs-fixed comparison. A tokenizer in an image codec's latent
space is also timed without the codec's g_a and g_s (the transformer alone). Writes
benchmarks/results/tokenizer_dev-NAME.json.

A latent tokenizer runs its codec's g_a and g_s in bfloat16 where the CPU has it natively, as users get
it; ``--codec-float32`` times the float32 networks instead. Speed: batch 16 of random images, encode,
decode, and both in turn.

    python benchmarks/tokenizer_dev.py --model NAME [--from-card] [--codec-float32] [--fixed fixed64=PATH:64]
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch

warnings.filterwarnings("ignore", category=FutureWarning)

from _common import machine, write_json  # noqa: E402

import vcodec  # noqa: E402
from vcodec.eval.datasets import development_images  # noqa: E402
from vcodec.eval.methods import TokenizerMethod, token_bytes  # noqa: E402
from vcodec.eval.rd import evaluate_images  # noqa: E402
from vcodec.precision import network_dtype  # noqa: E402


def _rate(fn, items: int, repeats: int) -> float:
    """Items per second of ``fn`` (one warm-up call first)."""
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return items * repeats / (time.perf_counter() - start)


def images_per_second(tokenizer, batch: int = 16, repeats: int = 3) -> dict[str, float]:
    """Images per second of encode, decode, and of both in turn (a round trip)."""
    x = torch.rand(batch, 3, tokenizer.image_size, tokenizer.image_size)
    ids = tokenizer.encode(x)
    return {
        "encode": _rate(lambda: tokenizer.encode(x), batch, repeats),
        "decode": _rate(lambda: tokenizer.decode(ids), batch, repeats),
        "round_trip": _rate(lambda: tokenizer.decode(tokenizer.encode(x)), batch, repeats),
    }


def latent_networks_per_second(tokenizer, batch: int = 16, repeats: int = 3) -> tuple[float, float]:
    """A latent-space tokenizer without its codec's g_a and g_s: latent grid → ids → latent grid."""
    with torch.inference_mode():
        grid = tokenizer.decoder_space(
            tokenizer.codec.g_a(torch.rand(batch, 3, tokenizer.image_size, tokenizer.image_size))
        )
    ids = tokenizer.encode_grid(grid)
    return (
        _rate(lambda: tokenizer.encode_grid(grid), batch, repeats),
        _rate(lambda: tokenizer.decode_grid(ids), batch, repeats),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--fixed", action="append", default=[], metavar="NAME=CHECKPOINT:K")
    parser.add_argument(
        "--from-card", action="store_true", help="Take the RD numbers measured at export."
    )
    parser.add_argument(
        "--codec-float32",
        action="store_true",
        help="Run a latent tokenizer's g_a and g_s in float32 (default: bfloat16 where native).",
    )
    args = parser.parse_args()
    images = development_images()
    tokenizer = vcodec.load(args.model)
    if args.codec_float32:
        tokenizer.codec_dtype = torch.float32
    methods = [] if args.from_card else [TokenizerMethod(tokenizer.name, tokenizer)]
    for spec in args.fixed:
        name, _, rest = spec.partition("=")
        path, _, k = rest.rpartition(":")
        methods.append(TokenizerMethod(name, vcodec.load(path), (int(k),)))
    summaries = evaluate_images(methods, images, strict=True)[0] if methods else []
    if args.from_card:
        card = next(i for i in vcodec.zoo.model_infos() if i.name == tokenizer.name)
        summaries.insert(0, {"name": tokenizer.name, "results": card.results["dev"]})
    results = {s["name"]: s["results"] for s in summaries}
    r = results[tokenizer.name]
    print(
        f"{tokenizer.name} on the {len(images)} development images ({tokenizer.image_size}² tiles)"
    )
    print("    k    bpp  PSNR-RGB  MS-SSIM | token bytes/tile  raw k·log2V/8  ratio")
    ratios = {}
    for i, k in enumerate(r["tokens"]):
        coded, raw = token_bytes(tokenizer, images, k)
        ratios[k] = coded / raw
        print(
            f"{k:5d} {r['bpp'][i]:6.4f} {r['psnr-rgb'][i]:8.2f} {r['ms-ssim-rgb'][i]:8.4f} | "
            f"{coded:16.2f} {raw:14.2f} {coded / raw:6.1%}"
        )
    comparison = {}
    for s in summaries[1:]:
        k = s["results"]["tokens"][0]
        gap = (
            r["psnr-rgb"][r["tokens"].index(k)] - s["results"]["psnr-rgb"][0]
            if k in r["tokens"]
            else None
        )
        comparison[s["name"]] = {
            "tokens": k,
            "psnr-rgb": s["results"]["psnr-rgb"][0],
            "nested_minus_fixed_db": gap,
        }
        print(
            f"fixed-K model {s['name']} at k={k}: {s['results']['psnr-rgb'][0]:.2f} dB "
            f"(nested − fixed: {gap:+.2f} dB)"
            if gap is not None
            else ""
        )
    speed = images_per_second(tokenizer)
    print(
        f"speed ({tokenizer.image_size}², batch 16, {machine()['torch_threads']} threads): "
        f"encode {speed['encode']:.1f} images/s, decode {speed['decode']:.1f} images/s, "
        f"both in turn {speed['round_trip']:.1f} images/s"
    )
    if hasattr(tokenizer, "codec"):
        dtype = network_dtype(torch.device("cpu"), tokenizer.codec_dtype)
        speed["codec_dtype"] = str(dtype).removeprefix("torch.")
        print(f"  g_a and g_s in {speed['codec_dtype']}")
        encode_net, decode_net = latent_networks_per_second(tokenizer)
        speed.update(encode_networks_only=encode_net, decode_networks_only=decode_net)
        print(
            f"  without the codec's g_a and g_s: encode {encode_net:.1f} images/s, "
            f"decode {decode_net:.1f} images/s"
        )
    write_json(
        f"tokenizer_dev-{tokenizer.name}",
        {
            "model": tokenizer.name,
            "images": sorted(images),
            "results": results,
            "coded_over_raw": ratios,
            "nested_vs_fixed": comparison,
            "images_per_second": speed,
        },
    )


if __name__ == "__main__":
    main()
