"""The plain-data boundary between a learner's code and the judge."""

import json

import numpy as np
import pytest

import gradclinic
from autograder import harness
from autograder.exercise import Case, KerasLossArg, KerasModelArg, encode_call


def setup_module():
    gradclinic.seed(0)


def roundtrip(function, case):
    store = harness.ArrayStore()
    call = json.loads(json.dumps(encode_call("f", case, store)))  # exactly what crosses as JSON
    outputs = harness.ArrayStore()
    answer = harness.invoke(function, call, harness.ScopedStore(store, outputs))
    return answer, outputs


def decoded(function, case):
    answer, outputs = roundtrip(function, case)
    assert "error" not in answer, answer
    return harness.decode_plain(answer["result"], outputs)


def test_plain_values_arrays_tuples_and_dicts_cross_unchanged():
    result = decoded(lambda: (1, 2.5, "x", None, [np.arange(3)], {"k": np.float32(2)}), Case("plain"))
    assert result[:4] == (1, 2.5, "x", None)
    assert np.array_equal(result[4][0], np.arange(3)) and result[5] == {"k": 2.0}


@pytest.mark.parametrize("value", [object(), np.array([object()]), {1: 2}, lambda: 0, type("F", (float,), {})(1.0)])
def test_anything_else_is_refused(value):
    answer, _ = roundtrip(lambda: value, Case("odd"))
    assert answer["error_type"] == "BadResult"


def test_learner_exceptions_and_exits_become_answers():
    def leave():
        raise SystemExit(3)
    assert roundtrip(leave, Case("exit"))[0]["error_type"] == "SystemExit"
    assert "ZeroDivisionError" in roundtrip(lambda: 1 / 0, Case("div"))[0]["error"]


def test_keras_model_argument_is_rebuilt_with_its_weights():
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    x = np.ones((1, 3), "float32")
    got = decoded(lambda m, x: m(x).numpy(), Case("model", (KerasModelArg(model), x)))
    assert np.allclose(got, model(x).numpy())


def test_model_results_come_back_as_data_and_rebuild():
    import keras

    def make():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu")])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
        return model
    data = decoded(make, Case("builder"))
    assert isinstance(data, harness.ModelData) and abs(data.compile["optimizer"]["config"]["learning_rate"] - 0.01) < 1e-8
    rebuilt = data.build()
    assert rebuilt.layers[0].units == 3 and rebuilt.compiled


def test_functional_block_is_built_on_fresh_inputs():
    import keras

    def block(X, units):
        return keras.layers.Add()([X, keras.layers.Dense(units)(X)])
    data = decoded(block, Case("block", (4,), kind="functional", options={"input_shapes": [[4]]}))
    assert data.build().output.shape == (None, 4)


def test_callback_class_is_trained_with_and_its_attribute_returned():
    import keras

    class Counter(keras.callbacks.Callback):
        def __init__(self, start):
            super().__init__()
            self.history = [start]

        def on_epoch_end(self, epoch, logs=None):
            self.history.append(epoch)

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    fit = {"model": KerasModelArg(model), "optimizer": "sgd", "loss": KerasLossArg("MeanSquaredError"),
           "x": np.ones((4, 2), "float32"), "y": np.ones((4, 1), "float32"), "epochs": 3, "batch_size": 2,
           "attribute": "history"}
    assert decoded(Counter, Case("cb", (7,), kind="keras_callback", options={"fit": fit})) == [7, 0, 1, 2]


def test_unknown_losses_are_refused():
    answer, _ = roundtrip(lambda loss: 0, Case("loss", (KerasLossArg("os.system"),)))
    assert "GraderInputError" in answer["error"]
