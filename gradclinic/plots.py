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
