"""The course's figure style and the small plotting helpers every lesson shares."""

from pathlib import Path

STYLE_FILE = Path(__file__).with_name("gradclinic.mplstyle")


def use_course_style():
    """Apply the course's matplotlib style (one file, ``gradclinic.mplstyle``)."""
    import matplotlib.pyplot as plt

    plt.style.use(str(STYLE_FILE))


def log_safe(values, floor=1e-300):
    """Return ``values`` as floats with zeros, negatives and NaN raised to ``floor``.

    Log-scaled axes cannot show 0 or NaN; clamping keeps a vanished signal visible at the
    bottom of the plot instead of silently dropping the point.
    """
    import numpy as np

    values = np.asarray(values, dtype=float)
    return np.where(np.isfinite(values) & (values > floor), values, floor)


def fast_log_axis(ax, axis="y", max_ticks=7):
    """Put ``axis`` on a log scale labelled with plain text ("1e-12"), not mathtext.

    Mathtext labels (10^-12) cost most of a redraw when the range changes on every slider
    move; plain labels keep an explorer's redraw within its latency budget.
    """
    import math

    from matplotlib.ticker import FuncFormatter, LogLocator

    target = ax.yaxis if axis == "y" else ax.xaxis
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    target.set_major_locator(LogLocator(base=10, numticks=max_ticks))
    target.set_minor_locator(LogLocator(base=10, subs=(), numticks=max_ticks))
    target.set_major_formatter(FuncFormatter(lambda value, _: f"1e{round(math.log10(value)):+d}" if value > 0 else ""))


def axis_end(value, at_most=None):
    """The smallest number of the 1-2-5 sequence (1, 2, 5, 10, 20, 50, …) that is ≥ ``value``,
    or ``at_most`` if that is smaller (a slider's maximum depth).

    Explorers end a depth axis there rather than at the depth itself: the axis then changes
    a few times over a slider's range, not at every step, so a move redraws only the data
    (and the eye can compare one depth with the next on the same axis).
    """
    end = int(round(step_ceiling(max(value, 1))))
    return end if at_most is None else min(end, at_most)


def step_ceiling(value, steps=(1, 2, 5)):
    """The smallest number of the 1-2-5 sequence (…, 0.1, 0.2, 0.5, 1, 2, 5, …) that is ≥ ``value`` > 0."""
    import math

    decade = 10.0 ** math.floor(math.log10(value))
    return next(step * decade for step in (*steps, 10) if step * decade >= value * (1 - 1e-12))


def decade_limits(values, margin=3.0, floor=1e-300):
    """Log-axis limits at whole decades around ``values`` (ignoring non-finite ones), at least
    ``margin`` away from the data: (10^⌊log₁₀(min/margin)⌋, 10^⌈log₁₀(max·margin)⌉).

    Whole decades keep the axis still while the data move within them.
    """
    import math

    import numpy as np

    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite) & (finite > floor)]
    if finite.size == 0:
        return 0.1, 10.0
    low = 10.0 ** math.floor(math.log10(max(finite.min() / margin, floor)))
    high = 10.0 ** math.ceil(math.log10(finite.max() * margin))
    return low, min(high, 1e300)


def bucket_depths(depth, max_depth):
    """The depths whose profiles fix the axes for ``depth``: the end of its 1-2-5 bucket
    (:func:`axis_end`, at most ``max_depth``) and the end of the bucket below,
    the deepest and (nearly) the shallowest net drawn on the same axes."""
    end = axis_end(depth)
    return sorted({axis_end(end / 2.5, max_depth), min(end, max_depth)})  # 1-2-5: the step is ×2 or ×2.5


def pin_axis_labels(figure, slack=3):
    """Render ``figure`` once and fix every axis label where the layout put it.

    Otherwise matplotlib measures every tick label again on every draw to place the axis
    labels: a third of the time an explorer takes to render its axes anew. A y label moves
    ``slack`` pixels further out, so that somewhat wider tick labels still fit beside it.
    """
    figure.canvas.draw()
    for ax in figure.axes:
        to_axes = ax.transAxes.inverted()
        for axis in (ax.xaxis, ax.yaxis):
            if not axis.label.get_text():
                continue
            x, y = to_axes.transform(axis.label.get_transform().transform(axis.label.get_position()))
            if axis is ax.yaxis:
                x += (slack if axis.get_label_position() == "right" else -slack) / ax.bbox.width
            axis.set_label_coords(x, y)
