"""Function-preserving widening of a codec's image transforms (Net2WiderNet, Chen et al., ICLR 2016).

A trained codec of width N becomes one of width N' > N that computes the same function: every new
hidden channel copies an existing one, the layer after it divides that channel's outgoing weights by
the number of copies, and GDN divides its γ the same way so each norm still sums to the old value.
Training then starts from the small model's rate–distortion point with room to improve, which costs
far fewer steps than training the wide model from scratch (what a CPU can afford).

Only g_a and g_s are widened; y (M channels) and the hyper path (z) keep their shapes, so the entropy
model is copied unchanged.
"""

from __future__ import annotations

import torch
from torch import Tensor

# Hidden stages of g_a and g_s (vcodec.layers.transforms): (producing conv, GDN, consuming conv).
_STAGES = {
    prefix: [(f"{prefix}.{i}", f"{prefix}.{i + 1}", f"{prefix}.{i + 2}") for i in (0, 2, 4)]
    for prefix in ("g_a", "g_s")
}
_PEDESTAL = 2.0**-36  # compressai's NonNegativeParametrizer: reparam_offset² with offset 2**-18


def _effective(stored: Tensor, minimum: float = 0.0) -> Tensor:
    """A GDN parameter's value (compressai stores √(value + pedestal), bounded below)."""
    bound = (minimum + _PEDESTAL) ** 0.5
    return stored.clamp(min=bound).pow(2) - _PEDESTAL


def _stored(value: Tensor) -> Tensor:
    return torch.sqrt(torch.clamp(value + _PEDESTAL, min=_PEDESTAL))


def copy_map(old: int, new: int, generator: torch.Generator) -> Tensor:
    """Which old channel each new channel copies: the first ``old`` are themselves, the rest drawn at random."""
    extra = torch.randint(0, old, (new - old,), generator=generator)
    return torch.cat((torch.arange(old), extra))


def _widen_stage(
    state: dict,
    names: tuple[str, str, str],
    source: Tensor,
    transposed: bool,
    noise: float,
    generator: torch.Generator,
) -> None:
    producer, gdn, consumer = names
    old = int(source.max()) + 1  # copy_map keeps the old channels first, in order
    share = (1.0 / torch.bincount(source, minlength=old).to(state[f"{producer}.weight"].dtype))[
        source
    ]
    out_dim = 1 if transposed else 0  # ConvTranspose2d weights are in×out×k×k, Conv2d out×in×k×k
    weight = state[f"{producer}.weight"].index_select(out_dim, source)
    # Break the symmetry of the new copies (identical copies would get identical gradients forever).
    is_copy = (torch.arange(len(source)) >= old).to(weight.dtype)
    copy_shape = [1] * 4
    copy_shape[out_dim] = -1
    jitter = noise * weight.std() * torch.randn(weight.shape, generator=generator)
    state[f"{producer}.weight"] = weight + jitter * is_copy.reshape(copy_shape)
    state[f"{producer}.bias"] = state[f"{producer}.bias"][source]
    beta = _effective(state[f"{gdn}.beta"], 1e-6)[source]
    gamma = _effective(state[f"{gdn}.gamma"])[source][:, source] * share.reshape(1, -1)
    state[f"{gdn}.beta"], state[f"{gdn}.gamma"] = _stored(beta), _stored(gamma)
    in_dim = 0 if transposed else 1
    shape = [1] * 4
    shape[in_dim] = -1
    state[f"{consumer}.weight"] = state[f"{consumer}.weight"].index_select(
        in_dim, source
    ) * share.reshape(shape)


def widen_state(state: dict, new_n: int, noise: float = 1e-4, seed: int = 0) -> dict:
    """A copy of a codec state dict with g_a and g_s widened to ``new_n`` hidden channels."""
    old_n = transform_width(state)
    if new_n < old_n:
        raise ValueError(f"cannot narrow a codec (N={old_n} → {new_n})")
    state = {k: v.detach().cpu() for k, v in state.items()}  # the init may come from a run on a GPU
    generator = torch.Generator().manual_seed(seed)
    for prefix, stages in _STAGES.items():
        for names in stages:
            _widen_stage(
                state, names, copy_map(old_n, new_n, generator), prefix == "g_s", noise, generator
            )
    return state


def transform_width(state: dict) -> int | None:
    """N of a codec state dict's image transforms (None if it has none)."""
    weight = state.get("g_a.0.weight")
    return None if weight is None else int(weight.shape[0])


def hyper_width(state: dict) -> int | None:
    """Width of a codec state dict's hyper path (None if it has none)."""
    weight = state.get("h_a.0.weight")
    return None if weight is None else int(weight.shape[0])


_GAIN_KEYS = ("log_gain", "log_inverse_gain", "frozen_gain", "frozen_inverse_gain")


def gain_rows(state: dict) -> int | None:
    """How many quality levels a codec state dict's gain units hold (None if it has none)."""
    gain = state.get("y_gain.log_gain")
    return None if gain is None else int(gain.shape[0])


def rate_points(state: dict, source: tuple[float, ...], lambdas: tuple[float, ...]) -> dict:
    """A copy of a codec state dict (trained for the λ of ``source``) with one gain row per λ of
    ``lambdas``: each starts from the trained row of the nearest λ (on a log scale), its gain scaled
    by √(λ / λ_source) (quantization step ∝ 1/√λ), so training begins near, not far from, each new
    rate point. A λ the source has keeps its row exactly."""
    if gain_rows(state) != len(source):
        raise ValueError(f"the state has {gain_rows(state)} gain rows for {len(source)} λ")
    logs = torch.log(torch.tensor(source, dtype=torch.float64))
    target = torch.log(torch.tensor(lambdas, dtype=torch.float64))
    nearest = (target[:, None] - logs[None]).abs().argmin(dim=1)
    steps = 0.5 * (target - logs[nearest])
    state = dict(state)
    for key in [k for k in state if k.rsplit(".", 1)[-1] in _GAIN_KEYS]:
        rows, inverse, frozen = (
            state[key],
            "inverse" in key,
            key.rsplit(".", 1)[-1].startswith("frozen"),
        )
        picked = rows[nearest].double()
        sign = -1.0 if inverse else 1.0
        new = (
            picked * torch.exp(sign * steps)[:, None] if frozen else picked + sign * steps[:, None]
        )
        state[key] = new.to(rows.dtype)
    return state


# --- a wider latent: more channels in y ------------------------------------------------------------


def latent_width(state: dict) -> int | None:
    """M of a codec state dict (the channels of y; None if it has no analysis transform)."""
    weight = state.get("g_a.6.weight")
    return None if weight is None else int(weight.shape[0])


def _placed(old: Tensor, dim: int, size: int, where: Tensor, fill: Tensor | None = None) -> Tensor:
    """A tensor of ``size`` along ``dim`` holding ``old``'s slices at the indices ``where``, and
    ``fill`` (default zeros) everywhere else."""
    shape = list(old.shape)
    shape[dim] = size
    new = torch.zeros(shape, dtype=old.dtype) if fill is None else fill.to(old.dtype)
    return new.index_copy(dim, where, old)


def _halves(old: int, new: int) -> Tensor:
    """Where a layer of two equal blocks (``old`` units) puts them in one of ``new``: each block at the
    start of its half."""
    half = torch.arange(old // 2)
    return torch.cat((half, half + new // 2))


class _LatentWidening:
    """Grows :func:`widen_latent`'s tensors in place in ``state``: old slices where the index map says,
    zeros or (for new units' incoming connections) small random weights elsewhere."""

    def __init__(self, state: dict, scale: float, generator: torch.Generator):
        self.state, self.scale, self.generator = state, scale, generator

    def grow(self, key: str, dim: int, size: int, where: Tensor, random: bool = False) -> None:
        """``random``: new units' incoming weights, small and random (their outgoing ones are zero,
        so the function is unchanged, and the gradient reaches the outgoing ones)."""
        old = self.state[key]
        fill = None
        if random:
            shape = list(old.shape)
            shape[dim] = size
            fill = self.scale * old.std() * torch.randn(shape, generator=self.generator)
        self.state[key] = _placed(old, dim, size, where, fill)


def widen_latent(state: dict, new_m: int, scale: float = 0.1, seed: int = 0) -> dict:
    """A copy of a mean-scale checkerboard codec's state dict with ``new_m`` latent channels instead of
    M, computing the same reconstruction and, up to the bits of a zero under the narrowest Gaussian,
    the same rate: the new channels of y are zero (g_a's new rows are zero), their gains 1, their
    Gaussians of mean and scale 0 (the coder's lower bound); every new hidden unit of the hyper
    synthesis, the context and the parameter network has small random inputs and zero outputs, so
    training can grow them. g_s reads the new channels through small random weights: while they
    stay zero nothing changes, and the first gradient already reaches g_a."""
    old_m = latent_width(state)
    if old_m is None or "entropy_parameters.4.weight" not in state:
        raise ValueError("only a mean-scale checkerboard codec's latent can be widened")
    if new_m < old_m:
        raise ValueError(f"cannot narrow a latent (M={old_m} → {new_m})")
    state = {k: v.detach().cpu() for k, v in state.items()}
    grow = _LatentWidening(state, scale, torch.Generator().manual_seed(seed))
    same = torch.arange(old_m)
    # y itself: g_a's new outputs are zero; g_s reads them through small random weights
    grow.grow("g_a.6.weight", 0, new_m, same)
    grow.grow("g_a.6.bias", 0, new_m, same)
    grow.grow("g_s.0.weight", 0, new_m, same, random=True)  # ConvTranspose2d: in × out
    for key in [k for k in state if k.startswith("y_gain.")]:
        ones = torch.ones(state[key].shape[0], new_m) if "frozen" in key else None
        state[key] = _placed(state[key], 1, new_m, same, ones)
    # the hyper path reads y and gives 2M features
    side, mid = state["h_a.0.weight"].shape[0], state["h_s.2.weight"].shape[1]
    new_mid = (side + 2 * new_m) // 2
    grow.grow("h_a.0.weight", 1, new_m, same)
    grow.grow("h_s.2.weight", 1, new_mid, torch.arange(mid), random=True)  # ConvTranspose2d
    grow.grow("h_s.2.bias", 0, new_mid, torch.arange(mid))
    grow.grow("h_s.4.weight", 1, new_mid, torch.arange(mid))
    grow.grow("h_s.4.weight", 0, 2 * new_m, torch.arange(2 * old_m), random=True)
    grow.grow("h_s.4.bias", 0, 2 * new_m, torch.arange(2 * old_m))
    # the checkerboard context reads y and gives 2M features
    grow.grow("context.weight", 1, new_m, same)
    grow.grow("context.weight", 0, 2 * new_m, torch.arange(2 * old_m), random=True)
    grow.grow("context.bias", 0, 2 * new_m, torch.arange(2 * old_m))
    # the parameter network: [hyper features, context] → hidden → hidden → [scales, means]
    sizes = [(4 * m, 10 * m // 3, 8 * m // 3, 2 * m) for m in (old_m, new_m)]
    inputs = _halves(4 * old_m, 4 * new_m)
    for index, layer in enumerate((0, 2, 4)):
        weight, bias = f"entropy_parameters.{layer}.weight", f"entropy_parameters.{layer}.bias"
        last = layer == 4
        outputs = _halves(2 * old_m, 2 * new_m) if last else torch.arange(sizes[0][index + 1])
        grow.grow(weight, 1, sizes[1][index], inputs)
        grow.grow(weight, 0, sizes[1][index + 1], outputs, random=not last)
        grow.grow(bias, 0, sizes[1][index + 1], outputs)
        inputs = outputs
    return state
