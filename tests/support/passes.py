"""``make test``'s two passes side by side: the whole suite, and the integration suite again with
the portable mechanisms forced (``ENSEMBLE_TEST_PORTABLE=1``, ``tests/integration/conftest.py``).

Most of a test's time is its daemons' processes and their market clock, so two passes share two
cores well. The first pass writes to the terminal as it goes; the second's report is kept in a
file and printed after the first's, so neither interleaves with the other. Both are children in
the caller's process group, so Ctrl+C reaches both (a shell's ``&`` job would ignore it), and
this waits for both before it exits with the first failure's status.

    python -m tests.support.passes [PYTEST_ARGS...]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

PORTABLE_ENV = "ENSEMBLE_TEST_PORTABLE"


def _finish(process: subprocess.Popen[bytes]) -> int:
    """Its exit status. Ctrl+C went to the whole process group, so the pass is already
    stopping and tearing its daemons down: wait for it rather than kill it."""
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue


def main(pytest_args: list[str]) -> int:
    pytest = [sys.executable, "-m", "pytest"]
    with tempfile.TemporaryDirectory(prefix="ensemble-portable-pass-") as scratch:
        report = Path(scratch) / "report.txt"
        with report.open("wb") as out:
            second = subprocess.Popen(
                [*pytest, "tests/integration", "-p", "no:cacheprovider", *pytest_args,
                 f"--basetemp={Path(scratch) / 'tmp'}"],
                env={**os.environ, PORTABLE_ENV: "1"}, stdout=out, stderr=subprocess.STDOUT)
            first = _finish(subprocess.Popen([*pytest, *pytest_args]))
            second_rc = _finish(second)
        print(f"\n=== the portable pass: {PORTABLE_ENV}=1 pytest tests/integration ===",
              flush=True)
        sys.stdout.buffer.write(report.read_bytes())
        print(f"first pass: exit {first}; portable pass: exit {second_rc}", flush=True)
    return first or second_rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
