"""A fast, seeded fuzz run of every decoder (the long run is benchmarks/fuzz.py): mutated, truncated,
spliced, random and format-aware damaged streams decode or raise BitstreamError, and never hang."""

import pytest

from vcodec import fuzz

TARGETS = fuzz.targets()
CASES = 300


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_no_fuzz_case_crashes_or_hangs_a_decoder(name):
    report = fuzz.run(TARGETS[name], CASES, seed=2026)
    assert not report.crashes, report.crashes[0][1]
    assert not report.hangs, f"{len(report.hangs)} cases took more than {fuzz.HANG_SECONDS} s"
    assert report.cases == CASES and report.rejected > 0 and report.decoded + report.rejected == CASES


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
    assert not report.hangs and report.rejected > 0
