"""Encode/decode time of a 768×512 image: our default model against CompressAI's bmshj2018-hyperprior.

The image is a 512×768 crop of skimage's hubble_deep_field. CompressAI's model is untrained here (no
weights can be downloaded): its networks cost what trained ones cost, but its untrained scales send
many symbols through rANS's slow escape path, so its full compress/decompress times are inflated.
The script therefore also times one forward pass of all networks (weights do not change its cost)
for both models. Targets (issue 3): each ≤ 0.5 s and our/compressai ratio ≤ 1.0.

    python benchmarks/speed.py [--model NAME] [--quality Q] [--repeats 5]
"""

from __future__ import annotations

import argparse
import warnings

import torch

warnings.filterwarnings("ignore", category=FutureWarning)

import skimage.data  # noqa: E402
from _common import median_seconds, write_json  # noqa: E402
from compressai.zoo import bmshj2018_hyperprior  # noqa: E402

import vcodec  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=vcodec.DEFAULT_MODEL)
    parser.add_argument("--quality", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    image = (
        torch.from_numpy(skimage.data.hubble_deep_field()[:512, :768].copy())
        .permute(2, 0, 1)[None]
        .float()
        / 255
    )
    ours = vcodec.load(args.model)
    quality = args.quality or ours.default_quality
    data = ours.compress(image, quality=quality)
    ours_enc = median_seconds(lambda: ours.compress(image, quality=quality), args.repeats)
    ours_dec = median_seconds(lambda: ours.decompress(data), args.repeats)
    with torch.inference_mode():
        ours_net = median_seconds(lambda: ours(ours.pad(image), quality), args.repeats)

    reference = bmshj2018_hyperprior(quality=3, pretrained=False).eval()
    reference.update(force=True)
    with torch.inference_mode():
        ref_out = reference.compress(image)
        ref_enc = median_seconds(lambda: reference.compress(image), args.repeats)
        ref_dec = median_seconds(
            lambda: reference.decompress(ref_out["strings"], ref_out["shape"]), args.repeats
        )
        ref_net = median_seconds(lambda: reference(image), args.repeats)

    result = {
        "image": "skimage hubble_deep_field crop 512x768",
        "model": args.model,
        "quality": quality,
        "bytes": len(data),
        "ours_encode_s": ours_enc,
        "ours_decode_s": ours_dec,
        "compressai_bmshj2018_hyperprior_q3_encode_s": ref_enc,
        "compressai_bmshj2018_hyperprior_q3_decode_s": ref_dec,
        "encode_ratio": ours_enc / ref_enc,
        "decode_ratio": ours_dec / ref_dec,
        "ours_networks_forward_s": ours_net,
        "compressai_networks_forward_s": ref_net,
        "networks_ratio": ours_net / ref_net,
    }
    print(
        f"ours ({args.model}, q{quality}):   encode {ours_enc:.3f} s   decode {ours_dec:.3f} s   ({len(data):,} bytes)"
    )
    print(f"compressai bmshj2018-hyperprior: encode {ref_enc:.3f} s   decode {ref_dec:.3f} s")
    print(
        f"ratio ours/compressai:           encode {result['encode_ratio']:.2f}    decode {result['decode_ratio']:.2f}"
    )
    print(
        f"all networks, one forward pass:  ours {ours_net:.3f} s   compressai {ref_net:.3f} s   ratio {ours_net / ref_net:.2f}"
    )
    write_json("speed", result)


if __name__ == "__main__":
    main()
