"""`expkit summary CONFIG` and `validate --build` build the model training saves: with the preprocessing
front (Rescaling, Reshape) that training puts before the YAML's first layer, decided without the data."""
from __future__ import annotations

import contextlib
import io
import re

from tests.helpers import load


def summary(target) -> tuple[list[str], str, str]:
    """(layer rows as 'name (Keras class)', the parameter line, the first layer's output shape) of
    `expkit summary`. Keras wraps a long 'name (class)' cell onto a second line of its row."""
    from expkit.cli import main
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["summary", str(target)]) == 0
    text = out.getvalue()
    rows = [[line.split("│")[1:3] for line in block.splitlines() if line.startswith("│")]
            for block in re.split(r"^[├┡└].*$", text, flags=re.M)[1:]]
    layers = [" ".join(cell[0].strip() for cell in row).strip() for row in rows if row]
    return layers, re.search(r"parameters: [\d,]+", text).group(), rows[0][0][1].strip()


def test_summary_of_a_config_lists_the_layers_and_parameters_of_its_trained_model(mnist_run):
    from expkit.runstore import RunFolder
    layers, params, first = summary(RunFolder(mnist_run).config_yaml)
    trained_layers, trained_params, trained_first = summary(mnist_run)
    assert layers[:3] == ["preprocess_rescaling (Rescaling)", "preprocess_reshape (Reshape)", "layer_0_conv2d (Conv2D)"]
    assert (layers, params, first) == (trained_layers, trained_params, trained_first)


def test_a_named_table_set_is_standardized_in_the_model_and_token_ids_are_not(tmp_path):
    from expkit.training.run import prepare
    xor = load(tmp_path, [{"type": "Dense", "units": 4}], training={"device": "cpu"})
    model = prepare(xor, load_data=False).model
    assert [type(layer).__name__ for layer in model.layers] == ["Rescaling", "Dense"]
    assert model.layers[0].name == "preprocess_standardization" and tuple(model.inputs[0].shape) == (None, 2)
    tokens = load(tmp_path, [{"type": "Embedding", "input_dim": 100, "output_dim": 4}, {"type": "Flatten"},
                             {"type": "Dense", "units": 1}], dataset={"name": "imdb", "sequence_length": 8},
                  training={"device": "cpu"})
    assert [type(layer).__name__ for layer in prepare(tokens, load_data=False).model.layers][0] == "Embedding"
