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
