"""Small Keras models with fixed weights, for the self-checks of lessons 05–12 to pass to a graded
function. Fixed weights (constants or seeded initializers) make the same network in a learner's
kernel and on the grader's side, so both compute the same expected answer."""


def linear_recurrence_model(decay, units=2):
    """A net whose input gradients are known by hand: a linear SimpleRNN with kernel I, recurrent
    kernel decay·I and no bias, read by Dense(1, sigmoid) with weights all 1 and no bias. From the
    last step, each step back multiplies ∂loss/∂x_t by ``decay``. Input (batch, steps, units)."""
    import keras
    import numpy as np

    return keras.Sequential([
        keras.Input((None, units)),
        keras.layers.SimpleRNN(units, activation="linear", use_bias=False,
                               kernel_initializer=keras.initializers.Identity(),
                               recurrent_initializer=keras.initializers.Constant(decay * np.eye(units))),
        keras.layers.Dense(1, activation="sigmoid", use_bias=False, kernel_initializer="ones")])


def gru_reader(steps, features, units, seed=0):
    """Input (steps, features) → GRU(units) → Dense(1, sigmoid), with seeded initial weights."""
    import keras

    return keras.Sequential([
        keras.Input((steps, features)),
        keras.layers.GRU(units, kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
                         recurrent_initializer=keras.initializers.Orthogonal(seed=seed + 1)),
        keras.layers.Dense(1, activation="sigmoid", kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 2))])
