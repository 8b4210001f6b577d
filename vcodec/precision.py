"""Where bfloat16 pays: the frozen convolutional transforms (g_a, g_s) run 2–3× faster in bfloat16
on hardware that has it, at a PSNR cost under 0.01 dB. Coding paths never use it: entropy parameters
stay exact, and only pixel-side float work (a tokenizer's transforms, the encoder's refinement
search) is sped up."""

from __future__ import annotations

import torch


def native_bfloat16(device: torch.device) -> bool:
    """Whether bfloat16 convolutions run in hardware on ``device`` (CUDA with bf16, or a CPU with
    AVX-512 BF16 or AMX): there they are 2–3× faster than float32; elsewhere they are emulated."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # private, so probed softly
    return any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)


def network_dtype(device: torch.device, requested: torch.dtype | None = None) -> torch.dtype:
    """The dtype a frozen transform runs in: ``requested``, or (None) bfloat16 where native, else
    float32."""
    if requested is not None:
        return requested
    return torch.bfloat16 if native_bfloat16(device) else torch.float32


def run_in(
    network: torch.nn.Module, x: torch.Tensor, dtype: torch.dtype, channels_last: bool = False
) -> torch.Tensor:
    """``network(x)`` computed under ``dtype`` autocast (plain for float32) and returned in float32,
    in the default memory layout; ``channels_last`` feeds it channels-last input (faster for strided
    convolutions). Gradients flow through it."""
    if dtype == torch.float32:
        return network(x)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast(x.device.type, dtype=dtype):
        return network(x).float().contiguous()


def in_bfloat16_where_native(network: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``network(x)`` computed under bfloat16 autocast where that is native, returned in float32
    (gradients flow through it); plain float32 elsewhere."""
    return run_in(network, x, network_dtype(x.device))
