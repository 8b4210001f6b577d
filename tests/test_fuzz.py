"""A fast, seeded fuzz run of every decoder (the long run is benchmarks/fuzz.py): mutated, truncated,
spliced, random and format-aware damaged streams decode or raise BitstreamError, and never hang.

A hang is work, not time: a case that writes more tensor elements and decodes more symbols than
fuzz.HANG_FACTOR times its target's largest seed (scaled by the output it declares) is stopped and
reported, so these tests give the same answer on a loaded machine."""

import io

import pytest
import torch

from vcodec.entropy.container import MAX_FRAMES, read_video_header
from vcodec.testing import fuzz

TARGETS = fuzz.targets()
CASES = 300


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_no_fuzz_case_crashes_or_hangs_a_decoder(name):
    report = fuzz.run(TARGETS[name], CASES, seed=2026)
    assert not report.crashes, report.crashes[0][1]
    assert not report.hangs, (
        f"{len(report.hangs)} cases did more than {fuzz.HANG_FACTOR}× their seeds' work"
    )
    assert (
        report.cases == CASES and report.rejected > 0 and report.decoded + report.rejected == CASES
    )


def test_fuzz_cases_replay_and_reach_past_the_crc_checks():
    target = TARGETS["image/mean-scale-checkerboard"]
    assert fuzz.case(target, 5, 17) == fuzz.case(target, 5, 17)
    report = fuzz.run(target, 200, seed=1)
    assert report.decoded > 20  # format-aware cases carry damaged sections to the entropy decoder
    messages = set()
    for index in range(200):
        try:
            target.decode(fuzz.case(target, 1, index))
        except fuzz.BitstreamError as err:
            messages.add(str(err).split(" (")[0][:30])
    assert len(messages) > 5  # rejected for many different reasons, not only by the CRC


SHIPPED = fuzz.shipped_targets()


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_no_fuzz_case_crashes_a_shipped_decoder(name):
    report = fuzz.run(SHIPPED[name], 60, seed=7)
    assert not report.crashes, report.crashes[0][1]
    assert not report.hangs, (
        f"{len(report.hangs)} cases did more than {fuzz.HANG_FACTOR}× their seeds' work"
    )
    assert report.rejected > 0


def _declaring_frames(stream: bytes, count: int) -> bytes:
    """A video stream whose header declares ``count`` frames (with a valid CRC); its packets unchanged."""
    header, info = read_video_header(io.BytesIO(stream))
    packets = stream[len(header.to_bytes()) :]
    info.frame_count = count
    header.sections = [info.to_bytes()]
    return header.to_bytes() + packets


def test_unbounded_work_is_a_hang_and_is_stopped_at_the_limit():
    """The bug issue 7 fixed, put back: --keep-going stood in one frame per declared frame, so a few
    bytes declaring 2**24 frames kept a decoder busy for minutes. The meter stops it at the case's work
    limit and reports a hang; the real decoder refuses or decodes the same stream well within it."""
    target = TARGETS["video/keep-going"]
    data = _declaring_frames(target.seeds[0], MAX_FRAMES)
    limit = fuzz.work_limit(target, data)
    assert limit == fuzz.work_limit(
        target, target.seeds[0]
    )  # a frame count does not raise the limit

    outcome, work, _ = fuzz.decode_case(target, data, limit)
    assert (
        outcome in ("decoded", "rejected") and 0 < work <= 2 * limit / fuzz.HANG_FACTOR
    )  # about a seed's

    def one_frame_per_declared_frame(stream: bytes) -> int:
        header, info = read_video_header(io.BytesIO(stream))
        for _ in range(info.frame_count):
            torch.full((1, 3, header.height, header.width), 0.5)
        return info.frame_count

    buggy = fuzz.Target(
        "buggy", target.seeds, one_frame_per_declared_frame, video=True, declared=target.declared
    )
    outcome, work, _ = fuzz.decode_case(buggy, data, limit)
    assert (
        outcome == "hang" and limit < work <= limit + 3 * 40 * 72
    )  # stopped by the first op past it
    assert fuzz.decode_case(buggy, target.seeds[0], limit)[0] == "decoded"


def test_the_meter_counts_range_decoded_symbols_and_tensor_elements():
    target = TARGETS["tokens/transformer-1d"]
    with fuzz.WorkMeter() as meter:
        torch.zeros(2, 3)
    assert meter.work == 6
    outcome, work, _ = fuzz.decode_case(target, target.seeds[0])
    assert outcome == "decoded" and work > 0
    assert fuzz.decode_case(target, target.seeds[0]) == (
        outcome,
        work,
        None,
    )  # the same count every time
    assert fuzz.decode_case(target, target.seeds[0], limit=work - 1)[0] == "hang"
