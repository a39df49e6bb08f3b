"""The ISM logo / heatmap pair: the figure DeepBind called a mutation map.

For each sequence shown, the top panel is a logo of the bases present around the
motif, each as tall as the output drops when it is changed (negative when changing
it raises the output); the bottom panel is the full (4 x L) heatmap of deltas, red where a
substitution raises the output and blue where it lowers it, with a dot on the base
present. The motif's window is outlined on both. Drawn with logomaker on figures
that pyplot never sees, like every figure in `reference.plots`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from reference.mutagenesis import importance
from reference.plots import (
    BASE_COLORS,
    COLORS,
    FONT,
    LABEL_SIZE,
    REPORT_WIDTH,
    TICK_SIZE,
    TITLE_SIZE,
    _axes_grid,
    _new_figure,
)
from reference.validation import DNA_ALPHABET, InputError, check_array

LOGO_HEIGHT = 0.8  # inches
HEATMAP_HEIGHT = 0.75
PAIR_GAP = 0.5
MIN_VISIBLE_SHARE = 0.01
# The logo shows the motif's window and this many positions either side (letters of
# all 101 would be under two pixels wide); the heatmap below shows the whole sequence.
LOGO_FLANK = 15


def ism_logo_frame(deltas: np.ndarray, codes: np.ndarray):
    """(L, 4) DataFrame for logomaker: only the present base, as tall as its importance."""
    import pandas as pd

    heights = np.zeros(deltas.shape, dtype=np.float64)
    heights[np.arange(len(codes)), codes] = importance(deltas[None], codes[None])[0]
    # Letters under 1% of the tallest are below a pixel at report size; each costs a glyph.
    heights[np.abs(heights) < MIN_VISIBLE_SHARE * np.abs(heights).max(initial=0.0)] = 0.0
    return pd.DataFrame(heights, columns=list(DNA_ALPHABET), index=np.arange(1, len(codes) + 1))


def mutation_map_figure(
    deltas: Sequence[np.ndarray],
    codes: Sequence[np.ndarray],
    windows: Sequence[tuple[int, int]],
    titles: Sequence[str],
) -> Figure:
    """One logo/heatmap pair per sequence; `windows` are (start, width) of the motif."""
    import logomaker  # loads pyplot on first use; only figures made here are drawn

    if not (len(deltas) == len(codes) == len(windows) == len(titles)) or not len(deltas):
        raise InputError("deltas, codes, windows and titles must be non-empty and equally long")
    checked = []
    for i, (d, c) in enumerate(zip(deltas, codes, strict=True)):
        d = check_array(f"deltas[{i}]", d, ndim=2, last_dim=4, finite=True).astype(float)
        c = check_array(f"codes[{i}]", c, ndim=1).astype(np.int64)
        if c.shape[0] != d.shape[0]:
            raise InputError(f"codes[{i}] has {c.shape[0]} bases but deltas[{i}] {d.shape[0]}")
        checked.append((d, c))
    n = len(checked)
    left, right, bottom, top = 0.55, 0.2, 0.4, 0.3
    height = bottom + top + n * (LOGO_HEIGHT + HEATMAP_HEIGHT) + (n - 1) * PAIR_GAP + n * 0.25
    fig = _new_figure(REPORT_WIDTH, height)
    limit = max(float(np.abs(d).max()) for d, _ in checked) or 1.0
    for i, ((d, c), (start, width), title) in enumerate(zip(checked, windows, titles, strict=True)):
        block_top = top + i * (LOGO_HEIGHT + HEATMAP_HEIGHT + PAIR_GAP + 0.25)
        block_bottom = height - block_top - LOGO_HEIGHT - HEATMAP_HEIGHT - 0.25
        (logo_ax,), (heat_ax,) = _axes_grid(
            fig,
            2,
            1,
            left=left,
            right=right,
            bottom=block_bottom,
            top=block_top,
            hgap=0.25,
        )
        length = d.shape[0]
        lo = max(0, start - LOGO_FLANK)
        hi = min(length, start + width + LOGO_FLANK)
        frame = ism_logo_frame(d, c).iloc[lo:hi]
        if np.any(frame.to_numpy()):
            logomaker.Logo(
                frame,
                ax=logo_ax,
                color_scheme=BASE_COLORS,
                font_name=FONT,
                font_weight="bold",
                baseline_width=0.5,
                flip_below=False,
            )
        logo_ax.set_xlim(lo + 0.5, hi + 0.5)
        low, high = float(frame.to_numpy().min()), float(frame.to_numpy().max())
        pad = 0.05 * max(high - low, 1e-9)
        logo_ax.set_ylim(min(low, 0.0) - pad, max(high, 0.0) + pad)
        logo_ax.set_xticks(np.arange(lo + 1, hi + 1, 5))
        logo_ax.tick_params(labelsize=TICK_SIZE - 1, length=2, pad=1)
        logo_ax.spines[["top", "right"]].set_visible(False)
        logo_ax.set_ylabel("drop", fontsize=TICK_SIZE)
        logo_ax.set_title(title, fontsize=TITLE_SIZE, loc="left", pad=4, parse_math=False)
        heat_ax.imshow(
            d.T,
            aspect="auto",
            cmap="RdBu_r",
            vmin=-limit,
            vmax=limit,
            extent=(0.5, length + 0.5, 3.5, -0.5),
            interpolation="nearest",
        )
        heat_ax.scatter(np.arange(1, length + 1), c, s=2, color="#222222", marker="o")
        heat_ax.set_yticks(range(4), list(DNA_ALPHABET))
        heat_ax.tick_params(labelsize=TICK_SIZE - 1, length=2, pad=1)
        heat_ax.set_xlabel("position", fontsize=LABEL_SIZE, labelpad=1)
        for ax, (y0, y1) in ((logo_ax, logo_ax.get_ylim()), (heat_ax, (-0.5, 3.5))):
            ax.add_patch(
                Rectangle(
                    (start + 0.5, y0),
                    width,
                    y1 - y0,
                    fill=False,
                    edgecolor=COLORS["motif"],
                    linewidth=1.2,
                )
            )
    return fig
