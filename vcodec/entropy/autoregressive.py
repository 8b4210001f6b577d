"""An autoregressive transformer prior over token ids, with a coding path that is deterministic by
construction, so its bytes decode anywhere.

p(t_n | t_<n) comes from a small causal transformer (pre-norm blocks, ReLU MLPs). For training it is an
ordinary float network. For coding, :class:`ExactTransformer` evaluates the same weights in fixed
point: activations and weights are integers held in float64, so every matrix product and every sum is
exact whatever the summation order; the few non-linear steps (layer norm, softmax, the final
probabilities) are single IEEE operations (+, −, ×, ÷, √: correctly rounded on every machine) or
look-ups in a stored exp table. Encoder and decoder therefore see the same integer frequencies for
every symbol, on any thread count, batch size or CPU.

    prefix ids ─embed + pos─▶ [LN → causal attention → +, LN → ReLU MLP → +] × depth ─▶ LN ─▶ logits
    logits ─exp table─▶ integer frequencies ─▶ range coder (constriction, one model per symbol)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import constriction
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vcodec.entropy import coder
from vcodec.entropy.categorical import check_vocab_sizes
from vcodec.layers.exact import ACTIVATION_BITS, integer_weights, rescale, to_fixed
from vcodec.threads import torch_threads

ACTIVATION_LIMIT = float(1 << 20)  # |activation| ≤ 256: squares of 64–512 features stay below 2**53
EXP_STEPS = 16  # the exp table has EXP_STEPS entries per nat
EXP_RANGE = 24  # nats: e**-24 is where a probability stops mattering
EXP_TABLE = np.round(2.0**24 * np.exp(-np.arange(EXP_STEPS * EXP_RANGE + 1) / EXP_STEPS))
TOTAL_FREQUENCY = 1 << 16
MAX_POSITIONS = 512  # attention sums n · 2**24 · 2**20 stay below 2**53


@dataclass
class ARPriorConfig:
    """Size of an :class:`AutoregressiveTokenPrior`."""

    width: int = 64
    depth: int = 2
    heads: int = 2

    def to_dict(self) -> dict:
        return asdict(self)


class _Block(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.out = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.ReLU(), nn.Linear(4 * width, width)
        )

    def forward(self, x: Tensor) -> Tensor:
        b, n, w = x.shape
        q, k, v = (
            self.qkv(self.norm1(x))
            .reshape(b, n, 3, self.heads, w // self.heads)
            .permute(2, 0, 3, 1, 4)
        )
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.out(attended.transpose(1, 2).reshape(b, n, w))
        return x + self.mlp(self.norm2(x))


class AutoregressiveTokenPrior(nn.Module):
    """p(tokens) = Π_n Π_g p(t_{n,g} | t_<n): G streams (sub-codebooks) predicted by G heads from the
    same causal context; the input at position n is the sum of the embeddings of t_{n−1,·}."""

    def __init__(
        self, vocab_sizes: tuple[int, ...], positions: int, config: ARPriorConfig | None = None
    ):
        super().__init__()
        if positions > MAX_POSITIONS:
            raise ValueError(
                f"the autoregressive prior codes at most {MAX_POSITIONS} positions, got {positions}"
            )
        self.vocab_sizes, self.positions = check_vocab_sizes(vocab_sizes), positions
        self.config = config or ARPriorConfig()
        w = self.config.width
        self.start = nn.Parameter(torch.randn(w) * 0.02)
        self.embed = nn.ModuleList(nn.Embedding(v, w) for v in self.vocab_sizes)
        self.position = nn.Parameter(torch.randn(positions, w) * 0.02)
        self.blocks = nn.ModuleList(_Block(w, self.config.heads) for _ in range(self.config.depth))
        self.norm = nn.LayerNorm(w)
        self.heads = nn.ModuleList(nn.Linear(w, v) for v in self.vocab_sizes)
        self._exact: ExactTransformer | None = None

    def _inputs(self, indices: Tensor) -> Tensor:
        """B×N×W inputs: position n sees the embeddings of the tokens at n − 1 (a start vector at 0)."""
        b, n, _ = indices.shape
        previous = sum(e(indices[:, :-1, g]) for g, e in enumerate(self.embed)) if n > 1 else None
        start = self.start.expand(b, 1, -1)
        x = start if previous is None else torch.cat([start, previous], dim=1)
        return x + self.position[:n]

    def logits(self, indices: Tensor) -> list[Tensor]:
        """Per stream, B×N×V_g logits of each position given the tokens before it."""
        x = self._inputs(indices)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        return [head(x) for head in self.heads]

    def next_logits(self, indices: Tensor, position: int) -> list[Tensor]:
        """Per stream, B×V logits of the token at ``position`` given ``indices[:, :position]`` (sampling)."""
        return [logits[:, position] for logits in self.logits(indices[:, : position + 1])]

    def bits(self, indices: Tensor) -> Tensor:
        """−log2 p of each B×N×G index under the float model (training loss, rate estimates)."""
        logits = self.logits(indices)
        bits = [
            -torch.log_softmax(logit, -1).gather(-1, indices[..., g : g + 1]).squeeze(-1)
            / math.log(2)
            for g, logit in enumerate(logits)
        ]
        return torch.stack(bits, dim=-1)

    def fit(
        self,
        indices: Tensor,
        steps: int = 2000,
        batch: int = 64,
        lr: float = 2e-3,
        seed: int = 0,
        progress: bool = False,
    ) -> list[float]:
        """Train on B×N×G token ids (maximum likelihood); returns the mean bits per token every 100 steps."""
        from tqdm import tqdm

        generator = torch.Generator().manual_seed(seed)
        optimizer = torch.optim.AdamW(self.parameters(), lr=lr, weight_decay=0.01)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, lr, total_steps=steps, pct_start=0.05
        )
        self.train()
        history, window = [], []
        for _ in tqdm(range(steps), desc="token prior", disable=not progress):
            rows = torch.randint(indices.shape[0], (batch,), generator=generator)
            loss = self.bits(indices[rows]).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            window.append(loss.item())
            if len(window) == 100:
                history.append(float(np.mean(window)))
                window = []
        self.eval()
        self.update()
        return history

    def update(self) -> None:
        """Rebuild the fixed-point coding network from the current weights."""
        self._exact = ExactTransformer(self)

    def reset_cache(self) -> None:
        """Forget the fixed-point network built from earlier weights."""
        self._exact = None

    @property
    def exact(self) -> "ExactTransformer":
        if self._exact is None:
            self.update()
        return self._exact

    def compress(self, indices: Tensor) -> bytes:
        """Range-code one sequence of N×G ids (N ≤ positions), each under its exact conditional."""
        ids = indices.long().cpu()
        encoder = coder.range_encoder()
        family = constriction.stream.model.Categorical(perfect=False)
        frequencies = self.exact.frequencies(ids[None])
        if len(self.vocab_sizes) == 1:
            encoder.encode(ids[:, 0].numpy().astype(np.int32), family, frequencies[0][0])
        else:  # the decoder's order: position by position, streams within a position
            for n in range(ids.shape[0]):
                for g, table in enumerate(frequencies):
                    encoder.encode(
                        ids[n : n + 1, g].numpy().astype(np.int32), family, table[0, n : n + 1]
                    )
        return coder.range_bytes(encoder)

    def decompress(self, data: bytes, num_tokens: int) -> Tensor:
        """The N×G ids :meth:`compress` coded, decoded one position at a time."""
        groups = len(self.vocab_sizes)
        ids = torch.zeros(1, num_tokens, groups, dtype=torch.long)
        family = constriction.stream.model.Categorical(perfect=False)
        # one small step per token: sharing it between cores costs more than it saves
        with torch_threads(1), coder.range_decoder(data, "token data") as decoder:
            for n in range(num_tokens):
                frequencies = self.exact.frequencies(ids[:, : n + 1], last=True)
                for g in range(groups):
                    ids[0, n, g] = int(decoder.decode(family, frequencies[g][0])[0])
        return ids[0]


def _fixed(x: Tensor) -> Tensor:
    return to_fixed(x, ACTIVATION_LIMIT)


class _Linear:
    """y = round((x·W + b) / 2**shift) with integer W (largest entry near ±2**WEIGHT_BITS) and b."""

    def __init__(self, layer: nn.Linear):
        self.shift, self.weight, self.bias = integer_weights(
            layer.weight.detach().double().T, layer.bias.detach().double(), (0,), ACTIVATION_LIMIT
        )

    def __call__(self, x: Tensor) -> Tensor:
        return rescale(x @ self.weight + self.bias, self.shift, ACTIVATION_LIMIT)


class _LayerNorm:
    """Layer norm from exact integer sums; mean, variance, √ and ÷ are single IEEE operations."""

    def __init__(self, norm: nn.LayerNorm):
        self.gamma = norm.weight.detach().double()
        self.beta = norm.bias.detach().double()
        self.eps = norm.eps

    def __call__(self, x: Tensor) -> Tensor:
        n = x.shape[-1]
        s1, s2 = (
            x.sum(-1, keepdim=True),
            (x * x).sum(-1, keepdim=True),
        )  # exact: integers below 2**53
        mean = s1 / n
        variance = torch.clamp(s2 / n - mean * mean, min=0.0) / float(1 << 2 * ACTIVATION_BITS)
        normalized = (x - mean) / (1 << ACTIVATION_BITS) / torch.sqrt(variance + self.eps)
        return _fixed(normalized * self.gamma + self.beta)


def _table_weights(values: Tensor, steps_per_unit: float) -> Tensor:
    """exp(values − max) along the last axis as integers, through the stored table (values real)."""
    index = torch.round((values.amax(-1, keepdim=True) - values) * steps_per_unit)
    index = index.clamp_(0, len(EXP_TABLE) - 1).long()
    return torch.from_numpy(EXP_TABLE)[index]


class ExactTransformer:
    """A frozen fixed-point copy of an :class:`AutoregressiveTokenPrior` for coding."""

    def __init__(self, prior: AutoregressiveTokenPrior):
        self.prior = prior
        self.heads = prior.config.heads
        self.start = _fixed(prior.start.detach())
        self.position = _fixed(prior.position.detach())
        self.embed = [_fixed(e.weight.detach()) for e in prior.embed]
        self.blocks = [
            (
                _LayerNorm(b.norm1),
                _Linear(b.qkv),
                _Linear(b.out),
                _LayerNorm(b.norm2),
                _Linear(b.mlp[0]),
                _Linear(b.mlp[2]),
            )
            for b in prior.blocks
        ]
        self.norm = _LayerNorm(prior.norm)
        self.out = [_Linear(h) for h in prior.heads]

    def _attention(self, qkv: Tensor) -> Tensor:
        b, n, w = qkv.shape[0], qkv.shape[1], qkv.shape[2] // 3
        d = w // self.heads
        q, k, v = qkv.reshape(b, n, 3, self.heads, d).permute(2, 0, 3, 1, 4)
        scores = (
            (q @ k.transpose(-1, -2)) / float(1 << 2 * ACTIVATION_BITS) / math.sqrt(d)
        )  # exact sums
        causal = torch.ones(n, n, dtype=torch.bool).tril()
        scores = scores.masked_fill(~causal, -math.inf)
        weights = _table_weights(scores, EXP_STEPS).masked_fill(~causal, 0.0)
        mixed = (weights @ v) / weights.sum(-1, keepdim=True)  # exact sums, one division
        return (
            torch.round(mixed)
            .clamp_(-ACTIVATION_LIMIT, ACTIVATION_LIMIT)
            .transpose(1, 2)
            .reshape(b, n, w)
        )

    @torch.no_grad()
    def frequencies(self, indices: Tensor, last: bool = False) -> list[np.ndarray]:
        """Per stream, B×N×V_g integer frequencies (each ≥ 1, summing to at most 2**16) of every position
        (of the last position only, B×1×V_g, with ``last``: what a decoder step needs)."""
        b, n, _ = indices.shape
        previous = sum(e[indices[:, :-1, g]] for g, e in enumerate(self.embed)) if n > 1 else None
        start = self.start.expand(b, 1, -1)
        x = (start if previous is None else torch.cat([start, previous], dim=1)) + self.position[:n]
        x = x.clamp(-ACTIVATION_LIMIT, ACTIVATION_LIMIT)
        for norm1, qkv, out, norm2, up, down in self.blocks:
            x = (x + out(self._attention(qkv(norm1(x))))).clamp_(
                -ACTIVATION_LIMIT, ACTIVATION_LIMIT
            )
            x = (x + down(torch.relu(up(norm2(x))))).clamp_(-ACTIVATION_LIMIT, ACTIVATION_LIMIT)
        x = self.norm(x[:, -1:] if last else x)
        frequencies = []
        for head, vocab in zip(self.out, self.prior.vocab_sizes):
            weights = _table_weights(head(x) / float(1 << ACTIVATION_BITS), EXP_STEPS).long()
            spare = TOTAL_FREQUENCY - vocab
            frequencies.append(
                (1 + weights * spare // weights.sum(-1, keepdim=True)).double().numpy()
            )
        return frequencies
