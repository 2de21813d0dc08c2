"""The MT5 bar export check: real-format files pass; every bad line is named by file, line
and field."""

from __future__ import annotations

from pathlib import Path

from actors.backtest.bars_csv import check_data_dir, check_mt5_csv

HEADER = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"
GOOD = [
    "2024.01.02\t00:00:00\t1.10427\t1.10432\t1.10413\t1.10421\t39\t0\t18",
    "2024.01.02\t00:05:00\t1.10421\t1.10440\t1.10410\t1.10433\t52\t0\t17",
    "2024.01.02\t00:10:00\t1.10433\t1.10451\t1.10425\t1.10445\t47\t0\t16",
]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\ufeff" + "\r\n".join(lines) + "\r\n", encoding="utf-8")  # as MT5 does
    return path


def test_a_real_format_export_has_no_problems(tmp_path: Path) -> None:
    path = _write(tmp_path / "EURUSD_M5_202401020000_202401020010.csv", [HEADER, *GOOD])
    assert check_mt5_csv(path) == []
    daily = _write(tmp_path / "GBPUSD_D1.csv", [
        "<DATE>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>",
        "2024.01.02\t1.27\t1.28\t1.26\t1.275\t1000\t0\t12",
        "2024.01.03\t1.275\t1.29\t1.27\t1.28\t900\t0\t11"])
    assert check_mt5_csv(daily) == []


def test_every_bad_line_is_reported_by_file_line_and_field(tmp_path: Path) -> None:
    lines = [HEADER, GOOD[0],
             "2024.13.02\t00:05:00\t1.10421\t1.10440\t1.10410\t1.10433\t52\t0\t17",  # month 13
             "2024.01.02\t00:10:00\t1.10433\tabc\t1.10425\t1.10445\t47\t0\t16",
             "2024.01.02\t00:15:00\t1.10433\t1.10451\t1.10425\t1.10445\t-3\t0\t16",
             "2024.01.02\t00:20:00\t1.10433\t1.10400\t1.10425\t1.10445\t47\t0\t16",  # high<low
             "2024.01.02\t00:00:00\t1.10433\t1.10451\t1.10425\t1.10445\t47\t0\t16",  # back
             "2024.01.02\t00:30:00\t1.10433",
             GOOD[2].replace("00:10:00", "00:35:00")]
    path = _write(tmp_path / "EURUSD_M5.csv", lines)
    found = [(p.line, p.field, p.value) for p in check_mt5_csv(path)]
    assert found == [
        (3, "<DATE>", "2024.13.02"),
        (4, "<HIGH>", "abc"),
        (5, "<TICKVOL>", "-3"),
        (6, "<HIGH>", "1.10400"),
        (7, "<DATE>", "2024.01.02 00:00:00"),
        (8, "", "2024.01.02\t00:30:00\t1.10433"),
    ]
    text = str(check_mt5_csv(path)[1])
    assert str(path) in text and ":4:" in text and "<HIGH>='abc'" in text


def test_a_file_that_is_not_an_export_and_a_missing_symbol(tmp_path: Path) -> None:
    _write(tmp_path / "EURUSD_M5.csv", ["date,open,high,low,close", "x"])
    problems = check_data_dir(tmp_path, ("EURUSD", "GBPUSD"))
    assert [p.message.split(" ")[0] for p in problems] == ["has", "header"]
    assert "GBPUSD" in problems[0].message and problems[1].line == 1
