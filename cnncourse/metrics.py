"""Classification metrics from scratch: accuracy, top-k, precision/recall/F1, confusion matrix.

Every function takes plain label arrays (numpy arrays, lists or torch tensors) and returns numpy
values, so the same code scores a notebook's predictions and the CLI's test set. The tests
compare each function with its scikit-learn counterpart.

Conventions (as in scikit-learn):

- ``y_true``: true class of each sample, ints in ``0 .. num_classes - 1``, shape (N,).
- ``y_pred``: predicted class per sample, shape (N,), *or* scores/logits of shape (N, C), in
  which case the prediction is the arg-max of each row.
- Confusion matrix rows are the true class, columns the predicted class (drawn by
  :func:`cnncourse.viz.plot_confusion_matrix`); :func:`cnncourse.segment.confusion_matrix` counts
  pixels with this function, in the same ``(true, predicted)`` argument order.
- A class that is never predicted has precision 0 (and a class that never occurs has recall 0)
  instead of a division-by-zero warning (scikit-learn's ``zero_division=0``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validate import check_array, check_int

__all__ = [
    "accuracy",
    "top_k_accuracy",
    "confusion_matrix",
    "precision_recall_f1",
    "classification_report",
    "most_confused",
]


def _labels(name: str, value: Any) -> np.ndarray:
    arr = check_array(name, value, ndim=1)
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"{name} must hold integer class labels, got dtype {arr.dtype}")
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} must hold class labels >= 0, got {arr.min()}")
    return arr.astype(np.int64)


def _predictions(y_pred: Any) -> np.ndarray:
    """Labels from ``y_pred``: (N,) labels as they are, (N, C) scores by arg-max."""
    arr = check_array("y_pred", y_pred, ndim=(1, 2))
    if arr.ndim == 2:
        return arr.argmax(axis=1).astype(np.int64)
    return _labels("y_pred", arr)


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t = _labels("y_true", y_true)
    p = _predictions(y_pred)
    if t.shape[0] != p.shape[0]:
        raise ValueError(
            f"y_true and y_pred must have the same number of samples, got {t.shape[0]} and "
            f"{p.shape[0]}"
        )
    if t.size == 0:
        raise ValueError("y_true must hold at least one sample, got 0")
    return t, p


def _num_classes(num_classes: int | None, *label_arrays: np.ndarray) -> int:
    seen = max(int(a.max()) for a in label_arrays) + 1
    if num_classes is None:
        return seen
    num_classes = check_int("num_classes", num_classes, minimum=1)
    if seen > num_classes:
        raise ValueError(
            f"num_classes must exceed every label, got num_classes={num_classes} but a label "
            f"{seen - 1} occurs"
        )
    return num_classes


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of samples whose predicted class equals the true class.

    Parameters
    ----------
    y_true : array of int, shape (N,)
    y_pred : array of int, shape (N,), or scores of shape (N, C) (arg-max is taken)

    Returns
    -------
    float in [0, 1]
    """
    t, p = _pair(y_true, y_pred)
    return float(np.mean(t == p))


def top_k_accuracy(y_true: Any, scores: Any, k: int = 5) -> float:
    """Fraction of samples whose true class is among the ``k`` highest scores.

    Parameters
    ----------
    y_true : array of int, shape (N,)
    scores : array of float, shape (N, C)
        Logits or probabilities (any monotone score works: only the ranking matters).
    k : int
        ``1 <= k <= C``; ``k = 1`` is plain accuracy.

    Returns
    -------
    float in [0, 1]

    Notes
    -----
    Ties go to the lower class index: classes are ranked by a stable sort by decreasing score,
    and a sample is a hit if its true class is among the first ``k``. So ``k = 1`` always equals
    :func:`accuracy` on the same scores, whose argmax also takes the first maximum.
    scikit-learn's ``top_k_accuracy_score`` agrees for distinct scores but lets the *last* class
    win a tie (it ranks by ``argsort(scores, kind="mergesort")[:, ::-1]``), so its top-1 can
    differ from its own ``accuracy_score`` of the argmax; the course keeps one rule for both.
    """
    t = _labels("y_true", y_true)
    s = check_array("scores", scores, ndim=2).astype(np.float64)
    if s.shape[0] != t.shape[0]:
        raise ValueError(
            f"y_true and scores must have the same number of samples, got {t.shape[0]} and "
            f"{s.shape[0]}"
        )
    if t.size == 0:
        raise ValueError("y_true must hold at least one sample, got 0")
    k = check_int("k", k, minimum=1)
    if k > s.shape[1]:
        raise ValueError(f"k must be <= the number of classes {s.shape[1]}, got {k}")
    if t.max() >= s.shape[1]:
        raise ValueError(f"y_true has label {t.max()} but scores has only {s.shape[1]} columns")
    top = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == t[:, None], axis=1)))


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None) -> np.ndarray:
    """Count matrix ``cm[i, j]`` = number of samples of true class ``i`` predicted as ``j``.

    Parameters
    ----------
    y_true : array of int, shape (N,)
    y_pred : array of int, shape (N,), or scores (N, C)
    num_classes : int, optional
        Size C of the matrix; default ``max(label) + 1``.

    Returns
    -------
    ndarray of int64, shape (C, C)
        Rows: true class; columns: predicted class. The diagonal holds the correct predictions.
    """
    t, p = _pair(y_true, y_pred)
    c = _num_classes(num_classes, t, p)
    # One bincount over the flattened (row, column) index: O(N), no Python loop.
    return np.bincount(t * c + p, minlength=c * c).reshape(c, c).astype(np.int64)


def precision_recall_f1(
    y_true: Any, y_pred: Any, num_classes: int | None = None
) -> dict[str, np.ndarray]:
    """Per-class precision, recall, F1 score and support.

    For class ``c`` with TP true positives, FP false positives and FN false negatives:
    precision = TP / (TP + FP), recall = TP / (TP + FN),
    F1 = 2 precision recall / (precision + recall) (0 when both are 0).

    Parameters
    ----------
    y_true, y_pred, num_classes
        As in :func:`confusion_matrix`.

    Returns
    -------
    dict with ``'precision'``, ``'recall'``, ``'f1'`` (float64 arrays of shape (C,)) and
    ``'support'`` (int64 array (C,): number of true samples per class).
    """
    cm = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0)
    support = cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}


def classification_report(
    y_true: Any,
    y_pred: Any,
    class_names: list[str] | None = None,
    num_classes: int | None = None,
    digits: int = 3,
) -> str:
    """A text table of per-class precision, recall, F1 and support, plus accuracy and macro F1."""
    digits = check_int("digits", digits, minimum=0)
    scores = precision_recall_f1(y_true, y_pred, num_classes)
    c = len(scores["support"])
    names = [str(i) for i in range(c)] if class_names is None else [str(n) for n in class_names]
    if len(names) != c:
        raise ValueError(f"class_names must have {c} entries, got {len(names)}")
    width = max(8, *(len(n) for n in names))
    lines = [f"{'class':>{width}} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}"]
    for i, name in enumerate(names):
        p, r, f = scores["precision"][i], scores["recall"][i], scores["f1"][i]
        lines.append(
            f"{name:>{width}} {p:9.{digits}f} {r:9.{digits}f} {f:9.{digits}f} "
            f"{scores['support'][i]:8d}"
        )
    n = int(scores["support"].sum())
    lines.append(f"{'accuracy':>{width}} {accuracy(y_true, y_pred):29.{digits}f} {n:8d}")
    lines.append(f"{'macro F1':>{width}} {scores['f1'].mean():29.{digits}f} {n:8d}")
    return "\n".join(lines)


def most_confused(cm: Any, k: int = 5) -> list[tuple[int, int, int]]:
    """The ``k`` largest off-diagonal entries of a confusion matrix.

    Returns
    -------
    list of (true_class, predicted_class, count), largest count first (ties: smaller true
    class, then smaller predicted class first); entries with count 0 are left out.
    """
    m = check_array("cm", cm, ndim=2)
    if m.shape[0] != m.shape[1]:
        raise ValueError(f"cm must be square, got shape {m.shape}")
    k = check_int("k", k, minimum=1)
    off = [
        (int(i), int(j), int(m[i, j]))
        for i in range(m.shape[0])
        for j in range(m.shape[1])
        if i != j and m[i, j] > 0
    ]
    off.sort(key=lambda e: (-e[2], e[0], e[1]))
    return off[:k]
