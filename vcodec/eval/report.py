"""Evaluation outputs: one JSON per method (CompressAI's layout), a Markdown BD table, RD plots (PNG).

All files are written atomically; JSON holds ``null`` where a metric is undefined (NaN).
"""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path

from vcodec.eval.bdrate import bd_psnr, bd_rate
from vcodec.eval.metrics import ms_ssim_db
from vcodec.io.images import write_atomic

PLOTS = {  # kind → [(file stem, rate key, quality key, axis label)]
    "image": [
        ("rd-psnr", "bpp", "psnr-rgb", "PSNR-RGB (dB)"),
        ("rd-ms-ssim", "bpp", "ms-ssim-rgb", "MS-SSIM-RGB (dB)"),
    ],
    "video": [
        ("rd-psnr", "kbps", "psnr-rgb", "PSNR-RGB (dB)"),
        ("rd-psnr-y", "kbps", "psnr-y", "PSNR-Y (dB)"),
    ],
}


def file_stem(name: str) -> str:
    """A method name as a safe file name."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", name).strip("-") or "method"


def output_files(names: list[str], kind: str) -> list[str]:
    """Every file an evaluation writes, so existing ones can be refused before hours of work."""
    return (
        [f"{file_stem(n)}.json" for n in names]
        + ["bd-rate.md"]
        + [f"{p[0]}.png" for p in PLOTS[kind]]
    )


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def method_json(summary: dict, per_item: bool) -> str:
    """A method's results in CompressAI's layout (plus its items; per-item rows when asked)."""
    keep = {k: v for k, v in summary.items() if per_item or not k.startswith("per_")}
    return json.dumps(_clean(keep), indent=1) + "\n"


def _quality(curve: dict, key: str) -> list[float]:
    values = curve[key]
    return (
        [ms_ssim_db(v) if not math.isnan(v) else v for v in values]
        if key == "ms-ssim-rgb"
        else values
    )


def bd_table(
    summaries: list[dict],
    anchors: list[str],
    rate: str,
    quality: str,
    delta=bd_rate,
    method: str = "cubic",
) -> dict[str, dict[str, float | None]]:
    """delta(anchor → method) for every method against every anchor; None where curves do not overlap."""
    curves = {s["name"]: s["results"] for s in summaries}
    table = {}
    for name, curve in curves.items():
        table[name] = {}
        for anchor in anchors:
            a = curves[anchor]
            try:
                table[name][anchor] = delta(
                    a[rate], _quality(a, quality), curve[rate], _quality(curve, quality), method
                )
            except ValueError:
                table[name][anchor] = None
    return table


def _markdown(table: dict, anchors: list[str], unit: str) -> str:
    lines = [
        "| method | " + " | ".join(f"vs {a}" for a in anchors) + " |",
        "|---|" + "---:|" * len(anchors),
    ]
    for name, row in table.items():
        cells = ["—" if row[a] is None or name == a else f"{row[a]:+.1f}{unit}" for a in anchors]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_report(summaries: list[dict], anchors: list[str], kind: str, header: str) -> str:
    """BD-rate (cubic and piecewise-cubic) and BD-PSNR of every method against every baseline."""
    rate = "bpp" if kind == "image" else "kbps"
    parts = [header, ""]
    if not anchors:
        return "\n".join(
            parts + ["No classical baseline was evaluated, so there is no BD table.", ""]
        )
    sections = [
        ("BD-rate, PSNR-RGB, cubic (Bjøntegaard)", "psnr-rgb", bd_rate, "cubic", " %"),
        ("BD-rate, PSNR-RGB, piecewise cubic (PCHIP)", "psnr-rgb", bd_rate, "pchip", " %"),
        ("BD-PSNR-RGB, cubic", "psnr-rgb", bd_psnr, "cubic", " dB"),
    ]
    if kind == "image":
        sections.append(
            ("BD-rate, MS-SSIM-RGB (dB), piecewise cubic", "ms-ssim-rgb", bd_rate, "pchip", " %")
        )
    else:
        sections.append(("BD-rate, PSNR-Y, cubic", "psnr-y", bd_rate, "cubic", " %"))
    for title, quality, delta, method, unit in sections:
        table = bd_table(summaries, anchors, rate, quality, delta, method)
        parts += [f"### {title}", "", _markdown(table, anchors, unit), ""]
    parts.append(
        "Negative BD-rate: fewer bits than the baseline at equal quality. "
        "— : the curves do not overlap (or the metric is undefined)."
    )
    return "\n".join(parts) + "\n"


def plot_png(summaries: list[dict], rate: str, quality: str, label: str, title: str) -> bytes:
    """One RD plot (rate on a log axis) of every method, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    figure, axes = plt.subplots(figsize=(7, 5), dpi=120)
    for s in summaries:
        axes.plot(
            s["results"][rate],
            _quality(s["results"], quality),
            marker="o",
            markersize=3,
            label=s["name"],
        )
    axes.set_xscale("log")
    axes.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axes.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("bits per pixel" if rate == "bpp" else "kbit/s")
    axes.set_ylabel(label)
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def write_report(
    out_dir: Path,
    summaries: list[dict],
    anchors: list[str],
    kind: str,
    header: str,
    per_item: bool,
    force: bool,
) -> list[Path]:
    """Write every output of an evaluation into ``out_dir``; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for s in summaries:
        written.append(out_dir / f"{file_stem(s['name'])}.json")
        write_atomic(written[-1], method_json(s, per_item).encode(), force=force)
    written.append(out_dir / "bd-rate.md")
    write_atomic(
        written[-1], markdown_report(summaries, anchors, kind, header).encode(), force=force
    )
    for stem, rate, quality, label in PLOTS[kind]:
        written.append(out_dir / f"{stem}.png")
        title = header.splitlines()[0].lstrip("# ")
        write_atomic(written[-1], plot_png(summaries, rate, quality, label, title), force=force)
    return written
