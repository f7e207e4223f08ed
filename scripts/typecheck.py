"""``make typecheck``: one ``mypy`` run over every file the root pyproject's ``[tool.mypy]`` names.

pytest puts each test folder on ``sys.path`` and imports the modules there by their bare names, so
mypy maps them the same way (``contrib/redis/tests/redis_servers.py`` is module ``redis_servers``).
Only ``conftest.py`` is the same name in every folder, and mypy refuses a run holding two modules of
one name (``Duplicate module named "conftest"``). This runs mypy as the ``mypy`` command does (its
own ``process_options`` and ``run_build``: same arguments, configuration, output and exit status),
except that each conftest is checked under a name of its own made from its folder
(``contrib/redis/tests/conftest.py`` is ``conftest__contrib__redis__tests``). Nothing may import a
conftest: a module that does is reported (the file is "found twice under different module names").

    python scripts/typecheck.py            # the configured files; the exit status is mypy's
    python scripts/typecheck.py tests/core # other arguments go to mypy unchanged
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

from mypy import util
from mypy.fscache import FileSystemCache
from mypy.main import process_options, run_build
from mypy.modulefinder import BuildSource

CONFTEST = "conftest"


def conftest_name(path: str) -> str:
    """The module name a ``conftest.py`` at ``path`` is checked under, made of its folder relative to
    the working directory (``contrib/redis/tests/conftest.py``: ``conftest__contrib__redis__tests``)."""
    folder = Path(os.path.relpath(path)).parent
    return "__".join((CONFTEST, *(re.sub(r"\W", "_", part) for part in folder.parts)))


def name_conftests_apart(sources: list[BuildSource]) -> None:
    """Rename every source mypy would call ``conftest`` after its folder (in place)."""
    for source in sources:
        if source.module == CONFTEST and source.path is not None:
            source.module = conftest_name(source.path)


def main(args: list[str]) -> int:
    """Run mypy on ``args`` as ``mypy`` does; return its exit status (0 clean, 1 errors, 2 blockers)."""
    started = time.time()
    fscache = FileSystemCache()
    sources, options = process_options(args, fscache=fscache)
    name_conftests_apart(sources)
    _, messages, blockers = run_build(sources, options, fscache, started, sys.stdout, sys.stderr)
    formatter = util.FancyFormatter(sys.stdout, sys.stderr, options.hide_error_codes)
    errors, notes, files = util.count_stats(messages)
    if options.error_summary and errors:
        print(formatter.format_error(errors, files, len(sources), blockers=blockers, use_color=options.color_output))
    elif options.error_summary and notes == len(messages):
        print(formatter.format_success(len(sources), options.color_output))
    if notes < len(messages):
        return 2 if blockers else 1
    return 0


if __name__ == "__main__":
    util.hard_exit(main(sys.argv[1:]))  # as mypy does: freeing the build's objects takes longer than the check
