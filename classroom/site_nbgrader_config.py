"""Site-wide nbgrader settings of the cnncourse classroom, for instructors and students alike.

``cnncourse-classroom install`` copies this file to ``<prefix>/env/etc/jupyter/nbgrader_config.py``
(nbgrader reads it before ``~/.jupyter/nbgrader_config.py`` and the course directory's
``nbgrader_config.py``) and writes the exchange root chosen at install time into
``EXCHANGE_ROOT``. The hub may point a demo or a test at another exchange with the
``CNNCOURSE_EXCHANGE`` environment variable.
"""

import os

EXCHANGE_ROOT = "/srv/nbgrader/exchange"  # written by cnncourse-classroom install

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

# Both sides of the exchange: one course, one shared folder (mode 1777, owned by root).
c.CourseDirectory.course_id = "cnncourse"
c.Exchange.root = os.environ.get("CNNCOURSE_EXCHANGE", EXCHANGE_ROOT)
c.Exchange.path_includes_course = False

# Students: a submission to a closed assignment is refused with a message naming it.
c.ExchangeFactory.submit = "cnncourse_classroom.ClosedAwareSubmit"

# Instructors: a submission from someone who is not on the roster is an error that names them
# (the submission stays in submitted/), never a student silently created without a name.
c.Autograde.create_student = False
# Late work: 10 % of the autograded score per started day after the due date.
c.AssignLatePenalties.plugin_class = "cnncourse_classroom.PenaltyPerStartedDay"
c.PenaltyPerStartedDay.percent_per_day = 10.0

# Kubernetes (classroom/helm/values.yaml): pods do not share accounts or a filesystem, so the
# exchange is the ngshare service instead of a folder (ngshare_exchange is in the image).
NGSHARE_URL = os.environ.get("CNNCOURSE_NGSHARE_URL")
if NGSHARE_URL:
    from ngshare_exchange import configureExchange

    configureExchange(c, NGSHARE_URL)
