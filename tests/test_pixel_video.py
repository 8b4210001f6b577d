"""The pixel-domain video codec: variable block size motion, skipped blocks, exact decoding, training."""

from __future__ import annotations

import io
from fractions import Fraction

import numpy as np
import pytest
import skimage.data
import torch

from vcodec.codecs.pixel_video import residual_levels
from vcodec.entropy.container import FrameType, Packet, read_packets, read_video_header
from vcodec.entropy.flags import decode_flags
from vcodec.errors import BitstreamError
from vcodec.inter.partition import LARGE, SPLIT, Partition, search_partition
from vcodec.testing.tiny import tiny_pixel_codec
from vcodec.threads import torch_threads


@pytest.fixture(scope="module")
def codec():
    return tiny_pixel_codec()


def photo(height: int = 96, width: int = 128, top: int = 100, left: int = 150) -> torch.Tensor:
    """A piece of a photo, 3×H×W uint8."""
    crop = skimage.data.astronaut()[top : top + height, left : left + width]
    return torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).contiguous()


def pan(frames: int, step: int = 2, height: int = 96, width: int = 128) -> list[torch.Tensor]:
    """A camera pan: each frame ``step`` pixels right of the one before, 1×3×H×W floats."""
    return [photo(height, width, left=150 + step * t)[None].float() / 255 for t in range(frames)]


def coded(codec, frames, quality=2, gop=8, **options):
    """(packets, reconstructions) of a clip; without scene-cut decisions unless ``options`` ask (an
    untrained residual codec may cost more than the intra codec, which would make frames intra)."""
    options.setdefault("scene_cuts", False)
    pairs = list(codec.encode_and_reconstruct(frames, quality, gop, **options))
    return [p for p, _ in pairs], [r for _, r in pairs]


# --- variable block size motion --------------------------------------------------------------------


def random_partition(rows: int, cols: int, search: int, seed: int = 0) -> Partition:
    rng = np.random.default_rng(seed)
    reach = 4 * search
    large = torch.from_numpy(rng.integers(-reach, reach + 1, (2, rows, cols)))
    split = torch.from_numpy(rng.random((rows, cols)) < 0.5)
    split[0, 0] = True
    small = torch.from_numpy(rng.integers(-reach, reach + 1, (2, rows * SPLIT, cols * SPLIT)))
    inside = split.repeat_interleave(SPLIT, 0).repeat_interleave(SPLIT, 1)
    coarse = large.repeat_interleave(SPLIT, 1).repeat_interleave(SPLIT, 2)
    return Partition(large, split, torch.where(inside, small, coarse))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_any_partition_round_trips(seed):
    motion = random_partition(3, 4, search=8, seed=seed)
    back = Partition.decode(motion.encode(8), 3 * LARGE - 5, 4 * LARGE - 30, 8)
    for name in ("large", "split", "small"):
        assert torch.equal(getattr(back, name), getattr(motion, name))


def test_partition_sections_that_cannot_be_one_raise():
    motion = random_partition(2, 2, search=8)
    sections = motion.encode(8)
    with pytest.raises(BitstreamError):
        Partition.decode(sections, 2 * LARGE, 2 * LARGE, 2)  # vectors beyond a smaller range
    with pytest.raises(BitstreamError):
        Partition.decode([sections[0], sections[1], b""], 2 * LARGE, 2 * LARGE, 8)


def test_a_moving_objects_small_vectors_predict_each_other():
    from vcodec.inter.partition import _expand
    from vcodec.inter.vectors import _differences

    large = torch.zeros(2, 2, 3, dtype=torch.long)
    split = torch.zeros(2, 3, dtype=torch.bool)
    split[1, 1] = True
    small = torch.zeros(2, 2 * SPLIT, 3 * SPLIT, dtype=torch.long)
    small[:, SPLIT:, SPLIT : 2 * SPLIT] = torch.tensor([3, -5]).reshape(2, 1, 1)  # a rigid object
    motion = Partition(large, split, small)
    differences = _differences(motion.small_grid(), _expand(split)).reshape(-1, 2)
    # median prediction: only the object's top row (predicted from the still background above it)
    # differs; below it, two of the three neighbours are the object's own vectors
    assert len(differences) == SPLIT * SPLIT
    assert int((differences != 0).any(1).sum()) == SPLIT
    back = Partition.decode(motion.encode(8), 2 * LARGE, 3 * LARGE, 8)
    assert torch.equal(back.small_grid(), motion.small_grid())


def test_a_pan_is_found_and_needs_no_split():
    reference = photo(128, 192)
    current = photo(128, 192, left=153)  # three pixels to the right: vectors of +3 columns
    motion = search_partition(current, reference, 8, rate_weight=4.0)
    field = motion.field(128, 192)
    assert (field[:, 8:-8, 8:-16] == torch.tensor([0, 12]).reshape(2, 1, 1)).all()
    assert not motion.split.any()


def test_a_moving_object_splits_its_block():
    background = photo(128, 128)
    current = background.clone()
    current[:, 16:32, 16:32] = photo(16, 16, top=300, left=300)  # new content in one small block
    current[:, 80:112, 80:112] = background[:, 76:108, 82:114]  # a patch that moved
    motion = search_partition(current, background, 8, rate_weight=1.0)
    assert motion.split[1, 1] and not motion.split[0, 1]


# --- the codec -------------------------------------------------------------------------------------


def test_decoding_gives_the_encoders_pictures_exactly(codec):
    frames = pan(5)
    packets, pictures = coded(codec, frames, skip_weight=float("inf"))  # every block coded
    assert [p.frame_type for p in packets] == [FrameType.INTRA] + [FrameType.PREDICTED] * 4
    decoded = list(codec.decode(packets, 128, 96, 2))
    assert all(torch.equal(a, b) for a, b in zip(decoded, pictures))


def test_a_few_coded_blocks_are_synthesized_alone_and_decode_exactly(codec, monkeypatch):
    still = photo(192, 256)[None].float() / 255
    changed = still.clone()
    changed[..., 70:120, 140:190] = photo(50, 50, top=300, left=300)[None].float() / 255
    chosen = torch.zeros(3, 4, dtype=torch.bool)
    chosen[1, 2] = True  # one block of twelve: synthesized alone
    monkeypatch.setattr(codec, "_blocks_worth_coding", lambda *args: chosen)
    packets, pictures = coded(codec, [still, changed])
    assert torch.equal(decode_flags(packets[1].sections[0], (3, 4)), chosen)
    assert torch.equal(pictures[1][..., :64, :], pictures[0][..., :64, :])  # skipped: unchanged
    decoded = list(codec.decode(packets, 256, 192, 2))
    assert all(torch.equal(a, b) for a, b in zip(decoded, pictures))
    y_hat = codec.flat_latent(2).float().expand(1, -1, 12, 16).clone()
    y_hat[..., 4:8, 8:12] += torch.randn(1, y_hat.shape[1], 4, 4)
    alone = codec._synthesize_residual(y_hat, chosen, 2)[:, 64:128, 128:192]
    whole = codec.residual.g_s(y_hat)[0].clamp(0, 1)[:, 64:128, 128:192]
    assert (alone - whole).abs().mean() < 0.1 * (whole - 0.5).abs().mean() + 1e-3  # same block


def test_decoding_is_the_same_on_one_and_two_threads(codec):
    packets, _ = coded(codec, pan(4), skip_weight=1000)
    outputs = []
    for threads in (1, 2):
        with torch_threads(threads):
            outputs.append(list(codec.decode(packets, 128, 96, 2)))
    assert all(torch.equal(a, b) for a, b in zip(*outputs))


def test_a_static_scene_costs_almost_nothing(codec):
    still = pan(1)[0]
    packets, pictures = coded(codec, [still] * 4)
    for packet in packets[1:]:
        assert sum(len(s) for s in packet.sections) <= 12
        assert torch.equal(pictures[1], pictures[0])


def test_a_pan_is_coded_mostly_by_motion(codec):
    packets, _ = coded(codec, pan(3, step=3), quality=3)
    motion = sum(len(s) for s in packets[2].sections[1:4])
    residual = sum(len(s) for s in packets[2].sections[4:])
    assert residual <= motion + 8  # (the shipped codec's pan: tests/test_shipped_video.py)


def test_breakdown_accounts_for_every_byte(codec):
    packets, _ = coded(codec, pan(2, step=5), skip_weight=float("inf"))
    split = codec.breakdown(packets[1], 96, 128)
    assert split["coded"] == split["blocks"] == 4
    assert split["flags"] + split["motion"] + split["residual"] == sum(
        map(len, packets[1].sections)
    )


def test_skip_weight_decides_every_block(codec):
    frames = pan(2, step=5)
    never, _ = coded(codec, frames, skip_weight=float("inf"))
    always, pictures = coded(codec, frames, skip_weight=0)
    assert sum(map(len, always[1].sections[4:])) == 0  # no residual at all
    assert sum(map(len, never[1].sections[4:])) > 0
    decoded = list(codec.decode(always, 128, 96, 2))
    assert torch.equal(decoded[1], pictures[1])


def test_a_quality_period_codes_every_nth_predicted_frame_a_quality_higher(codec):
    assert [codec._frame_quality(1, t) for t in range(1, 9)] == [1] * 8  # the default: none
    distinct = tiny_pixel_codec(seed=1, quality_period=4)
    top = distinct.num_qualities
    assert [distinct._frame_quality(1, t) for t in range(1, 9)] == [1, 1, 1, 2, 1, 1, 1, 2]
    assert distinct._frame_quality(top, 4) == top
    # the decoder follows the schedule from the packets alone, across GOPs: an exact decode, with
    # qualities 1 and 2 quantizing differently
    with torch.no_grad():
        distinct.residual.y_gain.log_gain[1] += 4.0
        distinct.residual.y_gain.log_inverse_gain[1] -= 4.0
        distinct.residual.y_gain.freeze()
    packets, pictures = coded(distinct, pan(11), quality=1, gop=5, skip_weight=float("inf"))
    decoded = list(distinct.decode(iter(packets), 128, 96, 1))
    assert all(torch.equal(a, b) for a, b in zip(decoded, pictures))
    distinct._frame_quality = lambda quality, since_intra: quality  # a decoder without the schedule
    try:
        wrong = list(distinct.decode(iter(packets), 128, 96, 1))
        assert not all(torch.equal(a, b) for a, b in zip(wrong, pictures))
    except BitstreamError:
        pass  # or its parse fails outright


def test_a_frame_cheaper_as_an_intra_frame_is_coded_as_one(codec):
    """The tiny codec's residual codec is untrained: coding every block (``skip_weight`` ∞) leaves a
    worse picture than its intra codec's for the bits, so with scene-cut decisions every frame becomes
    an intra frame, the one with the lower bits + λ·distortion."""
    frames = pan(4)
    predicted, before = coded(codec, frames, skip_weight=float("inf"))
    packets, pictures = coded(codec, frames, skip_weight=float("inf"), scene_cuts=True)
    assert [p.frame_type for p in predicted] == [FrameType.INTRA] + [FrameType.PREDICTED] * 3
    assert all(p.frame_type == FrameType.INTRA for p in packets)

    def rd_cost(packet, picture):  # frame 1: both predicted from the same intra frame
        error = (picture - frames[1]).mul(255).pow(2).sum()
        return 8 * sum(map(len, packet.sections)) + codec._mode_cost(2) * float(error)

    assert rd_cost(packets[1], pictures[1]) < rd_cost(predicted[1], before[1])
    decoded = list(codec.decode(packets, 128, 96, 2))
    assert all(torch.equal(a, b) for a, b in zip(decoded, pictures))


def test_decoding_may_start_at_a_later_intra_frame(codec):
    packets, pictures = coded(codec, pan(6), gop=3, skip_weight=1000)
    later = [p.__class__(p.frame_type, i, p.sections) for i, p in enumerate(packets[3:])]
    decoded = list(codec.decode(later, 128, 96, 2))
    assert all(torch.equal(a, b) for a, b in zip(decoded, pictures[3:]))


def test_damaged_predicted_packets_raise_or_recover(codec):
    packets, _ = coded(codec, pan(3))
    bad = packets[1].__class__(FrameType.PREDICTED, 1, [b"\xff" * 3] * len(packets[1].sections))
    with pytest.raises(BitstreamError, match="frame 1"):
        list(codec.decode([packets[0], bad, packets[2]], 128, 96, 2))
    skipped, _ = coded(codec, pan(2), skip_weight=0)
    extra = list(skipped[1].sections)
    extra[-1] = b"\x00"  # residual bytes where no block is coded
    with pytest.raises(BitstreamError, match="no block"):
        list(codec.decode([skipped[0], Packet(FrameType.PREDICTED, 1, extra)], 128, 96, 2))
    short = packets[1].__class__(FrameType.PREDICTED, 1, packets[1].sections[:-1])
    with pytest.raises(BitstreamError, match="sections"):
        list(codec.decode([packets[0], short], 128, 96, 2))
    recovered = list(codec.decode([packets[0], None, packets[2]], 128, 96, 2, keep_going=True))
    assert torch.equal(recovered[1], recovered[0]) and len(recovered) == 3


def test_stream_file_round_trip(codec):
    frames = pan(3)
    data = b"".join(codec.encode_stream(frames, 128, 96, Fraction(25), 2, 8, frame_count=3))
    _, info, decoded = codec.decode_stream(io.BytesIO(data))
    assert info.frame_count == 3 and len(list(decoded)) == 3
    stream = io.BytesIO(data)
    header, info = read_video_header(stream)
    packets = list(read_packets(stream, header, info))
    assert len(packets) == 3
    header.version = 1  # the same packets in format version 1, whose motion sections differ
    old = header.to_bytes() + b"".join(p.to_bytes(1) for p in packets)
    with pytest.raises(BitstreamError, match="format version 1.*re-encode"):
        codec.decode_stream(io.BytesIO(old))


# --- training --------------------------------------------------------------------------------------


def test_residual_levels_put_zero_error_at_128():
    a = torch.tensor([[[0, 128, 255]]], dtype=torch.uint8)
    b = torch.tensor([[[0, 0, 255]]], dtype=torch.uint8)
    assert residual_levels(a, b).tolist() == [[[128, 255, 128]]]


def test_training_trains_the_residual_codec_only():
    from vcodec.train.objectives import ResidualRateDistortion

    model = tiny_pixel_codec()
    model.train()
    objective = ResidualRateDistortion(model, 1e-3, seed=0)
    frames = torch.stack([torch.stack(pan(2, step=2, height=64, width=64)[::1])[:, 0]] * 2)
    residuals = model.training_residuals(frames, torch.tensor([1, 3]))
    assert residuals.shape == (2, 3, 64, 64) and 0 <= residuals.min() <= residuals.max() <= 1
    intra = {k: v.clone() for k, v in model.intra.state_dict().items()}
    residual = {k: v.clone() for k, v in model.residual.state_dict().items()}
    optimizer = torch.optim.Adam(objective.main_parameters(model), lr=1e-3)
    loss, metrics = objective.loss(model, frames)
    loss.backward()
    optimizer.step()
    assert {"bpp", "psnr"} <= metrics.keys()
    assert all(torch.equal(v, model.intra.state_dict()[k]) for k, v in intra.items())
    assert any(not torch.equal(v, model.residual.state_dict()[k]) for k, v in residual.items())
