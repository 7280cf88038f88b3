"""Run the third-party OGC API Features Part 1 Core suite (``ogctests`` on PyPI) against a server.

Run by hand (or from a test or CI job) from the repository root, with a server already up:

    make demo                                          # serves http://127.0.0.1:5000
    .venv/bin/python -m bench.ogc_conformance          # against the demo
    .venv/bin/python -m bench.ogc_conformance --url http://127.0.0.1:8080 --json out.json
    .venv/bin/python -m bench.ogc_conformance --demo   # a demo of its own on a scratch DB

(``--demo``: :mod:`bench.demo_server` loads the samples as ``make demo`` does into a database of
its own, serves it with ``cim serve`` on a free port, runs the suite and drops the database.)

ogctests is installed, pinned, into a throw-away virtualenv under the work dir (default
/var/tmp/cim-bench/venv-ogctests; never the project's venv: it pins its own pytest, httpx and
geopandas). Its ``features/core`` tests run with pytest; the JUnit report is read back and
printed as one line per test (PASS/FAIL/ERROR/SKIP, with the first line of the reason) and
the total. Exit status 0 only when every test passed. Issue 8 asks for 29/29 against
``make demo``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

OGCTESTS = "ogctests==0.1.15"


def venv(work: Path, spec: str) -> Path:
    """The virtualenv's python, with ``spec`` installed (once)."""
    env_dir = work / "venv-ogctests"
    py = env_dir / "bin" / "python"
    marker = env_dir / "installed.txt"
    if not py.exists() or not marker.exists() or marker.read_text() != spec:
        print(f"installing {spec} into {env_dir} …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(env_dir)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", spec], check=True)
        marker.write_text(spec)
    return py


def run_suite(py: Path, url: str, scope: str, xml: Path) -> subprocess.CompletedProcess:
    pkg = subprocess.run([str(py), "-c", "import ogctests, os; "
                          "print(os.path.dirname(ogctests.__file__))"],
                         capture_output=True, text=True, check=True).stdout.strip()
    env = dict(os.environ, INSTANCE_URL=url.rstrip("/"))
    env.pop("CLIENT_OVERRIDDEN", None)
    argv = [str(py), "-m", "pytest", str(Path(pkg) / scope), f"--rootdir={pkg}",
            f"--confcutdir={pkg}", "-p", "no:cacheprovider", "-q", "--tb=line",
            "-W", "ignore", f"--junit-xml={xml}"]
    return subprocess.run(argv, env=env, cwd=xml.parent, capture_output=True, text=True)


def results(xml: Path) -> list[dict]:
    """One dict per test case of the JUnit report: name, status, reason."""
    out = []
    for case in ET.parse(xml).getroot().iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1]
        status, reason = "PASS", ""
        for tag, name in (("failure", "FAIL"), ("error", "ERROR"), ("skipped", "SKIP")):
            el = case.find(tag)
            if el is not None:
                status = name
                text = (el.get("message") or el.text or "").strip()
                reason = text.splitlines()[0][:200] if text else ""
                break
        out.append({"test": f"{module}::{case.get('name')}", "status": status,
                    "reason": reason})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:5000", help="landing page of the API")
    ap.add_argument("--scope", default="features/core", help="ogctests scope (folder)")
    ap.add_argument("--work", type=Path, default=Path("/var/tmp/cim-bench"))
    ap.add_argument("--ogctests", default=OGCTESTS, help="pip requirement to install")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--demo", action="store_true",
                    help="serve a demo of its own (scratch database, samples loaded) instead")
    args = ap.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    py = venv(work, args.ogctests)
    xml = work / f"ogctests-{time.strftime('%Y%m%d-%H%M%S')}.xml"
    if args.demo:
        from bench.demo_server import demo_server

        with demo_server(work) as srv:
            args.url = srv.base
            proc = run_suite(py, args.url, args.scope, xml)
    else:
        proc = run_suite(py, args.url, args.scope, xml)
    if not xml.exists():
        sys.exit(f"ogctests did not run:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    rows = results(xml)
    width = max((len(r["test"]) for r in rows), default=10)
    for r in rows:
        print(f"{r['status']:<5} {r['test']:<{width}}  {r['reason']}".rstrip())
    passed = sum(r["status"] == "PASS" for r in rows)
    print(f"\nogctests {args.ogctests} {args.scope} against {args.url}: "
          f"{passed}/{len(rows)} passed (JUnit report {xml})")
    if args.json:
        args.json.write_text(json.dumps({"url": args.url, "suite": args.ogctests,
                                         "scope": args.scope, "passed": passed,
                                         "total": len(rows), "tests": rows}, indent=1))
    sys.exit(0 if rows and passed == len(rows) else 1)


if __name__ == "__main__":
    main()
