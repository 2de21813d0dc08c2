"""The data directory is made private, and runtime directories or files that another user could
have planted are refused."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from actors.runtime.private import UnsafePath, open_private, prepare_data_dir, runtime_dir


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_a_new_data_directory_is_0700(tmp_path: Path) -> None:
    prepare_data_dir(tmp_path / "a" / "data")
    assert _mode(tmp_path / "a" / "data") == 0o700


def test_an_old_readable_data_directory_is_tightened_without_following_links(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    (data / "state.db").write_text("x")
    os.chmod(data / "state.db", 0o644)
    (data / "logs").mkdir()
    os.chmod(data / "logs", 0o755)
    outside = tmp_path / "outside"
    outside.write_text("y")
    os.chmod(outside, 0o644)
    (data / "link").symlink_to(outside)
    prepare_data_dir(data)
    assert (_mode(data), _mode(data / "state.db"), _mode(data / "logs")) == (0o700, 0o600, 0o700)
    assert _mode(outside) == 0o644


def test_the_runtime_directory_prefers_xdg_and_is_created_private(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    xdg.mkdir(mode=0o700)
    directory = runtime_dir({"XDG_RUNTIME_DIR": str(xdg)})
    assert directory == xdg / "ensemble" and _mode(directory) == 0o700


def test_without_xdg_it_is_in_the_temp_directory(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert runtime_dir({}) == tmp_path / f"ensemble-{os.getuid()}"


def test_a_symlinked_runtime_directory_is_refused(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    target = tmp_path / "target"
    target.mkdir(mode=0o700)
    (tmp_path / f"ensemble-{os.getuid()}").symlink_to(target)
    with pytest.raises(UnsafePath, match="is a symbolic link; refusing to use it"):
        runtime_dir({})


def test_open_private_creates_0600_and_refuses_links_and_other_kinds(tmp_path: Path) -> None:
    descriptor = open_private(tmp_path / "lock")
    os.close(descriptor)
    assert _mode(tmp_path / "lock") == 0o600
    (tmp_path / "link").symlink_to(tmp_path / "lock")
    with pytest.raises(UnsafePath, match="is a symbolic link"):
        open_private(tmp_path / "link")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UnsafePath, match="not a regular file"):
        open_private(tmp_path / "fifo", os.O_RDONLY | os.O_NONBLOCK)
