"""Data that loads offline: scikit-learn's digits, a generated number-agreement corpus, and
Keras's MNIST/Fashion-MNIST when (and only when) they are already in the local Keras cache."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Split:
    """A train/test split: ``x_*`` float32 arrays, ``y_*`` int32 class labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"rng must be a numpy.random.Generator (numpy.random.default_rng(seed)), got {type(rng).__name__}"
        )


def _split(x, y, test_fraction, rng):
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    order = rng.permutation(len(x))
    n_test = int(round(len(x) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return Split(x[train], y[train], x[test], y[test])


def load_digits(test_fraction=0.25, rng=None, images=False):
    """scikit-learn's 8×8 handwritten digits (1,797 images, 10 classes), shipped with the package.

    Pixels are scaled from 0..16 to [0, 1]. ``images=False`` gives flat vectors of shape
    (n, 64) for MLPs; ``images=True`` gives (n, 8, 8, 1) for convolutional nets. The split is
    drawn with ``rng`` (default: ``numpy.random.default_rng(0)``), so it is the same every run.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    rng = np.random.default_rng(0) if rng is None else rng
    _check_rng(rng)
    bunch = sklearn_digits()
    x = (bunch.data / 16.0).astype("float32")
    if images:
        x = x.reshape(-1, 8, 8, 1)
    return _split(x, bunch.target.astype("int32"), test_fraction, rng)


KERAS_CACHED_DATASETS = {"mnist": "mnist.npz", "fashion_mnist": "fashion-mnist"}


def load_cached_keras_dataset(name, cache_dir=None):
    """Load MNIST or Fashion-MNIST from the local Keras cache, never from the network.

    Returns a :class:`Split` with pixels scaled to [0, 1] and shape (n, 28, 28). Raises
    ``FileNotFoundError`` saying where the data was looked for when it is not cached; every
    lesson works without it (they use :func:`load_digits`).
    """
    if name not in KERAS_CACHED_DATASETS:
        raise ValueError(f"name must be one of {sorted(KERAS_CACHED_DATASETS)}, got {name!r}")
    cache = Path(cache_dir) if cache_dir else Path.home() / ".keras" / "datasets"
    location = cache / KERAS_CACHED_DATASETS[name]
    if name == "mnist":
        if not location.is_file():
            raise FileNotFoundError(
                f"MNIST is not in the Keras cache ({location}); this course runs offline, "
                "so use gradclinic.data.load_digits() instead."
            )
        with np.load(location, allow_pickle=False) as f:
            parts = f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    else:
        parts = _read_fashion_mnist(location)
    x_train, y_train, x_test, y_test = parts
    return Split(
        (x_train / 255.0).astype("float32"), y_train.astype("int32"),
        (x_test / 255.0).astype("float32"), y_test.astype("int32"),
    )


def _read_fashion_mnist(folder):
    import gzip

    names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"Fashion-MNIST is not in the Keras cache ({folder}, missing {', '.join(missing)}); "
            "this course runs offline, so use gradclinic.data.load_digits() instead."
        )
    arrays = []
    for n in names:
        with gzip.open(folder / n, "rb") as f:
            raw = np.frombuffer(f.read(), np.uint8)
        arrays.append(raw[16:].reshape(-1, 28, 28) if "images" in n else raw[8:])
    return arrays


# The number-agreement corpus: "those cats caught a fish ... , they were very happy".
# The network sees the subject, then `gap` words, and must say whether the subject was
# plural ("they were") or singular ("it was"): it has to carry one bit across the gap.
NOUNS = [  # (singular, plural)
    ("cat", "cats"), ("dog", "dogs"), ("bird", "birds"), ("fox", "foxes"), ("mouse", "mice"),
    ("child", "children"), ("farmer", "farmers"), ("teacher", "teachers"), ("horse", "horses"),
]
SINGULAR_DETERMINERS = ["that", "this", "the", "one"]
PLURAL_DETERMINERS = ["those", "these", "the", "two"]
# Words that carry no number: the gap is built from these phrases (1–3 words each, so any
# gap length can be filled exactly).
FILLER_PHRASES = [
    ("caught", "a", "fish"), ("ran", "home"), ("slept",), ("today",), ("after", "lunch"),
    ("quietly",), ("in", "the", "garden"), ("again",), ("near", "the", "river"),
    ("for", "hours"), ("yesterday",), ("and",), ("then",), ("played",), ("ate", "well"),
]
DISTRACTOR_PREPOSITIONS = ["with", "near", "beside"]
PAD = "<pad>"


@dataclass(frozen=True)
class AgreementCorpus:
    """Sentences of the number-agreement task, encoded for a recurrent network.

    ``tokens``: int32 (n, 2 + gap) word ids of "<determiner> <noun> <gap words>", the part
    the network reads. ``labels``: int32 (n,), 1 when the subject is plural ("they were"),
    0 when singular ("it was"). ``sentences``: the full text with its ending. ``vocabulary``:
    id → word, id 0 is padding. ``subject_position``: index of the subject noun (always 1).
    """

    tokens: np.ndarray
    labels: np.ndarray
    sentences: list
    vocabulary: list
    gap: int
    subject_position: int = 1

    def decode(self, row):
        """The words of ``tokens[row]`` as one string."""
        return " ".join(self.vocabulary[i] for i in self.tokens[row] if i != 0)


def agreement_vocabulary():
    """Every word the corpus can use, padding first (id 0), in a fixed order."""
    words = [PAD] + SINGULAR_DETERMINERS + PLURAL_DETERMINERS
    words += [w for pair in NOUNS for w in pair]
    words += [w for phrase in FILLER_PHRASES for w in phrase] + DISTRACTOR_PREPOSITIONS
    words += ["the", ",", "they", "were", "it", "was", "very", "happy"]
    return list(dict.fromkeys(words))


def _fill_gap(gap, rng, distractors, subject_plural):
    """Exactly ``gap`` words of filler, with distractor nouns of the *other* number if asked."""
    words = []
    while len(words) < gap:
        room = gap - len(words)
        if distractors and room >= 3 and rng.random() < 0.3:
            singular, plural = NOUNS[rng.integers(len(NOUNS))]
            # A distractor of the opposite number is the misleading case that matters.
            noun = singular if subject_plural else plural
            words += [DISTRACTOR_PREPOSITIONS[rng.integers(len(DISTRACTOR_PREPOSITIONS))], "the", noun]
            continue
        fitting = [p for p in FILLER_PHRASES if len(p) <= room]
        words += list(fitting[rng.integers(len(fitting))])
    return words


def agreement_corpus(n, gap, rng, distractors=False):
    """Generate ``n`` agreement sentences whose subject and verb are ``gap`` words apart.

    Labels are balanced: exactly ``n // 2`` plural subjects (plus one more when ``n`` is odd),
    shuffled. With ``distractors=True`` the gap may contain nouns of the opposite number
    ("those cats ... near the dog ..., they were"), so the last noun seen is not the answer.
    """
    _check_rng(rng)
    if int(n) != n or n < 2:
        raise ValueError(f"n must be an integer of at least 2, got {n!r}")
    if int(gap) != gap or gap < 0:
        raise ValueError(f"gap must be a non-negative integer number of words, got {gap!r}")
    n, gap = int(n), int(gap)
    vocabulary = agreement_vocabulary()
    index = {w: i for i, w in enumerate(vocabulary)}
    labels = np.array([1] * (n - n // 2) + [0] * (n // 2), dtype="int32")
    rng.shuffle(labels)
    tokens = np.zeros((n, 2 + gap), dtype="int32")
    sentences = []
    for row, plural in enumerate(labels):
        singular_noun, plural_noun = NOUNS[rng.integers(len(NOUNS))]
        determiners = PLURAL_DETERMINERS if plural else SINGULAR_DETERMINERS
        words = [determiners[rng.integers(len(determiners))], plural_noun if plural else singular_noun]
        words += _fill_gap(gap, rng, distractors, bool(plural))
        tokens[row] = [index[w] for w in words]
        ending = "they were very happy" if plural else "it was very happy"
        sentences.append(" ".join(words) + " , " + ending)
    return AgreementCorpus(tokens, labels, sentences, vocabulary, gap)
