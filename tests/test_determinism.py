"""Token streams decode to the encoder's exact ids whatever the thread count or batch (codecs and the
video codec have their own thread tests in test_codecs / test_video; benchmarks/determinism.py runs
the whole matrix on the shipped models)."""

import pytest
import torch

from vcodec.testing import fuzz
from vcodec.threads import torch_threads


def on_threads(threads: int, fn, *args):
    with torch_threads(threads):
        return fn(*args)


@pytest.mark.parametrize(
    "name", ["tokens/transformer-1d", "tokens/transformer-1d-ar", "tokens/conv-2d"]
)
def test_token_streams_decode_identically_across_threads_and_batches(name):
    tokenizer = fuzz.token_targets()[name].decode.__self__
    images = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    for threads, batch in (
        (2, 4),
        (1, 1),
    ):  # streams made in a batch on 2 threads, or one by one on 1
        streams = [
            s
            for i in range(0, 4, batch)
            for s in on_threads(threads, tokenizer.compress, images[i : i + batch])
        ]
        expected = on_threads(threads, tokenizer.encode, images)
        for stream, ids in zip(streams, expected):
            for decode_threads in (1, 2):
                assert on_threads(decode_threads, tokenizer.decompress_tokens, stream)[0].equal(ids)
