"""The tokenizer contract, and what every learned tokenizer shares: input checks, token
validation, and token bitstreams (entropy-coded with a learned prior, in the VCDC container).

    image ──encode──▶ token ids (B×N×G) ──prior + range coder──▶ bytes
    image ◀──decode── token ids        ◀──────────────────────── bytes
"""

from __future__ import annotations

import struct
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from vcodec.entropy.container import Container, Kind, check_model
from vcodec.errors import BitstreamError
from vcodec.weights import resize_table_buffers, weights_hash

_COUNT = struct.Struct(">H")  # the first section of a token stream: how many tokens follow


@runtime_checkable
class Tokenizer(Protocol):
    """Every tokenizer, image or video, 1D or 2D."""

    vocab_sizes: tuple[int, ...]
    max_tokens: int

    def encode(self, images: Tensor, num_tokens: int | None = None) -> Tensor: ...
    def decode(self, tokens: Tensor) -> Tensor: ...
    def embed(self, tokens: Tensor) -> Tensor: ...
    def compress(self, images: Tensor, num_tokens: int | None = None) -> list[bytes]: ...
    def decompress(self, data: bytes) -> Tensor: ...


class TokenModel(nn.Module):
    """What image and video tokenizers share: a name, a quantizer, a token prior fitted after training,
    and the weights hash their token streams carry."""

    name: str = "unnamed"
    quantizer: nn.Module
    prior: nn.Module  # a token prior of vcodec.entropy: compress/decompress/fit/update

    @property
    def vocab_sizes(self) -> tuple[int, ...]:
        return self.quantizer.vocab_sizes

    @property
    def weights_hash(self) -> bytes:
        """8 bytes naming these exact weights in streams (computed once; reset by update/load)."""
        if getattr(self, "_weights_hash", None) is None:
            self._weights_hash = weights_hash(self)
        return self._weights_hash

    @property
    def tokens_hash(self) -> str:
        """What this tokenizer's ids mean: the hash of its weights without its prior (hex). Two
        checkpoints that differ only in their token prior share it."""
        return weights_hash(self, skip="prior.").hex()

    def update(self) -> None:
        """Rebuild the prior's coding tables (or fixed-point network) from its current weights."""
        self.prior.update()
        self._weights_hash = None

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Also loads CDF tables whose size differs from the empty ones of an unfitted model."""
        resize_table_buffers(self, state_dict)
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self.prior.reset_cache()
        self._weights_hash = None
        return result


class LearnedTokenizer(TokenModel):
    """Base class for fixed-size image tokenizers; subclasses provide ``quantizer``, ``prior``,
    ``image_size``, ``token_grid`` and the networks (``_indices``, ``_pixels``).

    ``token_grid`` is (K,) for a 1D tokenizer, whose every prefix decodes, or (h, w) for a 2D one,
    whose tokens always come as the whole grid. Internally ids are always B×N×G.
    """

    image_size: int
    token_grid: tuple[int, ...]

    @property
    def max_tokens(self) -> int:
        return int(torch.tensor(self.token_grid).prod())

    # --- checks ------------------------------------------------------------------------------------
    def check_images(self, images: Tensor) -> Tensor:
        """B×3×S×S floats in [0, 1] (S = image_size), or a ValueError saying what was expected."""
        if not isinstance(images, Tensor) or not images.dtype.is_floating_point:
            raise ValueError(
                f"images must be a float tensor, got {type(images).__name__} "
                f"{getattr(images, 'dtype', '')}".rstrip()
            )
        if images.dim() == 3:
            images = images.unsqueeze(0)
        s = self.image_size
        if images.dim() != 4 or tuple(images.shape[1:]) != (3, s, s):
            raise ValueError(
                f"this tokenizer takes B×3×{s}×{s} images, got {tuple(images.shape)} "
                f"(resize or crop to {s}×{s} first)"
            )
        if not torch.isfinite(images).all():
            raise ValueError("images contain NaN or infinite values")
        return images.clamp(0, 1)

    def check_num_tokens(self, num_tokens: int | None) -> int:
        k = self.max_tokens if num_tokens is None else num_tokens
        if len(self.token_grid) > 1 and k != self.max_tokens:
            raise ValueError(
                f"a 2D tokenizer always gives its whole {'×'.join(map(str, self.token_grid))} grid; "
                f"num_tokens must be None or {self.max_tokens}, got {num_tokens!r}"
            )
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= self.max_tokens:
            raise ValueError(
                f"num_tokens must be an integer in 1…{self.max_tokens}, got {num_tokens!r}"
            )
        return k

    def as_indices(self, tokens: Tensor) -> Tensor:
        """Public token ids (B×N or B×h×w, with a trailing G for several streams) → checked B×N×G."""
        if not isinstance(tokens, Tensor):
            raise ValueError(f"tokens must be a tensor of integer ids, got {type(tokens).__name__}")
        groups, grid = len(self.vocab_sizes), self.token_grid
        expected = (len(grid) + 1) + (groups > 1)
        if tokens.dim() == expected and groups == 1:
            tokens = tokens.unsqueeze(-1)
        if len(grid) > 1 and tokens.dim() == len(grid) + 2 and tuple(tokens.shape[1:-1]) == grid:
            tokens = tokens.flatten(1, -2)
        if (
            tokens.dim() != 3
            or tokens.shape[-1] != groups
            or not 1 <= tokens.shape[1] <= self.max_tokens
            or (len(grid) > 1 and tokens.shape[1] != self.max_tokens)
        ):
            shape = (
                "B×"
                + ("N" if len(grid) == 1 else "×".join(map(str, grid)))
                + ("" if groups == 1 else f"×{groups}")
            )
            limit = f" with 1 ≤ N ≤ {self.max_tokens}" if len(grid) == 1 else ""
            raise ValueError(
                f"expected token ids of shape {shape}{limit}, got {tuple(tokens.shape)}"
            )
        self.quantizer.check_indices(tokens)
        return tokens.long()

    def _public(self, indices: Tensor) -> Tensor:
        """B×N×G ids → the public shape: B×N (1D) or B×h×w (2D), with a trailing G only when G > 1."""
        if len(self.token_grid) > 1:
            indices = indices.reshape(indices.shape[0], *self.token_grid, indices.shape[-1])
        return indices[..., 0] if len(self.vocab_sizes) == 1 else indices

    # --- the protocol --------------------------------------------------------------------------------
    @torch.inference_mode()
    def encode(self, images: Tensor, num_tokens: int | None = None) -> Tensor:
        """Token ids of B×3×S×S images: B×N, or B×N×G with G sub-codebooks; the first ``num_tokens``."""
        k = self.check_num_tokens(num_tokens)
        return self._public(self._indices(self.check_images(images))[:, :k])

    @torch.inference_mode()
    def decode(self, tokens: Tensor) -> Tensor:
        """Images (B×3×S×S in [0, 1]) from token ids; any prefix of a 1D sequence decodes."""
        return self._pixels(self._vectors(self.as_indices(tokens))).clamp(0, 1)

    @torch.inference_mode()
    def embed(self, tokens: Tensor) -> Tensor:
        """Code vectors (B×N×D) of token ids, what a downstream generator consumes."""
        return self.quantizer.embed(self.as_indices(tokens))

    def sample(
        self,
        count: int,
        num_tokens: int | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
    ) -> Tensor:
        """``count`` token sequences drawn from the token prior (decode them with :meth:`decode`)."""
        from vcodec.tokenizers.sampling import sample_tokens

        return sample_tokens(self, count, num_tokens, temperature, top_k, top_p, seed)

    def complete(
        self,
        images: Tensor,
        keep: int,
        count: int = 1,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
    ) -> Tensor:
        """Token ids of ``images`` with all but the first ``keep`` tokens drawn again, ``count`` per image."""
        from vcodec.tokenizers.sampling import complete_tokens

        return complete_tokens(self, images, keep, count, temperature, top_k, top_p, seed)

    def compress(self, images: Tensor, num_tokens: int | None = None) -> list[bytes]:
        """One VCDC token container per image: the first ``num_tokens`` ids, range-coded with the prior."""
        tokens = self.as_indices(self.encode(images, num_tokens))
        return [
            token_container(
                self, self.image_size, self.image_size, t.shape[0], self.prior.compress(t)
            )
            for t in tokens
        ]

    def decompress_tokens(self, data: bytes) -> Tensor:
        """The 1×N(×G) token ids in a container made by :meth:`compress` of this model."""
        container, count = read_token_container(data, self)
        if not 1 <= count <= self.max_tokens or (
            len(self.token_grid) > 1 and count != self.max_tokens
        ):
            raise BitstreamError(f"stream declares {count} tokens, model has 1–{self.max_tokens}")
        return self._public(self.prior.decompress(container.sections[1], count)[None])

    def decompress(self, data: bytes) -> Tensor:
        """The decoded image (1×3×S×S) of a token container."""
        return self.decode(self.decompress_tokens(data))

    # --- subclasses ------------------------------------------------------------------------------------
    def _indices(self, images: Tensor) -> Tensor:
        """All ``max_tokens`` B×K×G ids of checked images."""
        raise NotImplementedError

    def _vectors(self, indices: Tensor) -> Tensor:
        """Decoder input from B×N×G ids (N ≤ K)."""
        return self.quantizer.embed(indices)

    def _pixels(self, vectors: Tensor) -> Tensor:
        raise NotImplementedError


def token_container(model, width: int, height: int, count: int, payload: bytes) -> bytes:
    """A VCDC token container: ``count`` (tokens, or token frames for video) and the coded ids."""
    return Container(
        kind=Kind.TOKENS,
        model=model.name,
        weights_hash=model.weights_hash,
        width=width,
        height=height,
        sections=[_COUNT.pack(count), payload],
    ).to_bytes()


def read_token_container(data: bytes, model) -> tuple[Container, int]:
    """A token container made by ``model`` (kind, name and weights checked) and the count it declares."""
    container = Container.from_bytes(data)
    if container.kind != Kind.TOKENS:
        raise BitstreamError(f"stream holds {container.kind.name.lower()} data, not tokens")
    check_model(container, model.name, model.weights_hash)
    if len(container.sections) != 2 or len(container.sections[0]) != _COUNT.size:
        raise BitstreamError("token stream must hold a count section and a token section")
    return container, _COUNT.unpack(container.sections[0])[0]
