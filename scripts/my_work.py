"""A student's own copies of the chapters, so using the course never edits the course.

Usage (run from the repository root; `make lab` and `make reset` call it):

    python scripts/my_work.py sync             # copy chapters/ into my-work/, never overwriting
    python scripts/my_work.py reset 03         # fresh copy of chapter 03, old one kept as a backup

`my-work/` is git-ignored and sits next to `chapters/` (same depth), so the notebooks' relative
paths (`../runs/...`) mean the same thing from both. `sync` copies only chapters that have no
copy yet: the first run copies all of them, a later run (after `git pull` brought a new chapter)
adds the new ones and leaves every existing copy, with the student's work, alone. `reset` moves
the old copy to `my-work/backups/<name>.<UTC time>.ipynb` before copying the chapter again.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sync(chapters: Path, work: Path) -> list[Path]:
    """Copy every ``chapters/*.ipynb`` that has no copy in ``work`` yet; return the new copies.

    Existing copies are never touched, whatever their content.
    """
    if not chapters.is_dir():
        raise ValueError(f"chapters must be a folder of notebooks, got {str(chapters)!r}")
    work.mkdir(parents=True, exist_ok=True)
    created = []
    for src in sorted(chapters.glob("*.ipynb")):
        dst = work / src.name
        if not dst.exists():
            shutil.copy2(src, dst)
            created.append(dst)
    return created


def find_chapter(chapters: Path, chapter: str) -> Path:
    """The notebook of ``chapters`` named by ``chapter``: its number (``3``, ``03``) or file name."""
    matches = [
        p
        for p in sorted(chapters.glob("*.ipynb"))
        if chapter in (p.name, p.stem)
        or (chapter.isdigit() and p.name[:2] == f"{int(chapter):02d}")
    ]
    if len(matches) != 1:
        names = ", ".join(p.stem for p in sorted(chapters.glob("*.ipynb")))
        raise ValueError(
            f"chapter must name exactly one notebook (a number such as 03, or a file name), "
            f"got {chapter!r}; the chapters are: {names}"
        )
    return matches[0]


def reset(chapters: Path, work: Path, chapter: str, now: datetime | None = None) -> Path | None:
    """Replace the student's copy of one chapter by a fresh one; return the backup (or None).

    The old copy is moved to ``work/backups/<stem>.<YYYYmmdd-HHMMSS>.ipynb`` (never deleted).
    """
    src = find_chapter(chapters, chapter)
    dst = work / src.name
    backup = None
    if dst.exists():
        stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%d-%H%M%S")
        backup = work / "backups" / f"{src.stem}.{stamp}.ipynb"
        backup.parent.mkdir(parents=True, exist_ok=True)
        n = 1
        while backup.exists():  # two resets within one second keep both backups
            backup = backup.with_name(f"{src.stem}.{stamp}-{n}.ipynb")
            n += 1
        dst.rename(backup)
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)
    return backup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapters", type=Path, default=ROOT / "chapters")
    parser.add_argument("--work", type=Path, default=ROOT / "my-work")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("sync", help="copy chapters that have no copy in my-work/ yet")
    p_reset = sub.add_parser("reset", help="fresh copy of one chapter (the old one is backed up)")
    p_reset.add_argument("chapter", help="chapter number (03) or notebook name")
    args = parser.parse_args(argv)
    try:
        if args.command == "sync":
            for path in sync(args.chapters, args.work):
                print(f"new: {path}")
        else:
            backup = reset(args.chapters, args.work, args.chapter)
            if backup is not None:
                print(f"your previous copy is kept in {backup}")
            print(f"fresh copy: {args.work / find_chapter(args.chapters, args.chapter).name}")
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
