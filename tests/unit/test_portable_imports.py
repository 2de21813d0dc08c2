"""Nothing POSIX-only is imported or looked up at module level: in a fresh interpreter with
``fcntl`` unimportable and the POSIX-only functions and signals removed from ``os`` and
``signal`` (as on Windows), every module of the project imports."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("actors", "messages", "web", "ensemble")
SCRIPT = textwrap.dedent("""
    import importlib, os, pkgutil, signal, sys
    sys.modules["fcntl"] = None  # "import fcntl" now raises ImportError, as on Windows
    # The calls Ensemble's Linux mechanisms make (third-party libraries that choose their
    # implementation by sys.platform, as platformdirs does, keep what they need).
    for name in ("setsid", "getsid", "getpgid", "killpg", "setpgid", "getpgrp"):
        if hasattr(os, name):
            delattr(os, name)
    for name in ("SIGKILL", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCHLD",
                 "SIGPIPE", "SIGSTOP", "SIGCONT"):
        if hasattr(signal, name):
            delattr(signal, name)
    failed, imported = [], []
    modules = ["run_system"]
    for package in sys.argv[1:]:
        root = importlib.import_module(package)
        modules.append(package)
        modules += [info.name for info in pkgutil.walk_packages(root.__path__, package + ".")]
    for name in modules:
        try:
            importlib.import_module(name)
            imported.append(name)
        except Exception as error:
            failed.append(f"{name}: {type(error).__name__}: {error}")
    try:  # the frame authentication a daemon installs before its ActorSystem starts
        if hasattr(os, "register_at_fork"):
            del os.register_at_fork  # Windows has none (the standard library is imported)
        from actors.runtime import frame_auth
        frame_auth.install(os.urandom(32))
    except Exception as error:
        failed.append(f"frame_auth.install: {type(error).__name__}: {error}")
    print(len(imported))
    print("\\n".join(failed))
""")


def test_every_module_imports_without_posix_only_calls() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, *PACKAGES], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    count, *failures = done.stdout.strip().split("\n")
    assert [line for line in failures if line] == []
    assert int(count) > 100  # every module was reached, not just the packages
