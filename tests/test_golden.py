"""Golden streams: every shipped checkpoint writes exactly the bytes, and decodes exactly the pixels,
that it wrote when ``tests/data/golden.json`` was recorded on this kind of CPU. A refactor that changes
one byte of a stream or one decoded pixel fails here.

The analysis and synthesis transforms are float networks whose last bits depend on the CPU's
kernels (and so do the bytes an encoder writes), so records are kept per CPU and torch version; on a
CPU without records the tests skip and say how to add them. Only the entropy decoding is exact
everywhere, and tests/test_determinism.py checks that part across thread counts and batch sizes.

Regenerate only for a deliberate format or weights change, or to add this CPU:
``python tests/test_golden.py --write`` (replaces this CPU's records, keeps the others).
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import vcodec
from vcodec import zoo
from vcodec.eval.datasets import development_images

GOLDEN = Path(__file__).parent / "data" / "golden.json"
TOKEN_SIZE_CROP = 256  # tokenizer inputs: a centre crop of each development image, resized


def cpu_signature() -> str:
    """What decides the float kernels' last bits: architecture, CPU model and torch version."""
    fields = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    cpu = fields.get("model name") or platform.processor() or "unknown CPU"
    family = (
        f" (family {fields['cpu family']}, model {fields.get('model', '?')})"
        if "cpu family" in fields
        else ""
    )
    return f"{platform.machine()} {cpu}{family}, torch {torch.__version__}"


def digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big") + part)
    return h.hexdigest()[:24]


def pixels(x: torch.Tensor) -> bytes:
    """Decoded floats as the uint8 an image writer stores."""
    return (x.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).numpy().tobytes()


def as_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255


def tokenizer_input(image: np.ndarray, size: int) -> torch.Tensor:
    h, w = image.shape[:2]
    side = min(h, w)
    crop = as_tensor(image[(h - side) // 2 : (h + side) // 2, (w - side) // 2 : (w + side) // 2])
    return torch.nn.functional.interpolate(crop, size=(size, size), mode="area")


def moving_clip(
    image: np.ndarray, frames: int, height: int = 64, width: int = 96, step: int = 3
) -> torch.Tensor:
    """frames×3×H×W: a window panning right and down across ``image`` (a deterministic test clip)."""
    x = as_tensor(image)[0]
    return torch.stack(
        [
            x[
                :,
                40 + i * step // 2 : 40 + i * step // 2 + height,
                60 + i * step : 60 + i * step + width,
            ]
            for i in range(frames)
        ]
    )


def image_codec_record(codec, images: dict[str, np.ndarray]) -> dict[str, str]:
    out = {}
    for i, (name, image) in enumerate(sorted(images.items())):
        quality = 1 + i % codec.num_qualities  # every quality, across the images
        data = codec.compress(as_tensor(image), quality=quality)
        out[f"{name}@q{quality}"] = digest(data, pixels(codec.decompress(data)))
    refinements = codec.max_quality - codec.num_qualities
    for i, name in enumerate(sorted(images)[:refinements]):  # each residual-layer quality once
        quality = codec.num_qualities + 1 + i
        data = codec.compress(as_tensor(images[name][:128, :192]), quality=quality)
        out[f"{name}-crop@q{quality}"] = digest(data, pixels(codec.decompress(data)))
    return out


def video_codec_record(codec, image: np.ndarray) -> dict[str, str]:
    clip = moving_clip(image, frames=6)
    out = {}
    for quality in (1, codec.num_qualities):
        packets = list(codec.encode(iter(clip), quality=quality, intra_period=4))
        frames = codec.decode(iter(packets), clip.shape[-1], clip.shape[-2], quality)
        out[f"pan6@q{quality}"] = digest(
            *(p.to_bytes() for p in packets), *(pixels(f) for f in frames)
        )
    return out


def tokenizer_record(tok, images: dict[str, np.ndarray]) -> dict[str, str]:
    batch = torch.cat([tokenizer_input(images[n], tok.image_size) for n in sorted(images)])
    counts = (None,) if len(tok.token_grid) > 1 else (1, tok.max_tokens // 4, None)
    out = {}
    for count in counts:
        streams = tok.compress(batch, num_tokens=count)
        decoded = [pixels(tok.decompress(s)) for s in streams]
        out[f"dev@{count or tok.max_tokens}"] = digest(*streams, *decoded)
    return out


def video_tokenizer_record(tok, image: np.ndarray) -> dict[str, str]:
    s, t = tok.config.spatial_factor, tok.config.temporal_factor
    clip = moving_clip(image, frames=1 + 2 * t, height=4 * s, width=6 * s).permute(1, 0, 2, 3)[None]
    (stream,) = tok.compress(clip)
    return {"pan": digest(stream, pixels(tok.decompress(stream)))}


def token_prior_record(prior, images: dict[str, np.ndarray]) -> dict[str, str]:
    tok = prior.tokenizer
    batch = torch.cat([tokenizer_input(images[n], tok.image_size) for n in sorted(images)])
    ids = tok.as_indices(tok.encode(batch))
    streams = [prior.prior.compress(t) for t in ids]
    decoded = [prior.prior.decompress(s, ids.shape[1]).numpy().tobytes() for s in streams]
    return {"dev-ids": digest(*streams, *decoded)}


def record(name: str, images: dict[str, np.ndarray]) -> dict[str, str]:
    """What checkpoint ``name`` writes and decodes, as digests."""
    kind = zoo.shipped_info(name).kind
    model = vcodec.load(name)
    if kind == "image-codec":
        return image_codec_record(model, images)
    if kind == "video-codec":
        return video_codec_record(model, images["astronaut"])
    if kind == "tokenizer":
        return tokenizer_record(model, images)
    if kind == "video-tokenizer":
        return video_tokenizer_record(model, images["astronaut"])
    return token_prior_record(model, images)


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    return development_images()


def all_records() -> dict[str, dict]:
    """{CPU signature: {model: record}} from tests/data/golden.json."""
    return json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}


@pytest.fixture(scope="module")
def golden() -> dict:
    machine = cpu_signature()
    records = all_records()
    if machine not in records:
        pytest.skip(
            f"no golden records for this CPU ({machine}; recorded: {sorted(records) or 'none'}): "
            "add them with `python tests/test_golden.py --write`"
        )
    return records[machine]


def test_every_shipped_checkpoint_has_a_golden_record(golden):
    assert sorted(golden) == sorted(zoo.list_models())


@pytest.mark.parametrize("name", zoo.list_models())
def test_shipped_checkpoint_writes_and_decodes_golden_bytes(name, images, golden):
    torch.set_num_threads(2)
    assert record(name, images) == golden[name]


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(
            "usage: python tests/test_golden.py --write   (records what the shipped checkpoints write now)"
        )
    torch.set_num_threads(2)
    dev = development_images()
    result = {}
    for model_name in zoo.list_models():
        result[model_name] = record(model_name, dev)
        print(model_name, len(result[model_name]), "streams", flush=True)
    records = all_records()
    records[cpu_signature()] = result
    GOLDEN.write_text(json.dumps(records, indent=1, sort_keys=True) + "\n")
    print(f"{GOLDEN}: records for {cpu_signature()}")
