"""The classifier: a linear SVM over the n-grams, its scores calibrated into confidences.

A linear model keeps every decision explainable (a label's score is a sum of n-gram weights) and
trains in seconds. LinearSVC ranked best among the linear models tried on the TipDM training split
(5-fold cross-validation; see BENCHMARKS.md). One SVM is fitted on every example; sigmoid calibration
learnt on its internal folds' held-out margins turns its margins into probabilities an agent can read
as "how sure" (an average of the folds' SVMs instead did slightly worse in cross-validation). Ranking by
the calibrated probabilities also ranked better than by the raw margins (0.903 against 0.896 top-1).

From ``LARGE`` examples on (a center's years of tickets), the internal folds would cost five more fits
for little: the SVM is fitted once on 90 % and the sigmoid learnt on the other 10 %.
"""

from __future__ import annotations

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC

C = 1.0
MAX_CALIBRATION_FOLDS = 5
LARGE = 30_000
CALIBRATION_SHARE = 0.1
SEED = 0


def classifier(smallest_class: int) -> CalibratedClassifierCV:
    """A calibrated linear SVM; the calibration folds never outnumber the smallest class's examples."""
    folds = max(2, min(MAX_CALIBRATION_FOLDS, smallest_class))
    return CalibratedClassifierCV(LinearSVC(C=C, random_state=SEED), method="sigmoid", cv=folds, ensemble=False)


def fit_classifier(x: object, labels: list[str], smallest_class: int) -> CalibratedClassifierCV:
    """:func:`classifier` fitted; from ``LARGE`` examples on, one SVM fit and a held-out sigmoid instead."""
    if len(labels) < LARGE:
        return classifier(smallest_class).fit(x, labels)
    fit_rows, calibration_rows = train_test_split(np.arange(len(labels)), test_size=CALIBRATION_SHARE,
                                                  stratify=labels, random_state=SEED)
    y = np.asarray(labels)
    svm = LinearSVC(C=C, tol=1e-3, random_state=SEED).fit(x[fit_rows], y[fit_rows])  # type: ignore[index]
    # ensemble=False: one sigmoid over the frozen SVM's margins (the folds only split what is already held out)
    calibrated = CalibratedClassifierCV(FrozenEstimator(svm), method="sigmoid", cv=2, ensemble=False)
    return calibrated.fit(x[calibration_rows], y[calibration_rows])  # type: ignore[index]


def label_weights(fitted: CalibratedClassifierCV) -> np.ndarray:
    """One row of n-gram weights per label (in ``fitted.classes_`` order)."""
    svms = [c.estimator for c in fitted.calibrated_classifiers_]
    svms = [s.estimator if isinstance(s, FrozenEstimator) else s for s in svms]
    coef = np.mean([s.coef_ for s in svms], axis=0)
    if coef.shape[0] == 1:  # two labels: one weight row says "the second, not the first"
        coef = np.vstack([-coef[0], coef[0]])
    weights: np.ndarray = coef.astype(np.float32)
    return weights
