"""Every figure the project shows, as functions that return matplotlib Figures.

The answer key and the per-student HTML reports draw the same pictures, so they live
here once. Figures are `matplotlib.figure.Figure` objects with their own Agg canvas,
never pyplot figures: a notebook's backend is left alone, nothing is registered with
pyplot (so nothing leaks), and figures can be drawn in several threads at once. Fonts
are set per artist, not through `rcParams`, so the caller's style is never changed.

Figures are drawn once per student, in the grading job, and stored with the result.
matplotlib's layout engines (constrained/tight layout measure every artist in an extra
pass, doubling the cost) are replaced by margins in inches sized from the text they
must hold. Sequence logos are drawn by logomaker.

Inputs are checked at the boundary with `reference.validation`: a bad argument raises
`InputError` naming it. Sizes suit a report about 700 px wide at the default 100 dpi.
"""

from __future__ import annotations

import base64
import io
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Rectangle
from matplotlib.textpath import text_to_path
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import precision_recall_curve, roc_curve

from reference import metrics
from reference.compare import motif_matrix
from reference.data import normalise_rule, rule_label
from reference.interaction import INTERACTION_CONDITIONS
from reference.motifs import information_matrix
from reference.validation import DNA_ALPHABET, InputError, check_array, check_motif

# One palette for every figure, so "the model", "the oracle" and "the student's own
# numbers" look the same wherever they appear in a report.
COLORS = {
    "model": "#1f5fa8",
    "validation": "#e07b00",
    "reported": "#e07b00",
    "pr": "#7b3fa0",
    "oracle": "#4d4d4d",
    "chance": "#b3b3b3",
    "motif": "#2e8b57",
    "outline": "#d62728",
    "expected": "#9a9a9a",
    "note": "#666666",
}
# Letter colours of the usual DNA logo (logomaker's "classic" scheme).
BASE_COLORS = {"A": "#109648", "C": "#255c99", "G": "#f7b32b", "T": "#d62839"}

REPORT_WIDTH = 7.0  # inches: 700 px at 100 dpi
FONT = "DejaVu Sans"  # ships with matplotlib, so every machine draws the same figure
LABEL_SIZE = 9
TICK_SIZE = 8
TITLE_SIZE = 10
NOTE_SIZE = 7
LOGO_ROW_HEIGHT = 0.6  # inches per logo row
LOGO_ROW_GAP = 0.1
LOGO_POSITION_WIDTH = 0.42  # inches per position, so short logos are not stretched flat
LOGO_LETTER_WIDTH = 0.95  # fraction of a position a letter may fill, as logomaker
MAX_BITS = 2.0
# Letters lower than this are under 0.1 px at report size; skipping them keeps the
# starter's 1e-6 pseudocounts from costing a glyph each.
MIN_VISIBLE_BITS = 2e-3
PWM_ROW_TOLERANCE = 1e-3
HEATMAP_CELL_WIDTH = 0.45  # inches
_CONDITION_MOTIFS = {"none": (), "A": (0,), "B": (1,), "A+B": (0, 1)}
_RULE_WORDS = {"all": "AND", "any": "OR", "xor": "XOR"}


# --------------------------------------------------------------------------- layout


def _new_figure(width: float, height: float) -> Figure:
    """A pyplot-free figure with its own Agg canvas."""
    fig = Figure(figsize=(width, height), facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def _axes_grid(
    fig: Figure,
    nrows: int,
    ncols: int,
    *,
    left: float,
    right: float,
    bottom: float,
    top: float,
    wgap: float = 0.0,
    hgap: float = 0.0,
    sharex: bool = False,
) -> list[list[Axes]]:
    """Axes placed by margins and gaps in inches, the fixed-cost stand-in for a layout engine."""
    fig_w, fig_h = fig.get_size_inches()
    cell_w = (fig_w - left - right - wgap * (ncols - 1)) / ncols
    cell_h = (fig_h - bottom - top - hgap * (nrows - 1)) / nrows
    grid: list[list[Axes]] = []
    first: Axes | None = None
    for r in range(nrows):
        row = []
        for c in range(ncols):
            x = left + c * (cell_w + wgap)
            y = fig_h - top - (r + 1) * cell_h - r * hgap
            ax = fig.add_axes(
                (x / fig_w, y / fig_h, cell_w / fig_w, cell_h / fig_h),
                sharex=first if sharex else None,
            )
            first = first or ax
            row.append(ax)
        grid.append(row)
    return grid


def _text_width(text: str, size: float, *, weight: str = "normal", family: str = FONT) -> float:
    """Width in inches of the widest line of `text`: margins are sized from it."""
    prop = FontProperties(family=family, size=size, weight=weight)
    widths = [
        text_to_path.get_text_width_height_descent(line, prop, ismath=False)[0]
        for line in str(text).split("\n")
    ]
    return max(widths, default=0.0) / 72.0


def _style_axes(ax: Axes, *, grid: bool = True) -> None:
    ax.tick_params(labelsize=TICK_SIZE, length=3, pad=2)
    ax.spines[["top", "right"]].set_visible(False)
    if grid:
        ax.grid(True, color="#e6e6e6", linewidth=0.6)
        ax.set_axisbelow(True)


def _title(ax: Axes, text: str) -> None:
    """An axes title at a fixed height: matplotlib would otherwise measure every tick
    label of the axes at draw time to dodge them, a tenth of a figure's cost."""
    ax.set_title(text, fontsize=TITLE_SIZE, y=1.0, pad=5, parse_math=False)


def _note(ax: Axes, text: str) -> None:
    """An empty panel that says why it is empty, rather than a blank box."""
    ax.set_axis_off()
    ax.text(
        0.5,
        0.5,
        text,
        ha="center",
        va="center",
        fontsize=LABEL_SIZE,
        color=COLORS["note"],
        transform=ax.transAxes,
    )


def _empty_figure(text: str) -> Figure:
    fig = _new_figure(REPORT_WIDTH, 1.2)
    _note(fig.add_axes((0, 0, 1, 1)), text)
    return fig


def _top_legend(fig: Figure, ax: Axes) -> None:
    """One legend for all panels, in the top margin, where it cannot cover a point."""
    handles, labels = ax.get_legend_handles_labels()
    fig_h = fig.get_size_inches()[1]
    fig.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, 1 - 0.04 / fig_h),
        ncols=len(labels),
        fontsize=TICK_SIZE,
        frameon=False,
        handlelength=1.8,
        columnspacing=1.4,
    )


def _fit_auc_limits(ax: Axes) -> None:
    """AUCs usually live in [0.5, 1]: zoom there, but never cut a point off."""
    low, _ = ax.get_ylim()
    ax.set_ylim(max(0.0, min(low, 0.5)), 1.01)


# --------------------------------------------------------------------------- validation


def _number(name: str, value: Any, *, allow_missing: bool = False) -> float:
    """A finite float, or NaN for None/NaN where a missing value is acceptable."""
    if value is None and allow_missing:
        return math.nan
    if isinstance(value, bool | str | bytes):
        raise InputError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a number, got {value!r}") from exc
    if math.isnan(number) and allow_missing:
        return number
    if not math.isfinite(number):
        raise InputError(f"{name} must be a finite number, got {value!r}")
    return number


def _auc_value(name: str, value: Any) -> float:
    """An AUC in [0, 1]; a missing one (None/NaN) becomes NaN and is not drawn.

    Trapezoid sums can overshoot 1 by a rounding error; that is clipped, not refused.
    """
    number = _number(name, value, allow_missing=True)
    if not math.isnan(number) and not -1e-9 <= number <= 1.0 + 1e-9:
        raise InputError(f"{name} must be between 0 and 1, got {number}")
    return number if math.isnan(number) else min(max(number, 0.0), 1.0)


def _row_list(name: str, rows: Any) -> list[Mapping]:
    if isinstance(rows, str | bytes) or not isinstance(rows, Sequence):
        raise InputError(f"{name} must be a list of dicts, got {type(rows).__name__}")
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InputError(f"{name}[{i}] must be a dict, got {type(row).__name__}")
    return list(rows)


def _require(name: str, row: Mapping, keys: Sequence[str]) -> None:
    missing = [k for k in keys if k not in row]
    if missing:
        raise InputError(f"{name} is missing {', '.join(map(repr, missing))}; it has {list(row)}")


def _check_pwm(name: str, pwm: Any) -> np.ndarray:
    pwm = check_array(name, pwm, ndim=2, last_dim=4, finite=True)
    if pwm.dtype.kind not in "biuf":
        raise InputError(f"{name} must hold numbers, got dtype {pwm.dtype}")
    pwm = pwm.astype(float)
    if pwm.shape[0] == 0:
        raise InputError(f"{name} has no positions; a PWM must be (width, 4) with width >= 1")
    if np.any(pwm < 0):
        raise InputError(f"{name} has negative entries; a PWM holds base frequencies")
    sums = pwm.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > PWM_ROW_TOLERANCE)
    if bad.size:
        raise InputError(
            f"{name} row {int(bad[0])} sums to {sums[bad[0]]:.4g} but a PWM's rows must sum to "
            "1; turn counts into frequencies first (reference.motifs.pfm_to_pwm)"
        )
    return pwm


def _check_labels_scores(labels: Any, scores: Any, scores_name: str) -> tuple[np.ndarray, ...]:
    labels = check_array("labels", labels).ravel()
    scores = check_array(scores_name, scores).ravel()
    if scores.dtype.kind not in "biuf":
        raise InputError(f"{scores_name} must be numbers, got dtype {scores.dtype}")
    scores = scores.astype(np.float64)
    if labels.size != scores.size:
        raise InputError(f"labels has {labels.size} entries but {scores_name} has {scores.size}")
    if not np.all(np.isfinite(scores)):
        raise InputError(
            f"{scores_name} contain NaN or infinite values; the model's output is broken"
        )
    if labels.dtype.kind not in "biuf" or not np.all(np.isin(labels, (0, 1))):
        raise InputError("labels must be 0 or 1")
    if np.unique(labels).size != 2:
        raise InputError("labels must contain both classes (0 and 1) to draw ROC and PR curves")
    return labels.astype(np.int64), scores


# --------------------------------------------------------------------------- logos


def logo_frame(pwm: np.ndarray):
    """Letter heights in bits as a DataFrame (rows positions from 1, columns A C G T).

    The layout logomaker reads; heights are `reference.motifs.information_matrix`,
    with letters too small to see set to 0.
    """
    import pandas as pd

    heights = information_matrix(_check_pwm("pwm", pwm))
    heights[heights < MIN_VISIBLE_BITS] = 0.0
    return pd.DataFrame(heights, columns=list(DNA_ALPHABET), index=np.arange(1, len(pwm) + 1))


def _draw_logo(ax: Axes, frame) -> None:
    import logomaker  # imported on first use: it loads pyplot, which costs about a second

    logomaker.Logo(
        frame,
        ax=ax,
        color_scheme=BASE_COLORS,
        font_name=FONT,
        font_weight="bold",
        width=LOGO_LETTER_WIDTH,
        baseline_width=0.0,
    )


def logo_figure(
    pwms: Sequence[np.ndarray],
    titles: Sequence[str],
    motif: str | None = None,
) -> Figure:
    """Information logos of filter PWMs, one row each, the implanted motif on top.

    Letter height is frequency x information content, so a certain base is 2 bits
    tall and an uninformative column is empty: the eye reads how sure the filter is,
    not only its consensus. All rows share one x scale (position 1 at the left) so a
    filter's width can be compared with the motif's. Letters are drawn by logomaker.
    """
    if isinstance(pwms, np.ndarray) and pwms.ndim == 2:
        raise InputError(
            f"pwms has shape {pwms.shape}; pass a list of (width, 4) PWMs, e.g. [pwm] for one"
        )
    if isinstance(pwms, str) or not isinstance(pwms, Sequence | np.ndarray):
        raise InputError(f"pwms must be a list of (width, 4) arrays, got {type(pwms).__name__}")
    checked = [_check_pwm(f"pwms[{i}]", p) for i, p in enumerate(pwms)]
    if isinstance(titles, str) or not isinstance(titles, Sequence):
        raise InputError(f"titles must be a list of strings, got {type(titles).__name__}")
    if len(titles) != len(checked):
        raise InputError(f"titles has {len(titles)} entries but pwms has {len(checked)}")
    rows = [(p, str(t), False) for p, t in zip(checked, titles, strict=True)]
    if motif is not None:
        motif = check_motif("motif", motif)
        rows.insert(0, (motif_matrix(motif), f"implanted motif\n{motif}", True))
    if not rows:
        raise InputError("pwms is empty and no motif was given: there is no logo to draw")

    positions = max(len(p) for p, _, _ in rows)
    title_width = max(
        _text_width(t, LABEL_SIZE, weight="bold" if m else "normal") for _, t, m in rows
    )
    left, right, bottom, top, title_gap = 0.5, 0.12, 0.42, 0.08, 0.12
    logo_width = min(
        REPORT_WIDTH - left - right - title_gap - title_width, positions * LOGO_POSITION_WIDTH
    )
    logo_width = max(logo_width, 1.2)
    fig_width = min(REPORT_WIDTH, left + logo_width + title_gap + title_width + right)
    fig_height = bottom + top + len(rows) * LOGO_ROW_HEIGHT + (len(rows) - 1) * LOGO_ROW_GAP
    fig = _new_figure(fig_width, fig_height)
    axes = [
        row[0]
        for row in _axes_grid(
            fig,
            len(rows),
            1,
            left=left,
            right=fig_width - left - logo_width,
            bottom=bottom,
            top=top,
            hgap=LOGO_ROW_GAP,
        )
    ]
    for ax, (pwm, title, is_motif) in zip(axes, rows, strict=True):
        frame = logo_frame(pwm)
        if frame.to_numpy().any():
            _draw_logo(ax, frame)
        ax.set_xlim(0.5, positions + 0.5)
        ax.set_ylim(0.0, MAX_BITS)
        ax.set_yticks([0, 1, 2])
        ax.set_xticks([])  # only the bottom row is labelled; ticks are costly artists
        ax.tick_params(labelsize=TICK_SIZE - 1, length=2, pad=1)
        ax.spines[["top", "right"]].set_visible(False)
        if is_motif:
            ax.set_facecolor("#eef6f0")
        ax.text(
            1 + title_gap / logo_width,
            0.5,
            title,
            transform=ax.transAxes,
            ha="left",
            va="center",
            fontsize=LABEL_SIZE,
            color=COLORS["motif"] if is_motif else "#222222",
            fontweight="bold" if is_motif else "normal",
            parse_math=False,
        )
    axes[-1].set_xticks(np.arange(1, positions + 1))
    axes[-1].set_xlabel("position", fontsize=LABEL_SIZE, labelpad=2)
    fig.text(
        0.1 / fig_width,
        0.5 + (bottom - top) / (2 * fig_height),
        "bits",
        rotation=90,
        ha="left",
        va="center",
        fontsize=LABEL_SIZE,
    )
    return fig


# --------------------------------------------------------------------------- ROC / PR


def roc_pr_figure(labels, scores, oracle_scores=None, title: str = "") -> Figure:
    """ROC and PR curves side by side, with the Bayes-optimal curves when given.

    PR AUC is the starter's `auc(recall, precision)` so the number in the legend is the
    one a student printed; the oracle's dashed curves show how much room was left.
    """
    labels, scores = _check_labels_scores(labels, scores, "scores")
    curves = [("model", scores, COLORS["model"], "-")]
    if oracle_scores is not None:
        _, oracle = _check_labels_scores(labels, oracle_scores, "oracle_scores")
        curves.append(("oracle", oracle, COLORS["oracle"], "--"))

    top = 0.32 + (0.3 if title else 0.0)
    fig = _new_figure(REPORT_WIDTH, 3.1 + (0.3 if title else 0.0))
    ax_roc, ax_pr = _axes_grid(fig, 1, 2, left=0.6, right=0.15, bottom=0.48, top=top, wgap=0.75)[0]
    ax_roc.plot([0, 1], [0, 1], color=COLORS["chance"], lw=0.9, ls=":", label="chance")
    ax_pr.axhline(float(labels.mean()), color=COLORS["chance"], lw=0.9, ls=":", label="chance")
    for name, values, color, style in curves:
        # The curves are drawn from scikit-learn; the numbers in the legend are the
        # ones every report prints (reference.metrics), so they can never disagree.
        fpr, tpr, _ = roc_curve(labels, values)
        roc_auc = metrics.roc_auc(labels, values)
        ax_roc.plot(fpr, tpr, color=color, ls=style, lw=1.6, label=f"{name}: AUC {roc_auc:.3f}")
        precision, recall, _ = precision_recall_curve(labels, values)
        pr_auc = metrics.pr_auc(labels, values)
        ax_pr.plot(
            recall, precision, color=color, ls=style, lw=1.6, label=f"{name}: PR AUC {pr_auc:.3f}"
        )
    for ax, xlabel, ylabel, name in (
        (ax_roc, "false positive rate", "true positive rate", "ROC curve"),
        (ax_pr, "recall", "precision", "Precision-recall curve"),
    ):
        _style_axes(ax)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(xlabel, fontsize=LABEL_SIZE, labelpad=2)
        ax.set_ylabel(ylabel, fontsize=LABEL_SIZE, labelpad=3)
        _title(ax, name)
    ax_roc.legend(loc="lower right", fontsize=TICK_SIZE, frameon=False, handlelength=1.8)
    ax_pr.legend(loc="lower left", fontsize=TICK_SIZE, frameon=False, handlelength=1.8)
    if title:
        fig.suptitle(
            str(title),
            y=1 - 0.06 / fig.get_size_inches()[1],
            va="top",
            fontsize=TITLE_SIZE + 1,
            fontweight="bold",
        )
    return fig


# --------------------------------------------------------------------------- training


def _history_mapping(history_like: Any) -> Mapping:
    if history_like is None:
        return {}
    if isinstance(history_like, Mapping):
        return history_like
    inner = getattr(history_like, "history", None)
    if isinstance(inner, Mapping):
        return inner
    raise InputError(
        "history must be a dict of lists (e.g. {'loss': [...], 'val_loss': [...]}) or a Keras "
        f"History with a .history dict, got {type(history_like).__name__}"
    )


def _float_list(name: str, values: Any) -> list[float]:
    if isinstance(values, str | bytes | Mapping):
        raise InputError(f"{name} must be a list of numbers, got {type(values).__name__}")
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a list of numbers: {exc}") from exc
    if array.ndim > 1:
        raise InputError(f"{name} has shape {array.shape} but must be a flat list of numbers")
    return [float(v) for v in np.atleast_1d(array)]


def training_history_from(history_like: Any) -> dict[str, list[float]]:
    """Plain lists of floats from a dict of lists or a Keras `History` (None gives {}).

    Keras stores numpy or tensor scalars; plain floats can be stored as JSON and
    plotted anywhere, after the model and TensorFlow are gone.
    """
    mapping = _history_mapping(history_like)
    return {str(k): _float_list(f"history[{k!r}]", v) for k, v in mapping.items()}


def loss_figure(history: Mapping[str, Sequence[float]]) -> Figure:
    """Training and validation loss per epoch, the best validation epoch starred.

    Only "loss" and "val_loss" are read, so other entries (metrics, learning rates)
    can be anything; a Keras `History` works too. The starred epoch is the one
    EarlyStopping with `restore_best_weights` keeps.
    """
    mapping = _history_mapping(history)
    series = {
        key: _float_list(f"history[{key!r}]", mapping[key])
        for key in ("loss", "val_loss")
        if key in mapping and mapping[key] is not None
    }
    series = {k: v for k, v in series.items() if v}
    if not series:
        return _empty_figure("no training history")
    fig = _new_figure(REPORT_WIDTH, 2.5)
    ax = _axes_grid(fig, 1, 1, left=0.62, right=0.15, bottom=0.45, top=0.3)[0][0]
    styles = {
        "loss": ("training loss", COLORS["model"]),
        "val_loss": ("validation loss", COLORS["validation"]),
    }
    non_finite = False
    for key, values in series.items():
        array = np.asarray(values)
        non_finite |= not np.all(np.isfinite(array))
        array = np.where(np.isfinite(array), array, np.nan)
        label, color = styles[key]
        ax.plot(
            np.arange(1, array.size + 1), array, color=color, lw=1.6, marker="o", ms=3, label=label
        )
        if key == "val_loss" and np.isfinite(array).any():
            best = int(np.nanargmin(array))
            ax.plot(
                best + 1,
                array[best],
                marker="*",
                ms=12,
                color=color,
                ls="none",
                markeredgecolor="white",
                markeredgewidth=0.6,
                label=f"best validation (epoch {best + 1})",
            )
    _style_axes(ax)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch", fontsize=LABEL_SIZE, labelpad=2)
    ax.set_ylabel("loss", fontsize=LABEL_SIZE)
    title = "Loss curves (binary cross-entropy)"
    if non_finite:
        title += ": NaN or infinite values not drawn"
    _title(ax, title)
    ax.legend(loc="upper right", fontsize=TICK_SIZE, frameon=False, handlelength=1.8)
    return fig


# --------------------------------------------------------------------------- sweeps


def _kernel_rows(name: str, rows: Any) -> list[tuple[int, float, float]]:
    if isinstance(rows, Mapping) and "kernel_size" not in rows:
        # The contract's {kernel_size: {"roc_auc": ..., "pr_auc": ...}} form.
        rows = [
            {"kernel_size": k, **(v if isinstance(v, Mapping) else {})} for k, v in rows.items()
        ]
    parsed = []
    for i, row in enumerate(_row_list(name, rows)):
        where = f"{name}[{i}]"
        _require(where, row, ("kernel_size", "roc_auc", "pr_auc"))
        size = _number(f"{where}['kernel_size']", row["kernel_size"])
        if size < 1 or size != int(size):
            raise InputError(f"{where}['kernel_size'] must be a whole number >= 1, got {size}")
        roc = _auc_value(f"{where}['roc_auc']", row["roc_auc"])
        parsed.append((int(size), roc, _auc_value(f"{where}['pr_auc']", row["pr_auc"])))
    return sorted(parsed)


def kernel_sweep_figure(
    rows: Sequence[Mapping],
    motif_length: int,
    reported: Sequence[Mapping] | None = None,
    oracle_roc_auc: float | None = None,
) -> Figure:
    """ROC AUC and PR AUC against kernel size: measured, as reported, and the ceiling.

    The vertical line is the motif length, since Q2 asks what happens either side of
    it. The student's own numbers sit on the same axes so a claim can be read
    against the grader's measurement at a glance. Missing AUCs (None) are skipped.
    """
    measured = _kernel_rows("rows", rows)
    claimed = _kernel_rows("reported", reported) if reported is not None else []
    length = _number("motif_length", motif_length)
    if length < 1 or length != int(length):
        raise InputError(f"motif_length must be a whole number >= 1, got {motif_length!r}")
    length = int(length)
    oracle = None
    if oracle_roc_auc is not None:
        oracle = _auc_value("oracle_roc_auc", oracle_roc_auc)
        oracle = None if math.isnan(oracle) else oracle
    if not measured and not claimed:
        return _empty_figure("no kernel-size results")

    fig = _new_figure(REPORT_WIDTH, 2.9)
    axes = _axes_grid(
        fig, 1, 2, left=0.6, right=0.15, bottom=0.45, top=0.58, wgap=0.7, sharex=True
    )[0]
    sizes = sorted({r[0] for r in measured + claimed} | {length})
    for ax, column, metric in ((axes[0], 1, "ROC AUC"), (axes[1], 2, "PR AUC")):
        if measured:
            ax.plot(
                [r[0] for r in measured],
                [r[column] for r in measured],
                color=COLORS["model"],
                marker="o",
                ms=5,
                lw=1.6,
                label="measured",
            )
        if claimed:
            ax.plot(
                [r[0] for r in claimed],
                [r[column] for r in claimed],
                color=COLORS["reported"],
                marker="X",
                ms=8,
                ls="none",
                markeredgecolor="white",
                markeredgewidth=0.5,
                label="reported",
            )
        ax.axvline(length, color=COLORS["motif"], ls=":", lw=1.3, label=f"motif length {length}")
        if oracle is not None and column == 1:
            ax.axhline(
                oracle, color=COLORS["oracle"], ls="--", lw=1.1, label=f"oracle {oracle:.3f}"
            )
        _style_axes(ax)
        if len(sizes) <= 14:
            ax.set_xticks(sizes)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("kernel size", fontsize=LABEL_SIZE, labelpad=2)
        ax.set_ylabel(metric, fontsize=LABEL_SIZE)
        _title(ax, f"{metric} vs kernel size")
        _fit_auc_limits(ax)
    _top_legend(fig, axes[0])
    return fig


def _noise_rows(rows: Any) -> list[dict[str, float]]:
    parsed = []
    for i, row in enumerate(_row_list("rows", rows)):
        where = f"rows[{i}]"
        _require(where, row, ("motif_prob", "noise_std", "roc_auc", "pr_auc"))
        motif_prob = _number(f"{where}['motif_prob']", row["motif_prob"])
        if not 0.0 <= motif_prob <= 1.0:
            raise InputError(f"{where}['motif_prob'] must be between 0 and 1, got {motif_prob}")
        noise_std = _number(f"{where}['noise_std']", row["noise_std"])
        if noise_std < 0:
            raise InputError(f"{where}['noise_std'] must be >= 0, got {noise_std}")
        parsed.append(
            {
                "motif_prob": motif_prob,
                "noise_std": noise_std,
                "roc_auc": _auc_value(f"{where}['roc_auc']", row["roc_auc"]),
                "pr_auc": _auc_value(f"{where}['pr_auc']", row["pr_auc"]),
                "oracle_roc_auc": _auc_value(
                    f"{where}['oracle_roc_auc']", row.get("oracle_roc_auc")
                ),
            }
        )
    return parsed


def _mean_by(points: list[dict[str, float]], x: str, y: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean of `y` at each `x`, missing values left out: repeated settings become one point."""
    xs = sorted({p[x] for p in points if not math.isnan(p[y])})
    means = [np.mean([p[y] for p in points if p[x] == v and not math.isnan(p[y])]) for v in xs]
    return np.asarray(xs), np.asarray(means)


def noise_sweep_figure(rows: Sequence[Mapping]) -> Figure:
    """AUC as the signal weakens: fewer positives carry the motif, or noise is added.

    Each panel varies one knob with the other at its clean value (noise_std 0,
    motif_prob 1); a panel without rows is left out, rows that change both knobs are
    not drawn and the figure says so. The oracle's ROC AUC, when given, shows how much
    of the drop no model could avoid.
    """
    parsed = _noise_rows(rows)
    clean_noise = [r for r in parsed if r["noise_std"] == 0.0]
    clean_prob = [r for r in parsed if r["motif_prob"] == 1.0]
    panels = [
        (
            clean_noise,
            "motif_prob",
            "motif probability (noise_std = 0)",
            "AUC vs motif probability",
        ),
        (clean_prob, "noise_std", "noise std (motif_prob = 1)", "AUC vs Gaussian noise"),
    ]
    # A panel needs its knob turned: the clean baseline alone is one point on both.
    panels = [p for p in panels if len({r[p[1]] for r in p[0]}) > 1]
    if not panels:
        return _empty_figure("no noise results")
    left_out = sum(1 for r in parsed if r["noise_std"] != 0.0 and r["motif_prob"] != 1.0)
    bottom = 0.45 + (0.16 if left_out else 0.0)
    width = REPORT_WIDTH if len(panels) == 2 else 0.6 * REPORT_WIDTH
    fig = _new_figure(width, 2.9 + (0.16 if left_out else 0.0))
    axes = _axes_grid(fig, 1, len(panels), left=0.6, right=0.15, bottom=bottom, top=0.58, wgap=0.7)[
        0
    ]
    for ax, (points, x, xlabel, title) in zip(axes, panels, strict=True):
        for key, label, color, style, marker in (
            ("roc_auc", "ROC AUC", COLORS["model"], "-", "o"),
            ("pr_auc", "PR AUC", COLORS["pr"], "-", "s"),
            ("oracle_roc_auc", "oracle ROC AUC", COLORS["oracle"], "--", "none"),
        ):
            xs, ys = _mean_by(points, x, key)
            if xs.size >= (2 if marker == "none" else 1):  # a lone point needs a marker
                ax.plot(xs, ys, color=color, ls=style, marker=marker, ms=4.5, lw=1.5, label=label)
        _style_axes(ax)
        ax.set_xlabel(xlabel, fontsize=LABEL_SIZE, labelpad=2)
        ax.set_ylabel("AUC", fontsize=LABEL_SIZE)
        _title(ax, title)
        _fit_auc_limits(ax)
    _top_legend(fig, max(axes, key=lambda a: len(a.get_lines())))
    if left_out:
        fig.text(
            0.06 / width,
            0.05 / fig.get_size_inches()[1],
            f"{left_out} row(s) changing both motif_prob and noise_std are not drawn",
            ha="left",
            va="bottom",
            fontsize=NOTE_SIZE,
            color=COLORS["note"],
        )
    return fig


# --------------------------------------------------------------------------- multi-motif


def _check_assignment(assignment: Any, n_filters: int, n_motifs: int) -> list[int]:
    if isinstance(assignment, str) or not isinstance(assignment, Sequence | np.ndarray):
        raise InputError(f"assignment must be a list of filter indices, got {assignment!r}")
    if len(assignment) != n_motifs:
        raise InputError(
            f"assignment has {len(assignment)} entries but there are {n_motifs} motifs"
        )
    chosen = []
    for i, f in enumerate(assignment):
        index = _number(f"assignment[{i}]", f)
        if index != int(index) or not -1 <= index < n_filters:
            raise InputError(
                f"assignment[{i}] must be a filter index 0..{n_filters - 1} (or -1), got {f!r}"
            )
        chosen.append(int(index))
    return chosen


def similarity_heatmap_figure(
    similarities: np.ndarray, motifs: Sequence[str], assignment: Sequence[int] | None = None
) -> Figure:
    """Which filter learned which motif: similarity of every filter to every motif.

    Drawn motifs x filters (the transpose of the input) so that many filters spread
    across the report's width. The colour scale stops at 0 because an anti-correlated
    filter is as useless as an unrelated one. The filter assigned to each motif (one
    distinct filter per motif, -1 for none) is outlined when `assignment` is given.
    """
    similarities = check_array("similarities", similarities, ndim=2, finite=True)
    if similarities.dtype.kind not in "biuf":
        raise InputError(f"similarities must hold numbers, got dtype {similarities.dtype}")
    similarities = similarities.astype(float)
    if isinstance(motifs, str) or not isinstance(motifs, Sequence):
        raise InputError(f"motifs must be a list of motif strings, got {motifs!r}")
    motifs = [check_motif(f"motifs[{i}]", m) for i, m in enumerate(motifs)]
    n_filters, n_motifs = similarities.shape
    if n_filters == 0 or n_motifs == 0:
        raise InputError(
            f"similarities has shape {similarities.shape}; it needs filters and motifs"
        )
    if n_motifs != len(motifs):
        raise InputError(
            f"similarities has {n_motifs} columns (motifs) but motifs has {len(motifs)} entries"
        )
    if np.any(np.abs(similarities) > 1 + 1e-9):
        raise InputError("similarities must lie between -1 and 1 (Pearson correlations)")
    chosen = [] if assignment is None else _check_assignment(assignment, n_filters, n_motifs)

    title = "Filter-motif similarity" + (" (assigned filter outlined)" if chosen else "")
    left, right = (
        0.25 + max(_text_width(m, TICK_SIZE, family="DejaVu Sans Mono") for m in motifs),
        0.95,
    )
    # Cells no wider than HEATMAP_CELL_WIDTH, but the axes at least as wide as the title.
    heat_width = max(
        min(REPORT_WIDTH - left - right, n_filters * HEATMAP_CELL_WIDTH),
        _text_width(title, TITLE_SIZE) + 0.1,
    )
    fig = _new_figure(left + heat_width + right, 1.0 + 0.4 * n_motifs)
    ax = _axes_grid(fig, 1, 1, left=left, right=right, bottom=0.45, top=0.32)[0][0]
    image = ax.imshow(
        similarities.T, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest"
    )
    fig_w, fig_h = fig.get_size_inches()
    bar = fig.add_axes(((fig_w - 0.8) / fig_w, 0.45 / fig_h, 0.12 / fig_w, (fig_h - 0.77) / fig_h))
    colorbar = fig.colorbar(image, cax=bar)
    colorbar.set_label("similarity", fontsize=TICK_SIZE)
    colorbar.set_ticks([0, 0.5, 1])
    bar.tick_params(labelsize=TICK_SIZE - 1, length=2)
    ax.set_yticks(range(n_motifs), motifs, fontsize=TICK_SIZE, family="DejaVu Sans Mono")
    if n_filters <= 40:
        ax.set_xticks(range(n_filters))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(axis="x", labelsize=TICK_SIZE - (1 if n_filters > 24 else 0), length=2)
    ax.tick_params(axis="y", length=2)
    ax.set_xlabel("filter", fontsize=LABEL_SIZE, labelpad=2)
    if n_filters <= 32:  # wider grids have no room for numbers; colours still read
        size = TICK_SIZE - (n_filters > 16) - (n_filters > 24)
        for (f, m), value in np.ndenumerate(similarities):
            text = f"{value:.2f}"
            if n_filters > 16:  # narrow cells: drop the leading zero
                text = text.replace("0.", ".", 1)
            ax.text(
                f,
                m,
                text,
                ha="center",
                va="center",
                fontsize=size,
                color="black" if value > 0.6 else "white",
            )
    for m, f in enumerate(chosen):
        if f >= 0:
            ax.add_patch(
                Rectangle(
                    (f - 0.5, m - 0.5),
                    1,
                    1,
                    fill=False,
                    edgecolor=COLORS["outline"],
                    lw=2.2,
                    clip_on=False,
                )
            )
    _title(ax, title)
    return fig


def interaction_figure(mean_scores: Mapping[str, float], rule: str) -> Figure:
    """Mean model output with neither, one or both motifs, against the rule's pattern.

    A model that captured the interaction fills the hatched bars (where the rule says
    positive) and stays low elsewhere; an AND model that fires on A alone has only
    learned A.
    """
    if not isinstance(mean_scores, Mapping):
        raise InputError(
            f"mean_scores must be a dict with keys {list(INTERACTION_CONDITIONS)}, "
            f"got {type(mean_scores).__name__}"
        )
    missing = [c for c in INTERACTION_CONDITIONS if c not in mean_scores]
    if missing:
        raise InputError(f"mean_scores is missing {', '.join(map(repr, missing))}")
    values = [_number(f"mean_scores[{c!r}]", mean_scores[c]) for c in INTERACTION_CONDITIONS]
    canonical = normalise_rule(rule)
    expected = [
        rule_label(frozenset(_CONDITION_MOTIFS[c]), 2, canonical) for c in INTERACTION_CONDITIONS
    ]

    fig = _new_figure(5.0, 2.9)
    ax = _axes_grid(fig, 1, 1, left=0.6, right=0.15, bottom=0.62, top=0.58)[0][0]
    x = np.arange(len(INTERACTION_CONDITIONS))
    ax.bar(
        x,
        expected,
        width=0.8,
        fill=False,
        hatch="///",
        edgecolor=COLORS["expected"],
        lw=0.8,
        label=f"expected positive under {_RULE_WORDS[canonical]}",
    )
    bars = ax.bar(x, values, width=0.5, color=COLORS["model"], label="mean model output")
    for bar, value in zip(bars, values, strict=True):
        # Inside the bar when it is tall enough, so the number never meets the hatching.
        inside = value > 0.15
        ax.text(
            bar.get_x() + bar.get_width() / 2,
            value - 0.03 if inside else max(value, 0.0) + 0.03,
            f"{value:.2f}",
            ha="center",
            va="top" if inside else "bottom",
            fontsize=TICK_SIZE,
            color="white" if inside else "#222222",
        )
    ax.axhline(0.5, color=COLORS["chance"], ls=":", lw=0.9)
    ticks = [
        f"{c}\n({'high' if e else 'low'})"
        for c, e in zip(INTERACTION_CONDITIONS, expected, strict=True)
    ]
    ax.set_xticks(x, ticks)
    _style_axes(ax)
    ax.grid(False, axis="x")
    ax.set_ylim(min(0.0, min(values) * 1.1), max(1.0, max(values)) * 1.1)
    ax.set_ylabel("mean model output", fontsize=LABEL_SIZE)
    ax.set_xlabel("motifs present (expected output)", fontsize=LABEL_SIZE, labelpad=2)
    _title(ax, f"Interaction rule {str(rule)!r}")
    _top_legend(fig, ax)
    return fig


# --------------------------------------------------------------------------- output


def _close(fig: Figure) -> None:
    """Release pyplot's reference to the figure, if it has one.

    Figures made here are unknown to pyplot and are freed with their last reference;
    a pyplot figure (say, from a notebook) would otherwise stay open for ever.
    `fig.clear()` is not called: it rebuilds every axis and costs as much as a draw.
    """
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)


def figure_to_png_bytes(fig: Figure, dpi: int = 100) -> bytes:
    """PNG bytes of `fig`, which is closed afterwards so a batch of reports leaks nothing."""
    if not isinstance(fig, Figure):
        raise InputError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    resolution = _number("dpi", dpi)
    if resolution <= 0:
        raise InputError(f"dpi must be positive, got {dpi!r}")
    try:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=resolution, facecolor="white")
        return buffer.getvalue()
    finally:
        _close(fig)


def figure_to_data_uri(fig: Figure, dpi: int = 100) -> str:
    """A `data:image/png;base64,...` URI, so an HTML report is one self-contained file."""
    png = figure_to_png_bytes(fig, dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
