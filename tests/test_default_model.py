"""The shipped default model: loads by name, codes a real photo, and its file sizes match its estimate."""

import numpy as np
import pytest
import torch

import vcodec
from vcodec.eval.metrics import psnr_rgb
from vcodec.io.images import load_image, to_uint8


@pytest.fixture(scope="module")
def codec():
    return vcodec.load()


@pytest.fixture(scope="module")
def photo(request):
    from pathlib import Path

    image, _ = load_image(Path(request.config.rootpath) / "docs" / "astronaut.png")
    return image[..., 128:320, 160:352]  # 192×192 crop keeps the test fast


def test_default_is_listed_first():
    assert vcodec.list_models()[0] == vcodec.DEFAULT_MODEL


def test_rate_rises_and_distortion_falls_with_quality(codec, photo):
    sizes, psnrs = [], []
    for quality in range(1, codec.num_qualities + 1):
        data = codec.compress(photo, quality=quality)
        sizes.append(len(data))
        psnrs.append(psnr_rgb(to_uint8(photo), to_uint8(codec.decompress(data))))
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
    assert psnrs[-1] > psnrs[0] + 2.0


@pytest.mark.parametrize("quality", [1, 4, 6])
def test_file_size_matches_the_entropy_model_estimate(codec, photo, quality):
    """Entropy-coded bytes within 1% of −log2 likelihoods, plus the range coder's flush words."""
    container = codec.parse(codec.compress(photo, quality=quality))
    with torch.inference_mode():
        likelihoods = codec(codec.pad(photo), quality)["likelihoods"]
    estimate = sum(-torch.log2(lik).sum().item() for lik in likelihoods.values()) / 8
    flush = 8 * len(container.sections)
    assert abs(container.payload_bytes - estimate) <= 0.01 * estimate + flush, (
        container.payload_bytes,
        estimate,
    )


def test_decode_equals_the_models_reconstruction(codec, photo):
    decoded = codec.decompress(codec.compress(photo, quality=3))
    assert torch.equal(decoded, codec.reconstruction(photo, 3))
    assert np.isfinite(psnr_rgb(to_uint8(photo), to_uint8(decoded)))
