"""The figures of the answer key and the reports: what they hold, and that nothing leaks."""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PatchCollection
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle

from reference import plots
from reference.compare import motif_matrix
from reference.metrics import evaluate
from reference.validation import InputError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KERNEL_ROWS = [
    {"kernel_size": 11, "roc_auc": 0.94, "pr_auc": 0.915},
    {"kernel_size": 3, "roc_auc": 0.71, "pr_auc": 0.68},
    {"kernel_size": 5, "roc_auc": 0.905, "pr_auc": 0.86},
]
NOISE_ROWS = [
    {"motif_prob": 1.0, "noise_std": 0.0, "roc_auc": 0.92, "pr_auc": 0.88, "oracle_roc_auc": 0.95},
    {"motif_prob": 0.8, "noise_std": 0.0, "roc_auc": 0.84, "pr_auc": 0.80, "oracle_roc_auc": 0.87},
    {"motif_prob": 0.5, "noise_std": 0.0, "roc_auc": 0.70, "pr_auc": 0.66},
    {"motif_prob": 1.0, "noise_std": 0.5, "roc_auc": 0.80, "pr_auc": 0.75},
    {"motif_prob": 1.0, "noise_std": 1.0, "roc_auc": 0.66, "pr_auc": 0.61},
]
MEAN_SCORES = {"none": 0.05, "A": 0.31, "B": 0.28, "A+B": 0.93}


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the PNG header (IHDR is always the first chunk)."""
    return struct.unpack(">II", png[16:24])


def letter_boxes(ax) -> list[tuple[float, float, float, float, str]]:
    """(x centre, bottom, top, height, colour) of every letter drawn in a logo row."""
    boxes = []
    for collection in ax.collections:
        if not isinstance(collection, PatchCollection):
            continue
        for path, colour in zip(collection.get_paths(), collection.get_facecolors(), strict=True):
            ext = path.get_extents()
            boxes.append((ext.x0 + ext.width / 2, ext.y0, ext.y1, ext.height, to_hex(colour)))
    for patch in ax.patches:  # logomaker adds one patch per letter
        ext = patch.get_path().get_extents()
        boxes.append((ext.x0 + ext.width / 2, ext.y0, ext.y1, ext.height, to_hex(patch.get_fc())))
    return sorted(boxes)


@pytest.fixture
def scored() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, a noisy model's scores and integer oracle-like scores."""
    rng = np.random.default_rng(7)
    labels = np.repeat([0, 1], 200)
    oracle = labels * (rng.random(400) < 0.9) + (rng.random(400) < 0.05)
    scores = 1 / (1 + np.exp(-(oracle + rng.normal(0, 0.7, 400) - 0.5) * 2))
    return labels, scores, oracle.astype(float)


# --------------------------------------------------------------------------- logos


def test_logo_of_one_hot_acgtg_has_five_letters_two_bits_tall():
    fig = plots.logo_figure([motif_matrix("ACGTG")], ["ACGTG"])
    (ax,) = fig.axes
    boxes = letter_boxes(ax)
    assert [round(b[0], 9) for b in boxes] == [1, 2, 3, 4, 5]
    assert [b[1] for b in boxes] == pytest.approx([0.0] * 5, abs=1e-9)
    assert [b[3] for b in boxes] == pytest.approx([2.0] * 5, abs=1e-9)
    colours = [plots.BASE_COLORS[base] for base in "ACGTG"]
    assert [b[4] for b in boxes] == colours
    assert ax.get_ylim() == (0.0, 2.0)


def test_logo_figure_has_one_row_per_pwm_and_the_motif_first():
    rng = np.random.default_rng(0)
    pwms = [rng.dirichlet(np.ones(4), size=w) for w in (11, 5, 8)]
    fig = plots.logo_figure(pwms, ["filter 0", "filter 1", "filter 2"], motif="acgtg")
    assert len(fig.axes) == 4
    first_texts = [t.get_text() for t in fig.axes[0].texts]
    assert first_texts == ["implanted motif\nACGTG"]
    assert [t.get_text() for t in fig.axes[1].texts] == ["filter 0"]
    # One x scale for every row: the widest PWM's.
    assert {ax.get_xlim() for ax in fig.axes} == {(0.5, 11.5)}
    assert len(letter_boxes(fig.axes[0])) == 5
    assert png_size(plots.figure_to_png_bytes(fig))[0] <= 700


def test_logo_letters_are_frequency_times_information():
    pwm = np.array([[0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0.0, 0.0]])
    frame = plots.logo_frame(pwm)
    assert list(frame.columns) == ["A", "C", "G", "T"]
    assert list(frame.index) == [1, 2, 3]
    info = 2 + 0.7 * np.log2(0.7) + 3 * 0.1 * np.log2(0.1)
    assert frame.loc[1, "A"] == pytest.approx(0.7 * info)
    assert frame.loc[2].sum() == 0.0  # uniform: no information, no letters
    assert frame.loc[3, "A"] == frame.loc[3, "C"] == pytest.approx(0.5)
    (ax,) = plots.logo_figure([pwm], ["mixed"]).axes
    heights = sorted(round(b[3], 9) for b in letter_boxes(ax))
    assert heights == sorted(round(v, 9) for v in frame.to_numpy().ravel() if v > 0)


def test_logo_heights_agree_with_logomakers_information_transform():
    logomaker = pytest.importorskip("logomaker")
    pwm = np.random.default_rng(3).dirichlet(np.ones(4) * 0.5, size=9)
    frame = plots.logo_frame(pwm)
    probabilities = pd.DataFrame(pwm, columns=list("ACGT"))
    theirs = logomaker.transform_matrix(
        probabilities, from_type="probability", to_type="information"
    ).to_numpy(copy=True)
    theirs[theirs < plots.MIN_VISIBLE_BITS] = 0.0
    np.testing.assert_allclose(frame.to_numpy(), theirs, atol=1e-12)


@pytest.mark.parametrize(
    ("pwms", "titles", "motif", "named"),
    [
        ([np.full((5, 3), 1 / 3)], ["f"], None, "pwms[0]"),
        ([np.full((5, 4), 0.25), np.full(4, 0.25)], ["f", "g"], None, "pwms[1]"),
        ([np.full((5, 4), 10.0)], ["f"], None, "pfm_to_pwm"),
        ([np.full((5, 4), 0.25)], ["f", "g"], None, "titles"),
        ([np.full((5, 4), 0.25)], ["f"], "ACGXT", "motif"),
        (np.full((5, 4), 0.25), ["f"], None, "pwms"),
        ([], [], None, "pwms"),
    ],
)
def test_logo_figure_rejects_bad_input_naming_the_argument(pwms, titles, motif, named):
    with pytest.raises(InputError, match=named.replace("[", r"\[").replace("]", r"\]")):
        plots.logo_figure(pwms, titles, motif=motif)


# --------------------------------------------------------------------------- ROC / PR


def test_roc_pr_figure_legends_carry_the_assignments_auc_values(scored):
    labels, scores, oracle = scored
    fig = plots.roc_pr_figure(labels, scores, oracle, title="Hidden data")
    assert len(fig.axes) == 2
    ax_roc, ax_pr = fig.axes
    model, best = evaluate(labels, scores), evaluate(labels, oracle)
    roc_texts = [t.get_text() for t in ax_roc.get_legend().get_texts()]
    pr_texts = [t.get_text() for t in ax_pr.get_legend().get_texts()]
    assert roc_texts == [
        "chance",
        f"model: AUC {model.roc_auc:.3f}",
        f"oracle: AUC {best.roc_auc:.3f}",
    ]
    assert pr_texts == [
        "chance",
        f"model: PR AUC {model.pr_auc:.3f}",
        f"oracle: PR AUC {best.pr_auc:.3f}",
    ]
    assert [line.get_linestyle() for line in ax_roc.get_lines()] == [":", "-", "--"]
    assert fig.texts[0].get_text() == "Hidden data"
    assert png_size(plots.figure_to_png_bytes(fig)) == (700, 340)


def test_roc_pr_figure_without_oracle_draws_chance_and_model_only(scored):
    labels, scores, _ = scored
    fig = plots.roc_pr_figure(labels.tolist(), scores.tolist())
    assert [len(ax.get_lines()) for ax in fig.axes] == [2, 2]
    assert fig.texts == []


@pytest.mark.parametrize(
    ("labels", "scores", "oracle", "named"),
    [
        ([0, 1, 1], [0.1, 0.2], None, "scores"),
        ([0, 1, 1], [0.1, np.nan, 0.3], None, "scores"),
        ([1, 1, 1], [0.1, 0.2, 0.3], None, "labels"),
        ([0, 2, 1], [0.1, 0.2, 0.3], None, "labels"),
        ([0, 1, 1], [0.1, 0.2, 0.3], [0, 1], "oracle_scores"),
        ([0, 1, 1], [0.1, 0.2, 0.3], [0, np.inf, 1], "oracle_scores"),
        ([0, 1, 1], ["a", "b", "c"], None, "scores"),
    ],
)
def test_roc_pr_figure_rejects_bad_input_naming_the_argument(labels, scores, oracle, named):
    with pytest.raises(InputError, match=named):
        plots.roc_pr_figure(labels, scores, oracle)


# --------------------------------------------------------------------------- training


class FakeHistory:
    """What Keras's `History` offers: a `.history` dict of per-epoch numpy scalars."""

    def __init__(self, history):
        self.history = history


def test_training_history_from_returns_plain_float_lists():
    raw = {"loss": [np.float32(0.5), np.float64(0.25)], "val_loss": np.array([0.6, 0.3])}
    for source in (raw, FakeHistory(raw)):
        history = plots.training_history_from(source)
        assert history == {"loss": [0.5, 0.25], "val_loss": [0.6, 0.3]}
        assert all(type(v) is float for values in history.values() for v in values)
    assert plots.training_history_from(None) == {}
    assert plots.training_history_from({"lr": 0.001}) == {"lr": [0.001]}


@pytest.mark.parametrize(
    ("history", "named"),
    [
        ([0.5, 0.4], "history must be a dict"),
        ({"loss": ["a", "b"]}, r"history\['loss'\]"),
        ({"loss": [[0.5, 0.4]]}, r"history\['loss'\]"),
        ({"loss": "0.5"}, r"history\['loss'\]"),
    ],
)
def test_training_history_from_rejects_bad_input_naming_the_argument(history, named):
    with pytest.raises(InputError, match=named):
        plots.training_history_from(history)


def test_loss_figure_draws_both_curves_and_stars_the_best_validation_epoch():
    history = FakeHistory(
        {"loss": [0.69, 0.6, 0.5, 0.45], "val_loss": [0.68, 0.55, 0.5, 0.52], "lr": "junk"}
    )
    fig = plots.loss_figure(history)
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == [
        "training loss",
        "validation loss",
        "best validation (epoch 3)",
    ]
    assert list(lines[0].get_xdata()) == [1, 2, 3, 4]
    assert list(lines[2].get_xdata()) == [3]
    assert list(lines[2].get_ydata()) == [0.5]


def test_loss_figure_without_history_says_so():
    for empty in ({}, None, {"loss": [], "val_loss": []}, {"accuracy": [0.5]}):
        fig = plots.loss_figure(empty)
        assert len(fig.axes) == 1
        assert [t.get_text() for t in fig.axes[0].texts] == ["no training history"]
        assert plots.figure_to_png_bytes(fig).startswith(PNG_SIGNATURE)


def test_loss_figure_with_only_training_loss_and_a_nan_draws_what_it_can():
    fig = plots.loss_figure({"loss": [0.7, float("nan"), 0.5]})
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.get_lines()] == ["training loss"]
    assert "NaN" in ax.get_title()


# --------------------------------------------------------------------------- sweeps


def test_kernel_sweep_figure_draws_measured_reported_motif_length_and_oracle():
    reported = {5: {"roc_auc": 0.9047, "pr_auc": 0.8651}, 11: {"roc_auc": 0.99, "pr_auc": None}}
    fig = plots.kernel_sweep_figure(KERNEL_ROWS, 5, reported=reported, oracle_roc_auc=0.946)
    assert len(fig.axes) == 2
    roc, pr = fig.axes
    by_label = {line.get_label(): line for line in roc.get_lines()}
    assert list(by_label) == ["measured", "reported", "motif length 5", "oracle 0.946"]
    assert list(by_label["measured"].get_xdata()) == [3, 5, 11]
    assert list(by_label["measured"].get_ydata()) == [0.71, 0.905, 0.94]
    assert list(by_label["reported"].get_xdata()) == [5, 11]
    assert by_label["reported"].get_marker() != by_label["measured"].get_marker()
    assert list(by_label["motif length 5"].get_xdata()) == [5, 5]
    assert list(by_label["oracle 0.946"].get_ydata()) == [0.946, 0.946]
    assert [line.get_label() for line in pr.get_lines()] == [
        "measured",
        "reported",
        "motif length 5",
    ]
    assert np.isnan(pr.get_lines()[1].get_ydata()[1])  # a missing PR AUC is a gap
    assert list(roc.get_xticks()) == [3, 5, 11]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(by_label)


def test_kernel_sweep_figure_without_results_says_so():
    fig = plots.kernel_sweep_figure([], 5, reported=[])
    assert [t.get_text() for t in fig.axes[0].texts] == ["no kernel-size results"]


@pytest.mark.parametrize(
    ("rows", "reported", "motif_length", "oracle", "named"),
    [
        ([{"kernel_size": 5, "roc_auc": 0.9}], None, 5, None, r"rows\[0\] is missing 'pr_auc'"),
        ([{"kernel_size": 2.5, "roc_auc": 0.9, "pr_auc": 0.8}], None, 5, None, "kernel_size"),
        ([{"kernel_size": 5, "roc_auc": 1.2, "pr_auc": 0.8}], None, 5, None, "roc_auc"),
        (KERNEL_ROWS, [{"kernel_size": 5, "roc_auc": "high", "pr_auc": 0.8}], 5, None, "reported"),
        (KERNEL_ROWS, None, 0, None, "motif_length"),
        (KERNEL_ROWS, None, 5, 1.5, "oracle_roc_auc"),
        ("rows", None, 5, None, "rows must be a list"),
    ],
)
def test_kernel_sweep_figure_rejects_bad_input_naming_the_argument(
    rows, reported, motif_length, oracle, named
):
    with pytest.raises(InputError, match=named):
        plots.kernel_sweep_figure(rows, motif_length, reported=reported, oracle_roc_auc=oracle)


def test_noise_sweep_figure_has_a_panel_per_knob_with_the_oracle_where_known():
    rows = [*NOISE_ROWS, {"motif_prob": 0.8, "noise_std": 0.5, "roc_auc": 0.7, "pr_auc": 0.6}]
    fig = plots.noise_sweep_figure(rows)
    assert len(fig.axes) == 2
    by_prob, by_noise = fig.axes
    roc = by_prob.get_lines()[0]
    assert list(roc.get_xdata()) == [0.5, 0.8, 1.0]
    assert list(roc.get_ydata()) == [0.70, 0.84, 0.92]
    assert [line.get_label() for line in by_prob.get_lines()] == [
        "ROC AUC",
        "PR AUC",
        "oracle ROC AUC",
    ]
    assert list(by_prob.get_lines()[2].get_xdata()) == [0.8, 1.0]
    assert [line.get_label() for line in by_noise.get_lines()] == ["ROC AUC", "PR AUC"]
    assert list(by_noise.get_lines()[0].get_xdata()) == [0.0, 0.5, 1.0]
    assert "1 row(s)" in fig.texts[0].get_text()


def test_noise_sweep_figure_skips_a_panel_whose_knob_never_moves():
    fig = plots.noise_sweep_figure(NOISE_ROWS[:3])
    assert len(fig.axes) == 1
    assert fig.axes[0].get_title() == "AUC vs motif probability"
    fig = plots.noise_sweep_figure([NOISE_ROWS[0], NOISE_ROWS[4]])
    assert [ax.get_title() for ax in fig.axes] == ["AUC vs Gaussian noise"]
    fig = plots.noise_sweep_figure([])
    assert [t.get_text() for t in fig.axes[0].texts] == ["no noise results"]


def test_noise_sweep_figure_averages_repeated_settings():
    rows = [
        {"motif_prob": 0.5, "noise_std": 0, "roc_auc": 0.6, "pr_auc": 0.5},
        {"motif_prob": 0.5, "noise_std": 0, "roc_auc": 0.8, "pr_auc": None},
        {"motif_prob": 1, "noise_std": 0, "roc_auc": 0.9, "pr_auc": 0.9},
    ]
    (ax,) = plots.noise_sweep_figure(rows).axes
    assert list(ax.get_lines()[0].get_ydata()) == pytest.approx([0.7, 0.9])
    assert list(ax.get_lines()[1].get_ydata()) == pytest.approx([0.5, 0.9])


@pytest.mark.parametrize(
    ("rows", "named"),
    [
        ([{"motif_prob": 1.0, "roc_auc": 0.9, "pr_auc": 0.8}], r"rows\[0\] is missing 'noise_std'"),
        ([{**NOISE_ROWS[0], "motif_prob": 1.5}], r"rows\[0\]\['motif_prob'\]"),
        ([NOISE_ROWS[0], {**NOISE_ROWS[1], "noise_std": -1}], r"rows\[1\]\['noise_std'\]"),
        ([{**NOISE_ROWS[0], "oracle_roc_auc": "x"}], "oracle_roc_auc"),
        ([0.9], r"rows\[0\] must be a dict"),
    ],
)
def test_noise_sweep_figure_rejects_bad_input_naming_the_argument(rows, named):
    with pytest.raises(InputError, match=named):
        plots.noise_sweep_figure(rows)


# --------------------------------------------------------------------------- multi-motif


def test_similarity_heatmap_annotates_every_cell_and_outlines_the_assignment():
    similarities = np.full((6, 2), 0.2)
    similarities[4, 0], similarities[1, 1], similarities[2, 1] = 0.97, 0.93, -0.4
    fig = plots.similarity_heatmap_figure(similarities, ["GATAAG", "TGACTC"], [4, 1])
    assert len(fig.axes) == 2  # the heatmap and its colour bar
    ax = fig.axes[0]
    (image,) = [a for a in ax.get_children() if isinstance(a, AxesImage)]
    assert image.get_array().shape == (2, 6)  # motifs down, filters across
    assert image.get_clim() == (0.0, 1.0)
    assert len(ax.texts) == 12
    assert {t.get_text() for t in ax.texts} == {"0.97", "0.93", "0.20", "-0.40"}
    outlines = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert sorted(p.get_xy() for p in outlines) == [(0.5, 0.5), (3.5, -0.5)]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["GATAAG", "TGACTC"]
    assert "outlined" in ax.get_title()


def test_similarity_heatmap_without_assignment_outlines_nothing_and_unassigned_is_skipped():
    similarities = np.eye(3)[:, :2]
    fig = plots.similarity_heatmap_figure(similarities, ["GATAAG", "TGACTC"])
    assert len(fig.axes[0].patches) == 0
    fig = plots.similarity_heatmap_figure(similarities, ["GATAAG", "TGACTC"], [0, -1])
    assert len(fig.axes[0].patches) == 1


def test_similarity_heatmap_of_many_filters_drops_the_numbers():
    fig = plots.similarity_heatmap_figure(np.zeros((64, 2)), ["GATAAG", "TGACTC"])
    assert len(fig.axes[0].texts) == 0


@pytest.mark.parametrize(
    ("similarities", "motifs", "assignment", "named"),
    [
        (np.zeros((4, 2)), ["GATAAG"], None, "motifs"),
        (np.zeros((4, 2)), ["GATAAG", "TGAXTC"], None, r"motifs\[1\]"),
        (np.zeros(4), ["GATAAG"], None, "similarities"),
        (np.full((4, 2), 1.5), ["GATAAG", "TGACTC"], None, "similarities"),
        (np.zeros((4, 2)), ["GATAAG", "TGACTC"], [0], "assignment"),
        (np.zeros((4, 2)), ["GATAAG", "TGACTC"], [0, 4], r"assignment\[1\]"),
        (np.zeros((4, 2)), ["GATAAG", "TGACTC"], [0, 1.5], r"assignment\[1\]"),
    ],
)
def test_similarity_heatmap_rejects_bad_input_naming_the_argument(
    similarities, motifs, assignment, named
):
    with pytest.raises(InputError, match=named):
        plots.similarity_heatmap_figure(similarities, motifs, assignment)


@pytest.mark.parametrize(
    ("rule", "expected", "word"),
    [
        ("and", [0, 0, 0, 1], "AND"),
        ("all", [0, 0, 0, 1], "AND"),
        ("or", [0, 1, 1, 1], "OR"),
        ("any", [0, 1, 1, 1], "OR"),
        ("XOR", [0, 1, 1, 0], "XOR"),
    ],
)
def test_interaction_figure_shows_the_rules_expected_pattern(rule, expected, word):
    fig = plots.interaction_figure(MEAN_SCORES, rule)
    (ax,) = fig.axes
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(bars) == 8
    hatched = [b.get_height() for b in bars if b.get_hatch()]
    measured = [b.get_height() for b in bars if not b.get_hatch()]
    assert hatched == expected
    assert measured == [0.05, 0.31, 0.28, 0.93]
    assert repr(rule) in ax.get_title()
    assert word in fig.legends[0].get_texts()[0].get_text()
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == [
        f"{c}\n({'high' if e else 'low'})"
        for c, e in zip(("none", "A", "B", "A+B"), expected, strict=True)
    ]
    assert sorted(t.get_text() for t in ax.texts) == ["0.05", "0.28", "0.31", "0.93"]


@pytest.mark.parametrize(
    ("scores", "rule", "named"),
    [
        ({"none": 0.1, "A": 0.2, "B": 0.3}, "and", "mean_scores is missing 'A\\+B'"),
        ({**MEAN_SCORES, "A": "high"}, "and", r"mean_scores\['A'\]"),
        ([0.1, 0.2, 0.3, 0.4], "and", "mean_scores must be a dict"),
        (MEAN_SCORES, "nand", "rule"),
    ],
)
def test_interaction_figure_rejects_bad_input_naming_the_argument(scores, rule, named):
    with pytest.raises(InputError, match=named):
        plots.interaction_figure(scores, rule)


# --------------------------------------------------------------------------- output


def figure_makers(scored) -> dict[str, Callable[[], Figure]]:
    """The seven figures of a student report, drawn from typical inputs."""
    labels, scores, oracle = scored
    pwms = [np.random.default_rng(1).dirichlet(np.ones(4), size=11) for _ in range(4)]
    similarities = np.random.default_rng(2).random((16, 2))
    history = {"loss": [0.7, 0.5, 0.4], "val_loss": [0.68, 0.5, 0.45]}
    return {
        "logo": lambda: plots.logo_figure(pwms, [f"filter {i}" for i in range(4)], motif="ACGTG"),
        "roc": lambda: plots.roc_pr_figure(labels, scores, oracle, title="Hidden data"),
        "loss": lambda: plots.loss_figure(history),
        "kernel": lambda: plots.kernel_sweep_figure(KERNEL_ROWS, 5, KERNEL_ROWS[:2], 0.946),
        "noise": lambda: plots.noise_sweep_figure(NOISE_ROWS),
        "heatmap": lambda: plots.similarity_heatmap_figure(
            similarities, ["GATAAG", "TGACTC"], [3, 8]
        ),
        "interaction": lambda: plots.interaction_figure(MEAN_SCORES, "xor"),
    }


def test_every_figure_renders_to_a_png_at_most_700_px_wide_and_nothing_stays_open(scored):
    pyplot = pytest.importorskip("matplotlib.pyplot")
    backend, rc = matplotlib.get_backend(), dict(matplotlib.rcParams)
    open_before = pyplot.get_fignums()
    for name, make in figure_makers(scored).items():
        png = plots.figure_to_png_bytes(make())
        assert png.startswith(PNG_SIGNATURE), name
        width, height = png_size(png)
        assert 300 <= width <= 700, name
        assert 100 <= height <= 700, name
    assert pyplot.get_fignums() == open_before
    assert matplotlib.get_backend() == backend
    assert dict(matplotlib.rcParams) == rc  # the caller's style is never touched


def test_figure_to_data_uri_embeds_the_png_and_honours_dpi(scored):
    fig = plots.loss_figure({"loss": [0.7, 0.5]})
    uri = plots.figure_to_data_uri(fig, dpi=50)
    assert uri.startswith("data:image/png;base64,")
    png = base64.b64decode(uri.removeprefix("data:image/png;base64,"), validate=True)
    assert png.startswith(PNG_SIGNATURE)
    assert png_size(png) == (350, 125)


def test_figures_drawn_in_threads_are_identical_to_figures_drawn_in_turn(scored):
    makers = figure_makers(scored)
    chosen = [makers[name] for name in ("logo", "interaction")]
    in_turn = [plots.figure_to_png_bytes(make()) for make in chosen]
    with ThreadPoolExecutor(max_workers=2) as pool:
        in_threads = list(pool.map(lambda make: plots.figure_to_png_bytes(make()), chosen * 2))
    assert in_threads == in_turn * 2


def test_figure_to_png_bytes_closes_a_pyplot_figure_too():
    pyplot = pytest.importorskip("matplotlib.pyplot")
    fig = pyplot.figure()
    assert fig.number in pyplot.get_fignums()
    assert plots.figure_to_png_bytes(fig).startswith(PNG_SIGNATURE)
    assert fig.number not in pyplot.get_fignums()


@pytest.mark.parametrize(
    ("fig", "dpi", "named"),
    [("figure.png", 100, "fig must be a matplotlib Figure"), (None, 0, "dpi"), (None, "hi", "dpi")],
)
def test_figure_to_png_bytes_rejects_bad_input_naming_the_argument(fig, dpi, named):
    fig = fig if fig is not None else plots.loss_figure({})
    with pytest.raises(InputError, match=named):
        plots.figure_to_png_bytes(fig, dpi=dpi)
