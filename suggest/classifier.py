"""The classifier: a linear SVM over the n-grams, its scores calibrated into confidences.

A linear model keeps every decision explainable (a label's score is a sum of n-gram weights) and
trains in seconds. LinearSVC ranked best among the linear models tried on the TipDM training split
(5-fold cross-validation; see BENCHMARKS.md). One SVM is fitted on every example; sigmoid calibration
learnt on its internal folds' held-out margins turns its margins into probabilities an agent can read
as "how sure" (an average of the folds' SVMs instead did slightly worse in cross-validation).
"""

from __future__ import annotations

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import LinearSVC

C = 1.0
MAX_CALIBRATION_FOLDS = 5


def classifier(smallest_class: int) -> CalibratedClassifierCV:
    """A calibrated linear SVM; the calibration folds never outnumber the smallest class's examples."""
    folds = max(2, min(MAX_CALIBRATION_FOLDS, smallest_class))
    return CalibratedClassifierCV(LinearSVC(C=C, random_state=0), method="sigmoid", cv=folds, ensemble=False)


def label_weights(fitted: CalibratedClassifierCV) -> np.ndarray:
    """One row of n-gram weights per label (in ``fitted.classes_`` order)."""
    coef = np.mean([c.estimator.coef_ for c in fitted.calibrated_classifiers_], axis=0)
    if coef.shape[0] == 1:  # two labels: one weight row says "the second, not the first"
        coef = np.vstack([-coef[0], coef[0]])
    weights: np.ndarray = coef.astype(np.float32)
    return weights
