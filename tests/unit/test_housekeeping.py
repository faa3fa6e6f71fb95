"""Retention (site.yaml ``retention``): files older than their limit are deleted, newer ones kept."""

from __future__ import annotations

import os
import time

from hotline.housekeeping import DAY, sweep
from hotline.site import SiteConfig


def test_files_older_than_the_limit_are_deleted_and_empty_directories_go(tmp_path):
    now = time.time()
    old, fresh = tmp_path / "a" / "old.wav", tmp_path / "b" / "fresh.wav"
    for path, age_days in ((old, 31), (fresh, 29)):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"RIFF")
        os.utime(path, (now - age_days * DAY, now - age_days * DAY))
    assert sweep(tmp_path, 30, now) == 1
    assert not old.exists() and not old.parent.exists() and fresh.exists() and tmp_path.is_dir()
    assert sweep(tmp_path / "missing", 30, now) == 0


def test_retention_defaults_and_limits_come_from_the_site():
    site = SiteConfig.model_validate({"retention": {"ivr_recordings_days": 7, "survey_stream_days": 2}})
    assert (site.retention.ivr_recordings_days, site.retention.call_recordings_days, site.retention.spool_days,
            site.retention.survey_stream_days) == (7, 180, 30, 2)


def test_the_agi_side_sweeps_its_recordings_and_spools(tmp_path):
    from agi_scripts.app import retention_rules

    rules = retention_rules(tmp_path, SiteConfig().retention)
    assert rules == [(tmp_path / "recordings" / "ivr", 30), (tmp_path / "spool", 30)]
