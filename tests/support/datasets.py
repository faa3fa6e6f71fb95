"""Labelled data sets of shared/datasets, read where they lie (never copied into the repository)."""

from __future__ import annotations

import os
from pathlib import Path

from hotline.paths import PROJECT_ROOT

# CI clones the project with shared/ beside it; HOTLINE_SHARED points elsewhere.
DATASETS = Path(os.environ.get("HOTLINE_SHARED", PROJECT_ROOT.parent / "shared")) / "datasets"
TIPDM = DATASETS / "tipdm2020c-zhihui-zhengwu" / "csv"
TIPDM_TRAIN = TIPDM / "train.csv"
TIPDM_TEST = TIPDM / "test.csv"
