"""The ``cim`` process ends without the interpreter's teardown after a command that succeeded
(:func:`cim.cli.entry`), losing nothing the teardown would have done: output, ``atexit``
functions, threads still running, error exits."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                          capture_output=True, text=True, timeout=120)


def test_output_and_exit_functions_survive_the_quick_exit(tmp_path):
    mark = tmp_path / "atexit"
    r = _run("""
        import atexit, sys
        from pathlib import Path
        import cim.cli
        mark = Path(sys.argv[1])
        atexit.register(lambda: mark.write_text("ran"))
        # stdout buffered in a pipe: what was printed last must still arrive
        print("x" * 200_000, end="")
        sys.argv = ["cim", "--help"]
        cim.cli.entry()
        raise AssertionError("entry() returned")
        """, str(mark))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("x" * 200_000) and "Usage:" in r.stdout
    assert mark.read_text() == "ran"


def test_a_running_thread_is_waited_for(tmp_path):
    mark = tmp_path / "thread"
    r = _run("""
        import sys, threading, time
        from pathlib import Path
        import cim.cli
        mark = Path(sys.argv[1])
        def late():
            time.sleep(0.5)
            mark.write_text("done")
        threading.Thread(target=late).start()
        sys.argv = ["cim", "--help"]
        cim.cli.entry()
        """, str(mark))
    assert r.returncode == 0, r.stderr
    assert mark.read_text() == "done"


def test_an_error_exit_keeps_its_code_and_message():
    r = subprocess.run([sys.executable, "-m", "cim", "no-such-command"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and "no-such-command" in r.stderr


def test_text_the_terminal_sent_in_another_encoding_is_a_usage_error(db, tmp_path):
    """A terminal sending GBK while the locale says UTF-8: the argument holds undecodable
    bytes, which the database cannot take — said as the command line's fault (exit 2, the
    bytes shown), not an internal error whose crash log could not even be written."""
    from tests.conftest import PROJECT_ROOT

    env = {**db.env(), "CIM_LOG_DIR": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "cim", "case", "list", "--district",
                        "测试".encode("gbk")], env=env, cwd=PROJECT_ROOT,
                       capture_output=True, timeout=120)
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == 2, err
    assert "not utf-8 text" in err and "\\xb2\\xe2\\xca\\xd4" in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())  # no crash log: no bug


def test_a_crash_log_takes_a_command_line_of_undecodable_bytes(tmp_path):
    from cim.crashlog import write_crash_log

    path = write_crash_log(RuntimeError("bug"), argv=["cim", "load", "\udcb2\udce2.shp"],
                           directory=tmp_path)
    text = path.read_text(encoding="utf-8")
    assert "command: cim load \\udcb2\\udce2.shp" in text and "RuntimeError: bug" in text
