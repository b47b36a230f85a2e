"""When the stress model must say ``unknown``: unlike its training data, or unsure.

A classifier always picks one of its classes, even for a photo of a wall; its softmax can
be confidently wrong on inputs it never saw. So the model also outputs its penultimate
features, and the agent measures how far a crop's features lie from every class's training
mean: a Mahalanobis distance with the covariance shared by the classes (Lee et al. 2018),
divided by the number of features. Far from all classes means out of distribution: the
label is ``unknown`` whatever the softmax says. The threshold is a quantile of the same
distance on in-distribution validation crops, chosen by the trainer and stored in the
manifest with the class means and the whitening matrix. (Measured on generated non-plant
images: the energy score and max-logit flagged almost none of them, a per-feature diagonal
distance about half, the full covariance most; see the model card.)

A calibrated top-class probability below ``min_confidence`` is ``unknown`` too: a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Abstention:
    """The manifest's ``abstain`` section: what makes the model say ``unknown``.

    ``class_means`` (K, D) and ``whitening`` (D, D), a Cholesky factor of the inverse shared
    covariance, come from the training features; ``ood_threshold`` is the distance above
    which a crop is out of distribution.
    """

    features_output: str
    class_means: npt.NDArray[np.float64]
    whitening: npt.NDArray[np.float64]
    ood_threshold: float
    min_confidence: float

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Abstention:
        """Parse the manifest section; ``ValueError`` names what is inconsistent."""
        means = np.asarray(raw["class_means"], np.float64)
        white = np.asarray(raw["whitening"], np.float64)
        if means.ndim != 2 or white.shape != (means.shape[1], means.shape[1]):
            raise ValueError(f"'abstain': class_means {means.shape} and whitening "
                             f"{white.shape} do not describe the same features")
        if not np.all(np.isfinite(white)):
            raise ValueError("'abstain': whitening must be finite")
        return cls(str(raw["features_output"]), means, white, float(raw["ood_threshold"]),
                   float(raw["min_confidence"]))

    def to_dict(self) -> dict[str, Any]:
        """The manifest section (rounded: 6 significant digits are plenty)."""
        return {
            "method": "min over classes of the Mahalanobis distance (shared covariance) of "
                      "the penultimate features, squared and divided by their number",
            "features_output": self.features_output,
            "ood_threshold": round(self.ood_threshold, 4),
            "min_confidence": self.min_confidence,
            "class_means": [[float(f"{v:.6g}") for v in row] for row in self.class_means],
            "whitening": [[float(f"{v:.6g}") for v in row] for row in self.whitening],
        }

    def scores(self, features: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        """Out-of-distribution score per row of ``features`` (N, D); 0 = at a class mean."""
        return ood_scores(features, self.class_means, self.whitening)


def ood_scores(features: npt.NDArray[Any], class_means: npt.NDArray[np.float64],
               whitening: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Squared Mahalanobis distance of each feature row to its nearest class mean, per feature.

    ``min_k |(f - mu_k) L|^2 / D``: about 1 for a typical training crop, far larger for an
    input the network has never seen anything like.
    """
    f = np.asarray(features, np.float64)[:, None, :]
    z = (f - class_means[None]) @ whitening
    out: npt.NDArray[np.float64] = (z * z).mean(axis=2).min(axis=1)
    return out


def fit_abstention(features: npt.NDArray[Any], labels: npt.NDArray[np.int64], n_classes: int,
                   *, features_output: str, min_confidence: float) -> Abstention:
    """Class means and the shared within-class covariance of training features (no threshold).

    The covariance gets a small ridge (1e-3 of its mean variance) so features that never
    vary (dead ReLUs) do not make it singular.
    """
    f = np.asarray(features, np.float64)
    means = np.stack([f[labels == k].mean(0) if np.any(labels == k) else f.mean(0)
                      for k in range(n_classes)])
    resid = f - means[labels]
    cov = resid.T @ resid / max(len(f) - 1, 1)
    cov += np.eye(len(cov)) * (1e-3 * float(np.trace(cov)) / len(cov) + 1e-9)
    whitening = np.linalg.cholesky(np.linalg.inv(cov))
    return Abstention(features_output, means, whitening, float("inf"), min_confidence)


def with_threshold(ab: Abstention, val_features: npt.NDArray[Any], quantile: float) -> Abstention:
    """The same abstention with its threshold at ``quantile`` of in-distribution scores."""
    threshold = float(np.quantile(ab.scores(val_features), quantile))
    return Abstention(ab.features_output, ab.class_means, ab.whitening, threshold,
                      ab.min_confidence)
