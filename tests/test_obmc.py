"""Overlapped block motion compensation: integer blending of neighbouring blocks' predictions."""

import numpy as np
import skimage.data
import torch

from vcodec.inter import SubpelReference, predict
from vcodec.inter.interpolation import block_field
from vcodec.inter.obmc import RAMP, overlapped_prediction


def reference_frame(height: int = 48, width: int = 72) -> torch.Tensor:
    crop = skimage.data.astronaut()[150 : 150 + height, 180 : 180 + width]
    return torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).contiguous()


def slow_overlapped(reference, vectors: torch.Tensor, block: int, height: int, width: int):
    """The same blend pixel by pixel: the own prediction and each differing neighbour's, weighted by
    the ramp at the pixel's distance from the shared edge, in 64ths, rounded once."""
    rows, cols = vectors.shape[-2:]
    cache = {}

    def value(vector: tuple[int, int], c: int, y: int, x: int) -> int:
        if vector not in cache:
            field = torch.tensor(vector).reshape(2, 1, 1).expand(2, height, width)
            cache[vector] = predict(reference, field).numpy()
        return int(cache[vector][c, y, x])

    out = np.zeros((3, height, width), dtype=np.uint8)
    for y in range(height):
        for x in range(width):
            by, bx, v, u = y // block, x // block, y % block, x % block
            own = tuple(vectors[:, by, bx].tolist())
            parts = []  # (weight, vector) of the neighbours that differ
            for dy, dx, offset in (
                (-1, 0, v),
                (1, 0, block - 1 - v),
                (0, -1, u),
                (0, 1, block - 1 - u),
            ):
                ny, nx = min(max(by + dy, 0), rows - 1), min(max(bx + dx, 0), cols - 1)
                theirs = tuple(vectors[:, ny, nx].tolist())
                if theirs != own and offset < len(RAMP):
                    parts.append((RAMP[offset], theirs))
            for c in range(3):
                total = (64 - sum(w for w, _ in parts)) * value(own, c, y, x)
                total += sum(w * value(t, c, y, x) for w, t in parts)
                out[c, y, x] = (total + 32) // 64
    return out


def test_blending_is_the_integer_formula_exactly():
    frame = reference_frame(40, 70)  # partial blocks at the edges
    vectors = torch.from_numpy(np.random.default_rng(4).integers(-20, 21, (2, 3, 5)))
    vectors[:, 0, :2] = 0  # some neighbours agree
    reference = SubpelReference(frame, margin=8)
    got = overlapped_prediction(reference, vectors, 16, 40, 70)
    assert np.array_equal(got.numpy(), slow_overlapped(reference, vectors, 16, 40, 70))


def test_agreeing_vectors_give_the_plain_prediction():
    frame = reference_frame()
    reference = SubpelReference(frame, margin=8)
    pan = torch.tensor([5, -7]).reshape(2, 1, 1).expand(2, 3, 5).clone()
    plain = predict(reference, block_field(pan, 16, 48, 72))
    assert torch.equal(overlapped_prediction(reference, pan, 16, 48, 72), plain)


def test_a_seam_between_disagreeing_blocks_is_softened():
    frame = reference_frame()
    reference = SubpelReference(frame, margin=8)
    vectors = torch.zeros(2, 3, 5, dtype=torch.long)
    vectors[:, :, 2:] = torch.tensor([0, 24]).reshape(2, 1, 1)  # the right part moved 6 pixels
    plain = predict(reference, block_field(vectors, 16, 48, 72)).float()
    blended = overlapped_prediction(reference, vectors, 16, 48, 72).float()
    seam = lambda image: (image[:, :, 32] - image[:, :, 31]).abs().mean()  # noqa: E731
    assert seam(blended) < seam(plain)
    assert torch.equal(blended[:, :, :24], plain[:, :, :24])  # away from the seam: unchanged
