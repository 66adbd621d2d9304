"""Lesson 00, welcome: ``compound(scale, depth)``."""

import numpy as np

from autograder.exercise import Case, CheckFailed, Exercise, fail
from autograder.registry import register
from autograder.solution import Mutant


@register
class Compound(Exercise):
    name = "compound"
    mistakes = (
        Mutant("one factor short: a net of depth L multiplies L factors.",
               {"float(scale) ** int(depth)": "float(scale) ** (int(depth) - 1)"}),
        Mutant("scale * depth adds layers up; a deep net multiplies them: use scale ** depth.",
               {"float(scale) ** int(depth)": "float(scale) * int(depth)"}),
    )

    def basic_cases(self):
        return [Case(args=(2, 3), result_type=float,
                     hint="2 · 2 · 2 = 8, as a float: multiply, don't add, and convert, e.g. float(scale) ** depth."),
                Case(args=(0.5, 2), result_type=float, hint="0.5 · 0.5 = 0.25."),
                Case(args=(1.2, 0), result_type=float, hint="zero layers leave the signal as it was: 1.0."),
                Case(args=(1.2, 10), result_type=float, hint="ten layers that each add 20 %: 1.2 ** 10 ≈ 6.19."),
                Case(args=(1.2, -1), raises="ValueError",
                     hint="a negative number of layers makes no sense: raise ValueError.")]

    def hidden_cases(self):
        rng = np.random.default_rng(1000)
        cases = [Case(f"scale={s:.3f}, depth={d}", (float(s), int(d)))
                 for s, d in zip(rng.uniform(0.3, 1.7, 8), rng.integers(1, 120, 8))]
        cases += [
            Case("scale=1.0, depth=500", (1.0, 500)),
            Case("scale=3, depth=3 (integers in, a float out)", (3, 3)),
            Case("scale=0.9, depth=1", (0.9, 1)),
            Case("scale=1.5, depth=-2", (1.5, -2), raises="ValueError"),
            Case("scale=1.5, depth=2.5", (1.5, 2.5), raises="ValueError"),
        ]
        return cases

    def judge(self, case, got, expected):
        if type(got) is not float:
            raise CheckFailed(f"compound({case.label}) returned {type(got).__name__} {got!r}; "
                              "return a Python float, e.g. float(scale) ** depth.")
        if np.isclose(got, expected, rtol=1e-9):
            return
        fail(self.name, case, expected, got)
