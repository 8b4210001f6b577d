"""Categorical entropy models over token indices, so tokenizer outputs become real bytes.

``StaticTokenPrior`` holds one distribution per token position and index stream (a 1D tokenizer's
early tokens carry the most information and are the least predictable; later ones are peakier). It is
fitted by counting (maximum likelihood with additive smoothing) or trained by gradient, and codes
through the same range coder and integer CDF tables as the image codecs.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from vcodec._compressai import pmf_to_quantized_cdf
from vcodec.entropy import coder
from vcodec.errors import BitstreamError

PRECISION = 16  # bits of the integer CDFs, as in CompressAI
MAX_VOCAB = 1 << 14  # every id needs a frequency ≥ 1 of 2**16, and enough spare mass to be modelled


def check_vocab_sizes(vocab_sizes: tuple[int, ...]) -> tuple[int, ...]:
    """ValueError unless every vocabulary has 2…MAX_VOCAB ids (what 16-bit frequencies can code well)."""
    for vocab in vocab_sizes:
        if not 2 <= int(vocab) <= MAX_VOCAB:
            raise ValueError(
                f"token priors code vocabularies of 2…{MAX_VOCAB} ids, got {vocab} "
                f"(use a smaller codebook, or factorized VQ for more combinations)"
            )
    return tuple(int(v) for v in vocab_sizes)


def integer_cdfs(probabilities: list[np.ndarray]) -> coder.CdfTables:
    """CDF tables from probability vectors: table t codes symbols 0…len(p_t)−1, plus an escape."""
    cdfs = [
        np.asarray(pmf_to_quantized_cdf([*map(float, p), 0.0], PRECISION), dtype=np.int64)
        for p in probabilities
    ]
    width = max(len(c) for c in cdfs)
    padded = np.stack([np.pad(c, (0, width - len(c)), constant_values=c[-1]) for c in cdfs])
    return coder.CdfTables(
        padded, np.array([len(c) for c in cdfs]), np.zeros(len(cdfs), dtype=np.int64)
    )


class StaticTokenPrior(nn.Module):
    """p(token at position n of stream g) = softmax(logits[g][n]), independent across positions."""

    def __init__(self, vocab_sizes: tuple[int, ...], positions: int):
        super().__init__()
        self.vocab_sizes, self.positions = check_vocab_sizes(vocab_sizes), positions
        self.logits = nn.ParameterList(nn.Parameter(torch.zeros(positions, v)) for v in vocab_sizes)
        self.register_buffer("_quantized_cdf", torch.zeros(0, dtype=torch.int32))
        self.register_buffer("_cdf_length", torch.zeros(0, dtype=torch.int32))
        self.register_buffer("_offset", torch.zeros(0, dtype=torch.int32))
        self._tables: coder.CdfTables | None = None

    def next_logits(self, indices: Tensor, position: int) -> list[Tensor]:
        """Per stream, B×V logits of the token at ``position`` (the same whatever came before it)."""
        return [logits[position].expand(indices.shape[0], -1) for logits in self.logits]

    def bits(self, indices: Tensor) -> Tensor:
        """−log2 p of each B×N×G index (N ≤ positions: a prefix), for training and rate estimates."""
        n = indices.shape[1]
        bits = [
            -torch.log_softmax(logits[:n], dim=-1).gather(-1, indices[..., g].T.long()).T
            / np.log(2)
            for g, logits in enumerate(self.logits)
        ]
        return torch.stack(bits, dim=-1)

    @torch.no_grad()
    def fit(self, indices: Tensor, smoothing: float = 0.5) -> None:
        """Set every distribution to the smoothed frequencies of B×N×G ``indices`` (N = positions)."""
        self.fit_positions([indices[:, n] for n in range(self.positions)], smoothing)

    @torch.no_grad()
    def fit_positions(self, samples: list[Tensor], smoothing: float = 0.5) -> None:
        """Set position n's distributions to the smoothed frequencies of ``samples[n]`` (M_n×G ids;
        positions may have different numbers of samples)."""
        if len(samples) != self.positions:
            raise ValueError(f"need samples for {self.positions} positions, got {len(samples)}")
        for g, (logits, vocab) in enumerate(zip(self.logits, self.vocab_sizes)):
            for n, ids in enumerate(samples):
                counts = torch.bincount(ids[:, g].long().reshape(-1), minlength=vocab)
                logits[n].copy_(torch.log(counts.float() + smoothing))
        self.update()

    @torch.no_grad()
    def update(self) -> None:
        """Rebuild the integer CDF tables from the current logits (call after training)."""
        probabilities = [
            torch.softmax(logits[n].double(), -1).numpy()
            for logits in self.logits
            for n in range(self.positions)
        ]
        tables = integer_cdfs(probabilities)
        self._quantized_cdf = torch.from_numpy(tables.cdfs.astype(np.int32))
        self._cdf_length = torch.from_numpy(tables.lengths.astype(np.int32))
        self._offset = torch.from_numpy(tables.offsets.astype(np.int32))
        self._tables = tables

    def reset_cache(self) -> None:
        """Forget tables built from earlier buffers (after loading new ones)."""
        self._tables = None

    def _coder_tables(self) -> coder.CdfTables:
        if self._tables is None:
            if self._cdf_length.numel() != self.positions * len(self.vocab_sizes):
                raise RuntimeError(
                    "the token prior has no CDF tables: call update() or fit() first"
                )
            self._tables = coder.CdfTables(
                self._quantized_cdf.numpy(), self._cdf_length.numpy(), self._offset.numpy()
            )
        return self._tables

    def _table_indexes(self, num_tokens: int) -> np.ndarray:
        """Table of each N×G element: stream g, position n → g·positions + n."""
        return (
            np.arange(len(self.vocab_sizes))[None, :] * self.positions
            + np.arange(num_tokens)[:, None]
        )

    def compress(self, indices: Tensor) -> bytes:
        """Range-code one sequence of N×G token indices (N ≤ positions)."""
        return coder.encode(
            indices.cpu().numpy(), self._table_indexes(indices.shape[0]), self._coder_tables()
        )

    def decompress(self, data: bytes, num_tokens: int) -> Tensor:
        """The N×G indices :meth:`compress` coded; BitstreamError if they cannot be."""
        indices = coder.decode(data, self._table_indexes(num_tokens), self._coder_tables())
        if (indices < 0).any() or any(
            (indices[:, g] >= v).any() for g, v in enumerate(self.vocab_sizes)
        ):
            raise BitstreamError("token data decodes to ids outside the vocabulary")
        return torch.from_numpy(indices.astype(np.int64))
