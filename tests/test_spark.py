"""The JVM class archive bookkeeping in lakehouse.spark (no JVM is started here)."""

from __future__ import annotations

import os
import time

from lakehouse import spark as lakehouse_spark


def _age(path, seconds):
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_first_run_records_next_run_adopts_and_extra_recordings_go(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_CACHE", str(tmp_path))
    monkeypatch.delenv("LAKEHOUSE_CLASS_ARCHIVE", raising=False)
    first = lakehouse_spark.class_archive_options()
    assert "-XX:ArchiveClassesAtExit=" in first
    recording = first.split("=", 1)[1].split()[0]
    # The JVM writes the recording when it exits; a fresh one is left alone, a settled one is adopted.
    with open(recording, "wb") as out:
        out.write(b"archive")
    assert lakehouse_spark.class_archive_options() == ""
    _age(recording, 120)
    adopted = lakehouse_spark.class_archive_options()
    assert "-XX:SharedArchiveFile=" in adopted
    archive = adopted.split("=", 1)[1].split()[0]
    assert archive.endswith(".jsa") and os.path.exists(archive) and not os.path.exists(recording)
    extra = archive.replace(".jsa", ".4242.recording")
    with open(extra, "wb") as out:
        out.write(b"second")
    _age(extra, 120)
    assert "-XX:SharedArchiveFile=" in lakehouse_spark.class_archive_options()
    assert not os.path.exists(extra)


def test_the_archive_can_be_switched_off(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_CACHE", str(tmp_path))
    monkeypatch.setenv("LAKEHOUSE_CLASS_ARCHIVE", "off")
    assert lakehouse_spark.class_archive_options() == ""
    assert list(tmp_path.iterdir()) == []


def test_archives_of_other_keys_go_once_unused_for_a_week(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_CACHE", str(tmp_path))
    monkeypatch.delenv("LAKEHOUSE_CLASS_ARCHIVE", raising=False)
    ours = tmp_path / f"{lakehouse_spark._archive_key()}.jsa"
    ours.write_bytes(b"archive")
    _age(ours, 30 * 24 * 3600)
    stale, recent = tmp_path / "spark-0.0.0-0123456789.jsa", tmp_path / "spark-0.0.0-abcdefabcd.77.recording"
    for path, days in ((stale, 8), (recent, 6)):
        path.write_bytes(b"other")
        _age(path, days * 24 * 3600)
    assert "-XX:SharedArchiveFile=" in lakehouse_spark.class_archive_options()
    assert not stale.exists() and recent.exists()
    assert time.time() - ours.stat().st_mtime < 60  # adopted, so touched: it stays while runs use it
