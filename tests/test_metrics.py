"""cnncourse.metrics against scikit-learn's metric functions."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import sklearn.metrics as skm
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncourse import metrics, viz


@st.composite
def labelled(draw, scores=False):
    """Random (y_true, y_pred or scores, num_classes) with every label < num_classes."""
    # scikit-learn reads 2-column scores as a binary problem, so scores start at 3 classes.
    c = draw(st.integers(3 if scores else 2, 12))
    n = draw(st.integers(1, 200))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, c, n)
    if scores:
        # Continuous scores: ties have probability zero, so the ranking is unambiguous.
        return y_true, rng.normal(size=(n, c)), c
    # Mostly right, sometimes wrong, so every cell of the matrix gets exercised.
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, c, n))
    return y_true, y_pred, c


@settings(max_examples=60, deadline=None)
@given(labelled())
def test_accuracy_matches_sklearn(case):
    y_true, y_pred, _ = case
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred))


@settings(max_examples=60, deadline=None)
@given(labelled(scores=True), st.integers(1, 12))
def test_top_k_accuracy_matches_sklearn(case, k):
    y_true, scores, c = case
    k = min(k, c - 1)  # k = C is always 1.0 and scikit-learn warns about it
    expected = skm.top_k_accuracy_score(y_true, scores, k=k, labels=np.arange(c))
    assert metrics.top_k_accuracy(y_true, scores, k=k) == pytest.approx(expected)


def test_top_k_accuracy_ties_go_to_the_lower_class_index():
    # all scores equal: the stable ranking is 0, 1, 2, so class 0 is the top-1 and 2 is last
    scores = np.zeros((3, 3))
    assert metrics.top_k_accuracy([0, 0, 0], scores, k=1) == 1.0
    assert metrics.top_k_accuracy([2, 2, 2], scores, k=2) == 0.0
    assert metrics.top_k_accuracy([1, 2, 2], scores, k=2) == pytest.approx(1 / 3)
    # a tie only among the runners-up: [5, 1, 1, 0] ranks 0, 1, 2, 3
    row = np.array([[5.0, 1.0, 1.0, 0.0]])
    assert metrics.top_k_accuracy([1], row, k=2) == 1.0
    assert metrics.top_k_accuracy([2], row, k=2) == 0.0


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 60),
    c=st.integers(3, 8),
    levels=st.integers(1, 3),
)
def test_top_k_accuracy_with_ties_is_the_stable_ranking(seed, n, c, levels):
    # few score levels: many ties. Reference: rank classes by (-score, class index) in Python.
    rng = np.random.default_rng(seed)
    scores, y_true = rng.integers(0, levels, (n, c)).astype(float), rng.integers(0, c, n)
    for k in range(1, c + 1):
        hits = [
            t in sorted(range(c), key=lambda j, r=r: (-r[j], j))[:k]
            for t, r in zip(y_true, scores, strict=True)
        ]
        assert metrics.top_k_accuracy(y_true, scores, k=k) == pytest.approx(np.mean(hits))
    assert metrics.top_k_accuracy(y_true, scores, k=1) == metrics.accuracy(y_true, scores)


@settings(max_examples=60, deadline=None)
@given(labelled())
def test_confusion_matrix_matches_sklearn(case):
    y_true, y_pred, c = case
    expected = skm.confusion_matrix(y_true, y_pred, labels=np.arange(c))
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred, num_classes=c), expected)


@settings(max_examples=60, deadline=None)
@given(labelled())
def test_precision_recall_f1_match_sklearn(case):
    y_true, y_pred, c = case
    got = metrics.precision_recall_f1(y_true, y_pred, num_classes=c)
    p, r, f, s = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=np.arange(c), zero_division=0
    )
    np.testing.assert_allclose(got["precision"], p)
    np.testing.assert_allclose(got["recall"], r)
    np.testing.assert_allclose(got["f1"], f)
    np.testing.assert_array_equal(got["support"], s)


def test_scores_are_argmaxed_and_torch_tensors_accepted():
    y_true = torch.tensor([0, 1, 2, 2])
    logits = torch.tensor([[3.0, 0.0, 0.0], [0.0, 2.0, 5.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.5]])
    assert metrics.accuracy(y_true, logits) == 0.5
    cm = metrics.confusion_matrix(y_true, logits)
    np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 0, 1], [1, 0, 1]])
    assert metrics.top_k_accuracy(y_true, logits, k=1) == 0.5
    assert metrics.top_k_accuracy(y_true, logits, k=2) == 1.0


def test_num_classes_pads_unseen_classes():
    cm = metrics.confusion_matrix([0, 1], [1, 1], num_classes=4)
    assert cm.shape == (4, 4)
    assert cm.sum() == 2
    scores = metrics.precision_recall_f1([0, 1], [1, 1], num_classes=4)
    np.testing.assert_array_equal(scores["support"], [1, 1, 0, 0])
    np.testing.assert_allclose(scores["precision"], [0, 0.5, 0, 0])


def test_most_confused_orders_off_diagonal_counts():
    cm = np.array([[5, 3, 0], [1, 7, 3], [0, 2, 9]])
    assert metrics.most_confused(cm, k=3) == [(0, 1, 3), (1, 2, 3), (2, 1, 2)]
    assert metrics.most_confused(np.eye(3, dtype=int), k=2) == []


def test_classification_report_lists_every_class():
    text = metrics.classification_report([0, 1, 1, 2], [0, 1, 2, 2], class_names=["a", "b", "c"])
    lines = text.splitlines()
    assert len(lines) == 1 + 3 + 2
    assert lines[1].split()[0] == "a" and lines[1].split()[1:4] == ["1.000", "1.000", "1.000"]
    assert "0.750" in lines[4]  # accuracy 3/4


def test_plot_confusion_matrix_writes_counts_and_rates():
    cm = np.array([[3, 1], [0, 4]])
    ax = viz.plot_confusion_matrix(cm, class_names=["cat", "dog"])
    assert [t.get_text() for t in ax.texts] == ["3", "1", "0", "4"]
    assert ax.get_xlabel() == "predicted class" and ax.get_title() == "Confusion matrix"
    ax2 = viz.plot_confusion_matrix(cm, normalize=True)
    assert [t.get_text() for t in ax2.texts] == ["0.75", "0.25", "0.00", "1.00"]
    plt.close("all")


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: metrics.accuracy([0, 1], [0]), ValueError, "same number of samples"),
        (lambda: metrics.accuracy([], []), ValueError, "y_true"),
        (lambda: metrics.accuracy([0, -1], [0, 1]), ValueError, "y_true"),
        (lambda: metrics.accuracy([0.5, 1], [0, 1]), TypeError, "y_true"),
        (lambda: metrics.accuracy([[0, 1]], [0]), ValueError, "y_true"),
        (lambda: metrics.top_k_accuracy([0, 1], np.zeros((2, 3)), k=4), ValueError, "k must"),
        (lambda: metrics.top_k_accuracy([0, 1], np.zeros((2, 3)), k=0), ValueError, "k must"),
        (lambda: metrics.top_k_accuracy([0, 5], np.zeros((2, 3)), k=1), ValueError, "y_true"),
        (lambda: metrics.top_k_accuracy([0, 1], np.zeros(2), k=1), ValueError, "scores"),
        (
            lambda: metrics.confusion_matrix([0, 3], [0, 1], num_classes=2),
            ValueError,
            "num_classes",
        ),
        (
            lambda: metrics.confusion_matrix([0, 1], [0, 1], num_classes=1.5),
            TypeError,
            "num_classes",
        ),
        (lambda: metrics.most_confused(np.zeros((2, 3))), ValueError, "cm must be square"),
        (
            lambda: viz.plot_confusion_matrix(np.eye(2), class_names=["a"]),
            ValueError,
            "class_names",
        ),
    ],
)
def test_bad_input_names_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --------------------------------------------------------------------------- exact rules


def test_most_confused_keeps_counts_of_one_and_breaks_ties_by_true_then_predicted_class():
    cm = np.array([[0, 1, 2], [2, 0, 1], [1, 2, 0]])
    # three 2s (0->2, 1->0, 2->1), then three 1s, each group by (true, predicted)
    assert metrics.most_confused(cm, k=6) == [
        (0, 2, 2),
        (1, 0, 2),
        (2, 1, 2),
        (0, 1, 1),
        (1, 2, 1),
        (2, 0, 1),
    ]
    assert metrics.most_confused(cm, k=1) == [(0, 2, 2)]
    ties_in_true_class = np.array([[0, 1, 1], [0, 0, 0], [0, 0, 0]])
    assert metrics.most_confused(ties_in_true_class, k=2) == [(0, 1, 1), (0, 2, 1)]


def test_defaults_are_top_5_and_the_5_most_confused():
    # the true class has the lowest of 6 scores: outside the default top 5
    assert metrics.top_k_accuracy([0], np.array([[0.0, 1, 2, 3, 4, 5]])) == 0.0
    assert metrics.top_k_accuracy([1], np.array([[0.0, 1, 2, 3, 4, 5]])) == 1.0
    cm = np.ones((3, 3), dtype=int)  # six off-diagonal ones
    assert len(metrics.most_confused(cm)) == 5


def test_classification_report_exact_text():
    text = metrics.classification_report(
        [0, 1, 1, 2, 2, 2], [0, 2, 1, 2, 0, 2], class_names=["cat", "dog", "a_long_name"], digits=2
    )
    assert text.splitlines() == [
        "      class precision    recall        f1  support",
        "        cat      0.50      1.00      0.67        1",
        "        dog      1.00      0.50      0.67        2",
        "a_long_name      0.67      0.67      0.67        3",
        "   accuracy                          0.67        6",
        "   macro F1                          0.67        6",
    ]
    assert metrics.classification_report([0, 1, 1], [0, 1, 0], num_classes=3).splitlines() == [
        "   class precision    recall        f1  support",
        "       0     0.500     1.000     0.667        1",
        "       1     1.000     0.500     0.667        2",
        "       2     0.000     0.000     0.000        0",
        "accuracy                         0.667        3",
        "macro F1                         0.444        3",
    ]


def test_labels_that_are_whole_floats_count_as_integers_and_predictions_widen_the_matrix():
    assert metrics.accuracy(np.array([0.0, 1.0, 2.0]), [0, 1, 1]) == pytest.approx(2 / 3)
    assert metrics.accuracy([0, 1, 1], np.array([0.0, 1.0, 2.0])) == pytest.approx(2 / 3)
    whole32 = np.array([0, 1, 2], dtype=np.float32)
    assert metrics.accuracy(whole32, [0, 1, 1]) == pytest.approx(2 / 3)
    with pytest.raises(TypeError, match="^y_true must hold integer class labels, got dtype bool$"):
        metrics.accuracy(np.array([True, False]), [0, 1])
    # a predicted class above every true label still gets its own column (and row)
    np.testing.assert_array_equal(
        metrics.confusion_matrix([0, 0], [0, 2]), [[1, 0, 1], [0, 0, 0], [0, 0, 0]]
    )
    # the largest valid label is num_classes - 1, and C - 1 is a valid top-k label
    assert metrics.confusion_matrix([0, 1], [0, 1], num_classes=2).shape == (2, 2)
    assert metrics.top_k_accuracy([2], np.array([[0.0, 1.0, 2.0]]), k=1) == 1.0
    assert metrics.most_confused(np.array([[0, 1], [0, 0]]), k=1) == [(0, 1, 1)]
    # classes never present nor predicted score exactly 0 everywhere, F1 included
    got = metrics.precision_recall_f1([0, 0], [0, 0], num_classes=3)
    for key in ("precision", "recall", "f1"):
        np.testing.assert_array_equal(got[key], [1.0, 0.0, 0.0])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: metrics.accuracy([0, 1], [0]),
            ValueError,
            "y_true and y_pred must have the same number of samples, got 2 and 1",
        ),
        (
            lambda: metrics.accuracy([], []),
            ValueError,
            "y_true must hold at least one sample, got 0",
        ),
        (
            lambda: metrics.accuracy([0, -1], [0, 1]),
            ValueError,
            "y_true must hold class labels >= 0, got -1",
        ),
        (
            lambda: metrics.accuracy([0.5, 1], [0, 1]),
            TypeError,
            "y_true must hold integer class labels, got dtype float64",
        ),
        (
            lambda: metrics.accuracy([[0, 1]], [0]),
            ValueError,
            "y_true must have 1 dimensions, got shape (1, 2)",
        ),
        (
            lambda: metrics.accuracy([0], np.zeros((1, 2, 2))),
            ValueError,
            "y_pred must have 1 or 2 dimensions, got shape (1, 2, 2)",
        ),
        (
            lambda: metrics.accuracy([0, 1], [0.5, 1]),
            TypeError,
            "y_pred must hold integer class labels, got dtype float64",
        ),
        (
            lambda: metrics.accuracy([0, 1], [0, -2]),
            ValueError,
            "y_pred must hold class labels >= 0, got -2",
        ),
        (
            lambda: metrics.top_k_accuracy([0, 1], np.zeros((3, 4))),
            ValueError,
            "y_true and scores must have the same number of samples, got 2 and 3",
        ),
        (
            lambda: metrics.top_k_accuracy(np.zeros(0, int), np.zeros((0, 3))),
            ValueError,
            "y_true must hold at least one sample, got 0",
        ),
        (
            lambda: metrics.top_k_accuracy([0, -1], np.zeros((2, 3))),
            ValueError,
            "y_true must hold class labels >= 0, got -1",
        ),
        (
            lambda: metrics.top_k_accuracy([0, 1], np.zeros((2, 3)), k=4),
            ValueError,
            "k must be <= the number of classes 3, got 4",
        ),
        (
            lambda: metrics.top_k_accuracy([0, 1], np.zeros((2, 3)), k=0),
            ValueError,
            "k must be >= 1, got 0",
        ),
        (
            lambda: metrics.top_k_accuracy([0, 3], np.zeros((2, 3)), k=1),
            ValueError,
            "y_true has label 3 but scores has only 3 columns",
        ),
        (
            lambda: metrics.top_k_accuracy([0, 1], np.zeros(2), k=1),
            ValueError,
            "scores must have 2 dimensions, got shape (2,)",
        ),
        (
            lambda: metrics.confusion_matrix([0, 3], [0, 1], num_classes=2),
            ValueError,
            "num_classes must exceed every label, got num_classes=2 but a label 3 occurs",
        ),
        (
            lambda: metrics.confusion_matrix([0, 0], [0, 0], num_classes=0),
            ValueError,
            "num_classes must be >= 1, got 0",
        ),
        (
            lambda: metrics.confusion_matrix([0, 1], [0, 1], num_classes=1.5),
            TypeError,
            "num_classes must be an integer, got 1.5 (float)",
        ),
        (
            lambda: metrics.most_confused(np.zeros((2, 3))),
            ValueError,
            "cm must be square, got shape (2, 3)",
        ),
        (
            lambda: metrics.most_confused(np.zeros(4)),
            ValueError,
            "cm must have 2 dimensions, got shape (4,)",
        ),
        (lambda: metrics.most_confused(np.zeros((2, 2)), k=0), ValueError, "k must be >= 1, got 0"),
        (
            lambda: metrics.classification_report([0, 1], [0, 1], class_names=["a"]),
            ValueError,
            "class_names must have 2 entries, got 1",
        ),
        (
            lambda: metrics.classification_report([0, 1], [0, 1], digits=-1),
            ValueError,
            "digits must be >= 0, got -1",
        ),
    ],
)
def test_bad_input_messages_are_exact(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message
