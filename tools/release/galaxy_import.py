"""Run galaxy-importer (the import check of Galaxy and Automation Hub) on a collection tarball.

    .build/importer-venv/bin/python tools/release/galaxy_import.py dist/kubiya-runners-<v>.tar.gz [--log FILE]

galaxy-importer exits 0 even when it logs `ERROR:` lines (an ansible-lint timeout, a
failing ansible-doc); Galaxy shows those to users. Here any ERROR line fails (exit 1);
WARNING lines are counted and kept in the log. Runs in a temporary directory so the
importer's scratch files never land in the work tree.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("tarball", type=Path)
    ap.add_argument("--log", type=Path, help="write the importer's full output here")
    args = ap.parse_args()
    tarball = args.tarball.resolve()
    if not tarball.is_file():
        print(f"galaxy-importer: no such tarball {tarball}", file=sys.stderr)
        return 2
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="galaxy-importer-") as tmp:
        env = dict(os.environ, GALAXY_IMPORTER_ANSIBLE_LOCAL_TMP=str(Path(tmp) / "ansible-tmp"))
        proc = subprocess.run([sys.executable, "-m", "galaxy_importer.main", str(tarball)], cwd=tmp, env=env,
                              text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    took = time.monotonic() - start
    out = proc.stdout
    if args.log:
        args.log.parent.mkdir(parents=True, exist_ok=True)
        args.log.write_text(out)
    lines = [line.strip() for line in out.splitlines()]
    errors = [line for line in lines if line.startswith("ERROR")]
    # galaxy-importer gives ansible-lint 180 s. On an overloaded machine (the shared 2-core
    # test box) that limit is hit although the same lint passes as `make ansible-lint`; tests
    # may accept exactly that error with KUBIYA_IMPORTER_ALLOW_LINT_TIMEOUT=1 (the release job
    # never sets it). It is still printed and counted as a warning.
    if os.environ.get("KUBIYA_IMPORTER_ALLOW_LINT_TIMEOUT") == "1":
        timeouts = [line for line in errors if "Timeout on call to ansible-lint" in line]
        errors = [line for line in errors if line not in timeouts]
        lines += [f"WARNING (accepted by KUBIYA_IMPORTER_ALLOW_LINT_TIMEOUT=1): {line}" for line in timeouts]
    warnings = [line for line in lines if line.startswith("WARNING")]
    for line in errors + warnings:
        print(f"  {line}", file=sys.stderr)
    ok = proc.returncode == 0 and not errors and "Importer processing completed successfully" in out
    print(f"galaxy-importer {tarball.name}: {'passed' if ok else 'FAILED'} -- {len(errors)} error(s), "
          f"{len(warnings)} warning(s), rc {proc.returncode}, {took:.0f} s"
          + (f" (log: {args.log})" if args.log else ""), file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
