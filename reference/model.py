"""The DeepBind-like CNN of the assignment, and how to read its first layer.

`build_deepbind_like_model` keeps the starter's signature and, with its defaults,
builds exactly the starter's network (913 parameters at 16 filters of width 5), so a
number measured here is comparable with a student's. The keyword-only options are the
knobs the questions invite turning: the filter's activation (an exponential first
layer is known to give cleaner motifs), the pooling, the size of the hidden layer.

The readers (`first_conv_layer`, `window_geometry`, `conv_activations`) must work on
any model a student hands in: functional models, where `layers[1]` is the
convolution after the InputLayer; `keras.Sequential`, where it is `layers[0]`;
variable-length inputs (`Input(shape=(None, 4))`); convolutions inside a nested
sub-model. So the convolution is found by type, never by index.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import keras
import numpy as np

from reference.validation import InputError, check_array, check_count

ACTIVATIONS = ("relu", "exponential", "linear", "sigmoid", "softplus", "elu", "gelu")
POOLINGS = ("max", "avg", "maxavg")
PADDINGS = ("valid", "same")


def build_deepbind_like_model(
    input_length: int | None,
    num_filters: int = 16,
    kernel_size: int = 11,
    lr: float = 1e-3,
    *,
    activation: str = "relu",
    pooling: str = "max",
    dense_units: int = 32,
    padding: str = "valid",
    dropout: float = 0.0,
) -> keras.Model:
    """The starter's Conv1D -> global pooling -> Dense -> sigmoid network, compiled.

    `input_length=None` accepts sequences of any length (the motif detector does not
    care where the motif is). `pooling="maxavg"` concatenates global max and average
    pooling, so the dense layer sees both "is the motif there" and "how often";
    `dense_units=0` drops the hidden layer, leaving a logistic regression on the
    pooled filter scores.
    """
    if input_length is not None:
        check_count("input_length", input_length, minimum=1)
    check_count("num_filters", num_filters, minimum=1)
    check_count("kernel_size", kernel_size, minimum=1)
    check_count("dense_units", dense_units)
    if activation not in ACTIVATIONS:
        raise InputError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if pooling not in POOLINGS:
        raise InputError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    if padding not in PADDINGS:
        raise InputError(f"padding must be one of {PADDINGS}, got {padding!r}")
    if not 0.0 <= dropout < 1.0:
        raise InputError(f"dropout must be in [0, 1), got {dropout}")
    if lr <= 0:
        raise InputError(f"lr must be positive, got {lr}")
    if input_length is not None and padding == "valid" and kernel_size > input_length:
        raise InputError(
            f"kernel_size {kernel_size} is longer than the sequences ({input_length}); "
            "use a smaller kernel or padding='same'"
        )

    inp = keras.layers.Input(shape=(input_length, 4))
    x = keras.layers.Conv1D(
        filters=num_filters, kernel_size=kernel_size, padding=padding, activation=activation
    )(inp)
    if pooling == "max":
        x = keras.layers.GlobalMaxPooling1D()(x)
    elif pooling == "avg":
        x = keras.layers.GlobalAveragePooling1D()(x)
    else:
        x = keras.layers.Concatenate()(
            [keras.layers.GlobalMaxPooling1D()(x), keras.layers.GlobalAveragePooling1D()(x)]
        )
    if dropout:
        x = keras.layers.Dropout(dropout)(x)
    if dense_units:
        x = keras.layers.Dense(dense_units, activation="relu")(x)
    out = keras.layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs=inp, outputs=out)
    model.compile(
        optimizer=keras.optimizers.Adam(lr), loss=keras.losses.BinaryCrossentropy(), metrics=[]
    )
    return model


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class ParameterRow:
    """One layer's weights: how many and the formula that gives them."""

    layer: str
    formula: str
    count: int


@dataclass(frozen=True)
class ParameterBreakdown:
    """Every layer's parameter count, in closed form, and their sum."""

    rows: tuple[ParameterRow, ...]
    total: int

    def to_dict(self) -> dict:
        return {"rows": [asdict(r) for r in self.rows], "total": self.total}


def conv1d_parameters(
    filters: int, width: int, in_channels: int, *, groups: int = 1, bias: bool = True
) -> int:
    """Weights of a Conv1D layer: one per (position, input channel of its group) per filter,
    plus one bias per filter. The grader checks a student's layers against this too."""
    return filters * (width * in_channels // groups) + (filters if bias else 0)


def dense_parameters(units: int, inputs: int, *, bias: bool = True) -> int:
    """Weights of a Dense layer: one per (input, unit), plus one bias per unit."""
    return units * inputs + (units if bias else 0)


def batch_norm_parameters(channels: int, *, center: bool = True, scale: bool = True) -> int:
    """Weights of a BatchNormalization layer: the moving mean and variance per channel,
    plus the shift (`center`) and scale when learnt."""
    return (2 + int(center) + int(scale)) * channels


def parameter_breakdown(
    num_filters: int,
    kernel_size: int,
    dense_units: int = 32,
    input_channels: int = 4,
    *,
    pooling: str = "max",
) -> ParameterBreakdown:
    """Count the weights of `build_deepbind_like_model` without building it (Q1).

    A filter has one weight per (position, base) plus a bias; pooling has none; each
    dense unit has one weight per input plus a bias. For the starter's model with
    width 5: 16*(5*4)+16 = 336, 16*32+32 = 544, 32+1 = 33, in all 913.
    """
    f = check_count("num_filters", num_filters, minimum=1)
    w = check_count("kernel_size", kernel_size, minimum=1)
    d = check_count("dense_units", dense_units)
    c = check_count("input_channels", input_channels, minimum=1)
    if pooling not in POOLINGS:
        raise InputError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    pooled = 2 * f if pooling == "maxavg" else f
    pool_name = {"max": "GlobalMaxPooling1D", "avg": "GlobalAveragePooling1D"}.get(
        pooling, "GlobalMax + GlobalAveragePooling1D"
    )
    rows = [
        ParameterRow(
            "Conv1D",
            f"{f} filters x ({w} positions x {c} bases) + {f} biases",
            conv1d_parameters(f, w, c),
        ),
        ParameterRow(
            pool_name,
            {
                "max": "no weights (one maximum per filter)",
                "avg": "no weights (one mean per filter)",
            }.get(pooling, "no weights (a maximum and a mean per filter)"),
            0,
        ),
    ]
    if d:
        rows.append(
            ParameterRow(
                "Dense (hidden, relu)",
                f"{pooled} inputs x {d} units + {d} biases",
                dense_parameters(d, pooled),
            )
        )
    last_inputs = d if d else pooled
    rows.append(
        ParameterRow(
            "Dense (output, sigmoid)",
            f"{last_inputs} inputs x 1 unit + 1 bias",
            dense_parameters(1, last_inputs),
        )
    )
    return ParameterBreakdown(tuple(rows), sum(r.count for r in rows))


# --------------------------------------------------------------------------- first layer


def _walk_layers(layer: Any) -> Iterator[Any]:
    """Every layer in order, descending into nested models (a Sequential inside a Model)."""
    for child in getattr(layer, "layers", None) or []:
        yield child
        yield from _walk_layers(child)


def first_conv_layer(model: Any) -> keras.layers.Conv1D:
    """The first `Conv1D` of `model` in layer order, found by type at any depth."""
    if isinstance(model, keras.layers.Conv1D):
        return model
    for layer in _walk_layers(model):
        if isinstance(layer, keras.layers.Conv1D):
            return layer
    names = [type(layer).__name__ for layer in _walk_layers(model)]
    raise InputError(
        f"the model has no Conv1D layer (its layers are {names or 'none'}); motifs are read "
        "from the first Conv1D over the one-hot input, so the model needs one"
    )


def _input_length(model: Any) -> int | None:
    inputs = getattr(model, "inputs", None)
    if not inputs:
        return None
    shape = inputs[0].shape
    return int(shape[1]) if len(shape) == 3 and shape[1] is not None else None


def window_geometry(model: Any) -> tuple[int, int, int]:
    """(width, offset, stride): conv output position p reads input window start p*stride+offset.

    "valid" padding starts at 0. "same" pads (w-1)//2 columns on the left at stride 1,
    so its windows start that far before the sequence; with a stride above 1 the
    left padding depends on the input length, which is read from the model (and the
    stride-1 value is used for variable-length inputs). "causal" pads w-1 on the left.
    Dilated filters do not read contiguous windows, so they have no k-mer: an error.
    """
    return conv_geometry(first_conv_layer(model), _input_length(model))


def _ensure_built(model: Any, sample: np.ndarray) -> None:
    """Give a never-called Sequential its `inputs` by calling it once."""
    if getattr(model, "inputs", None):
        return
    try:
        model(sample[:1])
    except Exception as exc:
        raise InputError(
            f"the model could not be run on input of shape {sample.shape}: {exc}"
        ) from exc


def conv_activations(model: Any, X: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """(N, L_out, F) outputs of the first Conv1D, after its activation, for one-hot `X`.

    The sub-model from the model's input to the convolution respects any layer
    before it. When the convolution sits in a nested sub-model that cannot be cut
    out of the outer graph, the layer is applied to `X` directly, which is right
    because then it must be the layer that reads the one-hot input (checked).
    """
    X = check_array("X", X, ndim=3, last_dim=4, finite=True).astype(np.float32, copy=False)
    batch_size = check_count("batch_size", batch_size, minimum=1)
    conv = first_conv_layer(model)
    if X.shape[0] == 0:
        return np.zeros((0, 0, int(conv.get_config()["filters"])), dtype=np.float32)
    _ensure_built(model, X)
    try:
        sub_model = keras.Model(inputs=model.inputs, outputs=conv.output)
    except Exception:
        sub_model = None
    if sub_model is not None:
        return np.asarray(sub_model.predict(X, batch_size=batch_size, verbose=0))
    kernel = conv.get_weights()[0]
    if kernel.shape[1] != 4:
        raise InputError(
            f"the first Conv1D reads {kernel.shape[1]} channels, not the 4 one-hot bases, and "
            "cannot be separated from the layers before it"
        )
    parts = [
        np.asarray(keras.ops.convert_to_numpy(conv(X[i : i + batch_size])))
        for i in range(0, X.shape[0], batch_size)
    ]
    return np.concatenate(parts)


POSITION_PRESERVING = (
    "InputLayer",
    "Dropout",
    "SpatialDropout1D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "BatchNormalization",
    "LayerNormalization",
    "Activation",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "PReLU",
    "Softmax",
)
"""Layers between the one-hot input and a convolution that keep each position's bases
where they are, so the convolution still reads k-mers of the input."""


def _reads_input(tensor: Any, depth: int = 0) -> bool:
    """Whether `tensor` is the model input, reached only through position-preserving layers."""
    history = getattr(tensor, "_keras_history", None)
    if history is None or depth > 50:
        return False
    operation, node_index, _ = history
    if type(operation).__name__ == "InputLayer":
        return True
    if type(operation).__name__ not in POSITION_PRESERVING:
        return False
    nodes = getattr(operation, "_inbound_nodes", None) or []
    if node_index >= len(nodes):
        return False
    inputs = list(nodes[node_index].input_tensors)
    return len(inputs) == 1 and _reads_input(inputs[0], depth + 1)


def input_conv_layers(model: Any) -> list[keras.layers.Conv1D]:
    """Every `Conv1D` that reads the one-hot input: directly, through dropout, noise,
    normalisation or activation layers, or as one of several parallel branches.

    Each such filter scans k-mers of the sequence, so each may hold the motif. A
    convolution stacked on another reads features, not bases, and is left out. When
    the graph cannot be traced (a nested sub-model), the first `Conv1D` is used.
    """
    convs = []
    for layer in _walk_layers(model):
        if not isinstance(layer, keras.layers.Conv1D):
            continue
        try:
            if _reads_input(layer.input):
                convs.append(layer)
        except Exception:
            continue
    return convs or [first_conv_layer(model)]


def conv_geometry(conv: Any, input_length: int | None) -> tuple[int, int, int]:
    """(width, offset, stride) of one convolution; see `window_geometry`."""
    config = conv.get_config()
    width = int(config["kernel_size"][0])
    stride = int(config["strides"][0])
    dilation = int(config.get("dilation_rate", (1,))[0])
    padding = str(config.get("padding", "valid")).lower()
    if dilation != 1:
        raise InputError(
            f"the Conv1D {conv.name} has dilation_rate {dilation}; a dilated filter reads "
            "non-contiguous bases, so its windows are not k-mers - use dilation_rate=1 there"
        )
    if padding == "valid":
        return width, 0, stride
    if padding == "causal":
        return width, -(width - 1), stride
    if padding == "same":
        if stride == 1 or input_length is None:
            return width, -((width - 1) // 2), stride
        out = -(-input_length // stride)
        return width, -(max((out - 1) * stride + width - input_length, 0) // 2), stride
    raise InputError(f"the Conv1D {conv.name} has padding {padding!r}, which is not supported")


def input_conv_activations(
    model: Any, X: np.ndarray, batch_size: int = 1024
) -> list[tuple[Any, np.ndarray]]:
    """(layer, (N, L_out, F) activations) for every convolution that reads the input."""
    X = check_array("X", X, ndim=3, last_dim=4, finite=True).astype(np.float32, copy=False)
    _ensure_built(model, X)
    convs = input_conv_layers(model)
    if len(convs) == 1:
        return [(convs[0], conv_activations(model, X, batch_size))]
    sub_model = keras.Model(inputs=model.inputs, outputs=[c.output for c in convs])
    outputs = sub_model.predict(X, batch_size=batch_size, verbose=0)
    return [(c, np.asarray(o)) for c, o in zip(convs, outputs, strict=True)]
