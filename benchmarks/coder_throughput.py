"""Range-coder throughput through vcodec.entropy.coder (symbols per second, encode and decode).

Symbols follow the Gaussian scale table of the codecs (64 tables, the mix of a real latent: mostly
small scales) so the grouping cost is included. Target (issue 3): ≥ 20 M symbols/s.

    python benchmarks/coder_throughput.py [--symbols 4000000]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

warnings.filterwarnings("ignore", category=FutureWarning)

from _common import median_seconds, write_json  # noqa: E402

from vcodec.entropy import coder  # noqa: E402
from vcodec.entropy.continuous import GaussianModel, scale_table  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=4_000_000)
    args = parser.parse_args()
    model = GaussianModel()
    model.update()
    rng = np.random.default_rng(0)
    indexes = np.clip(rng.geometric(0.08, args.symbols) - 1, 0, 63)
    values = np.round(rng.normal(0, np.asarray(scale_table())[indexes])).astype(np.int64)
    data = coder.encode(values, indexes, model.tables)
    assert np.array_equal(coder.decode(data, indexes, model.tables), values)
    enc = median_seconds(lambda: coder.encode(values, indexes, model.tables), repeats=3)
    dec = median_seconds(lambda: coder.decode(data, indexes, model.tables), repeats=3)
    result = {
        "symbols": args.symbols,
        "bytes": len(data),
        "bits_per_symbol": len(data) * 8 / args.symbols,
        "encode_symbols_per_s": args.symbols / enc,
        "decode_symbols_per_s": args.symbols / dec,
    }
    print(f"{args.symbols:,} symbols, {result['bits_per_symbol']:.3f} bits/symbol")
    print(
        f"encode {result['encode_symbols_per_s'] / 1e6:.1f} M symbols/s, decode {result['decode_symbols_per_s'] / 1e6:.1f} M symbols/s"
    )
    write_json("coder_throughput", result)


if __name__ == "__main__":
    main()
