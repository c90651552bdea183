"""Command line: ``python -m cnncourse.grade NOTEBOOK [--source S] [--timeout T] [--budget B]
[--unsafe-no-sandbox]`` (see :func:`cnncourse.grade.selfgrade.main`)."""

import sys

from .selfgrade import main

if __name__ == "__main__":
    sys.exit(main())
