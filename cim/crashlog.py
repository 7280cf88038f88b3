"""Internal errors: the traceback goes to a log file, the screen gets one line pointing at it.

Bad input is the user's to fix and is reported as ``error: FILE, row N, field 'F': …`` (exit
3). Anything else that escapes a command is a bug of the platform: the user gets one line
``internal error: … (details: PATH)`` and exit 1, and the full traceback, the command line and
the versions are kept in ``PATH`` for whoever fixes the bug. Logs go to ``CIM_LOG_DIR``, else
``logs/`` under the CIM home (``CIM_HOME``, default ``.cim`` of the checkout).
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import traceback
from datetime import datetime
from pathlib import Path


def log_dir() -> Path:
    """Where internal-error logs go, from the settings (a temporary folder if they are broken)."""
    try:
        from cim.config import Settings

        s = Settings()
        return s.log_dir or s.home / "logs"
    except Exception:  # broken settings must not hide the bug being reported
        return Path(tempfile.gettempdir()) / "cim-logs"


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = [f"python {platform.python_version()} on {platform.platform()}"]
    for pkg in ("cim-platform", "pyogrio", "shapely", "pyproj", "psycopg", "openpyxl"):
        try:
            out.append(f"{pkg} {version(pkg)}")
        except PackageNotFoundError:
            pass
    return ", ".join(out)


def write_crash_log(exc: BaseException, argv: list[str] | None = None,
                    directory: Path | None = None) -> Path:
    """Write the traceback of ``exc`` to a new ``cim-YYYYMMDD-HHMMSS.log``; return its path.

    Raises OSError when no log can be written (the caller then prints the traceback).
    """
    directory = directory or log_dir()
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    text = (f"cim internal error at {datetime.now().isoformat(timespec='seconds')}\n"
            f"command: {' '.join(argv if argv is not None else sys.argv)}\n"
            f"cwd: {os.getcwd()}\n{_versions()}\n\n"
            + "".join(traceback.format_exception(exc)))
    for n in range(1000):
        path = directory / (f"cim-{stamp}.log" if n == 0 else f"cim-{stamp}-{n}.log")
        try:
            # backslashreplace: a command line of undecodable bytes (surrogates) is logged too
            with open(path, "x", encoding="utf-8", errors="backslashreplace") as fh:
                fh.write(text)
            return path
        except FileExistsError:
            continue
    raise OSError(f"no free log file name in {directory}")


def report_internal_error(exc: BaseException) -> None:
    """Print the one-line pointer (or, if no log can be written, the traceback) on stderr."""
    summary = f"{type(exc).__name__}: {str(exc).strip()}".strip().splitlines()[0]
    try:
        path = write_crash_log(exc)
    except OSError as log_exc:
        traceback.print_exception(exc, file=sys.stderr)
        print(f"internal error: {summary} (no log written: {log_exc})", file=sys.stderr)
        return
    print(f"internal error: {summary} (details: {path})", file=sys.stderr)
