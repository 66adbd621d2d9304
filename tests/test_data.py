"""Offline data: digits and the number-agreement corpus."""

import numpy as np
import pytest

from gradclinic import data


def test_digits_split_shapes_ranges_and_repeatability():
    split = data.load_digits(test_fraction=0.25)
    assert split.x_train.shape[1] == 64 and split.x_train.dtype == np.float32
    assert len(split.x_train) + len(split.x_test) == 1797
    assert abs(len(split.x_test) - 449) <= 1
    assert 0.0 <= split.x_train.min() and split.x_train.max() <= 1.0
    assert set(np.unique(split.y_train)) == set(range(10))
    again = data.load_digits(test_fraction=0.25)
    assert np.array_equal(split.x_test, again.x_test)
    images = data.load_digits(images=True)
    assert images.x_train.shape[1:] == (8, 8, 1)


@pytest.mark.parametrize("gap", [0, 1, 5, 17, 40])
def test_agreement_gap_length_is_exact(gap):
    corpus = data.agreement_corpus(60, gap, np.random.default_rng(gap), distractors=True)
    assert corpus.tokens.shape == (60, 2 + gap)
    assert (corpus.tokens != 0).all(), "no padding inside a sentence: every gap word is a word"


def test_agreement_labels_match_the_subject_and_the_ending():
    corpus = data.agreement_corpus(200, 8, np.random.default_rng(0), distractors=True)
    plural_nouns = {plural for _, plural in data.NOUNS}
    singular_nouns = {singular for singular, _ in data.NOUNS}
    for row in range(200):
        words = corpus.decode(row).split()
        subject = words[corpus.subject_position]
        if corpus.labels[row] == 1:
            assert subject in plural_nouns and corpus.sentences[row].endswith("they were very happy")
        else:
            assert subject in singular_nouns and corpus.sentences[row].endswith("it was very happy")


def test_agreement_labels_are_balanced_and_shuffled():
    labels = data.agreement_corpus(101, 3, np.random.default_rng(1)).labels
    assert labels.sum() == 51
    assert 0 < labels[:50].sum() < 50


def test_distractors_have_the_opposite_number():
    corpus = data.agreement_corpus(300, 12, np.random.default_rng(2), distractors=True)
    plural_nouns = {plural for _, plural in data.NOUNS}
    singular_nouns = {singular for singular, _ in data.NOUNS}
    found = 0
    for row in range(300):
        gap_words = corpus.decode(row).split()[2:]
        for noun in gap_words:
            if noun in plural_nouns | singular_nouns:
                found += 1
                assert (noun in singular_nouns) == bool(corpus.labels[row])
    assert found > 50


def test_without_distractors_the_gap_holds_no_noun():
    corpus = data.agreement_corpus(100, 10, np.random.default_rng(3), distractors=False)
    nouns = {w for pair in data.NOUNS for w in pair}
    assert not any(set(corpus.decode(r).split()[2:]) & nouns for r in range(100))


@pytest.mark.parametrize("kwargs, message", [({"n": 1, "gap": 3}, "n must"), ({"n": 10, "gap": -1}, "gap"),
                                             ({"n": 10, "gap": 2.5}, "gap")])
def test_agreement_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.agreement_corpus(rng=np.random.default_rng(0), **kwargs)


def test_agreement_needs_a_generator():
    with pytest.raises(ValueError, match="Generator"):
        data.agreement_corpus(10, 2, rng=0)


def test_cached_keras_dataset_says_clearly_when_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="load_digits"):
        data.load_cached_keras_dataset("mnist", cache_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="Fashion-MNIST"):
        data.load_cached_keras_dataset("fashion_mnist", cache_dir=tmp_path)


def test_cached_mnist_loads_from_the_cache(tmp_path):
    x = np.full((3, 28, 28), 255, np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=np.arange(3), x_test=x[:1], y_test=np.arange(1))
    split = data.load_cached_keras_dataset("mnist", cache_dir=tmp_path)
    assert split.x_train.max() == 1.0 and split.y_test.tolist() == [0]
