"""check.predict: feedback for the chapters' predict-then-run exercises (never raises)."""

import numpy as np
import torch

from cnncourse import check


def test_no_prediction_yet_asks_for_one(capsys):
    check.predict("size", None, 5)
    out = capsys.readouterr().out
    assert out.startswith("✍️ size:") and "replace None" in out


def test_right_and_wrong_predictions(capsys):
    check.predict("size", 5, 5)
    assert capsys.readouterr().out.startswith("✅ size: right, the cell computed 5")
    check.predict("size", 4, 5, hint="count the windows")
    out = capsys.readouterr().out
    assert out.startswith("🔁 size: you predicted 4; the cell computed 5")
    assert "why: count the windows" in out
    check.predict("tiny", 0, 1e-17, atol=1e-12)
    assert capsys.readouterr().out.strip() == "✅ tiny: right, the cell computed 1e-17"
    check.predict("shape", (2, 3), torch.Size([2, 3]))
    assert capsys.readouterr().out.startswith("✅")
    check.predict("values", [1, 2], np.array([1.0, 2.0000000001]))
    assert capsys.readouterr().out.startswith("✅")
    check.predict("values", [1, 2, 3], np.array([1.0, 2.0]))
    out = capsys.readouterr().out
    assert out.startswith("🔁") and "[1., 2.]" in out
    check.predict("word", "max", "avg")
    assert capsys.readouterr().out.startswith("🔁 word: you predicted 'max'")
    check.predict("flag", 1, True)  # True is not 1
    assert capsys.readouterr().out.startswith("🔁")


def test_an_object_that_equals_everything_is_not_believed(capsys):
    class Liar:
        def __eq__(self, other):
            return True

    check.predict("liar", Liar(), 3)
    assert capsys.readouterr().out.startswith("🔁")
