"""nbgrader plugins of the cnncourse classroom (installed into the shared environment).

``cnncourse-classroom install`` copies this file into the classroom environment's
site-packages, and the site-wide ``nbgrader_config.py`` (``classroom/site_nbgrader_config.py``)
selects its classes:

- :class:`PenaltyPerStartedDay` -- the late policy: a percentage of the autograded score per
  started day after the due date (10 % by default), never more than the score;
- :class:`ClosedAwareSubmit` -- ``nbgrader submit`` (and the Assignments tab) refuses a
  submission to an assignment the instructor has closed, with a message that names the
  assignment and says that the student's work is still in their home directory.
"""

from __future__ import annotations

import math
import os

from nbgrader.exchange.default.submit import ExchangeSubmit
from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Float

SECONDS_PER_DAY = 24 * 60 * 60


class PenaltyPerStartedDay(LateSubmissionPlugin):
    """Take ``percent_per_day`` % of the notebook's score off for every started day late."""

    percent_per_day = Float(
        10.0, help="Percentage of the score taken off per started day after the due date."
    ).tag(config=True)

    def late_submission_penalty(
        self, student_id: str, score: float, total_seconds_late: float
    ) -> float | None:
        if total_seconds_late <= 0:
            return None
        days = math.ceil(total_seconds_late / SECONDS_PER_DAY)
        fraction = min(1.0, days * self.percent_per_day / 100.0)
        penalty = round(score * fraction, 2)
        self.log.warning(
            "%s submitted %.0f s after the due date (%d started day(s)): %.0f %% of %s = %s "
            "points off",
            student_id,
            total_seconds_late,
            days,
            100 * fraction,
            score,
            penalty,
        )
        return penalty


class ClosedAwareSubmit(ExchangeSubmit):
    """``nbgrader submit`` that explains a closed (no longer released) assignment.

    The instructor closes an assignment with ``nbgrader list --remove <assignment>``, which
    takes it out of the exchange's ``outbound`` folder. nbgrader's own message is then
    "Assignment not found: <path>"; this one says what happened and that nothing was lost.
    """

    def init_release(self):
        outbound = os.path.join(self.root, self.coursedir.course_id, "outbound")
        release = os.path.join(outbound, self.coursedir.assignment_id)
        if os.path.isdir(outbound) and not os.path.isdir(release):
            self.fail(
                f"Assignment {self.coursedir.assignment_id} of course "
                f"{self.coursedir.course_id} is closed: submissions are no longer accepted. "
                f"Nothing was submitted; your work is still in {self.src_path}. "
                "Ask your instructor if you need an extension."
            )
        super().init_release()
