"""Sample-quality metrics: multi-scale SWD (no download), and FID / KID / IS /
precision-recall on the FID Inception-v3 when its standard weights file is present."""

from .evaluation import (
    EVALUATION_FILE,
    METRICS,
    Evaluation,
    Protocol,
    append_evaluation,
    evaluate_folders,
    evaluate_generator,
    evaluate_images,
    load_evaluations,
    parse_metrics,
)
from .inception import InceptionUnavailable
from .swd import SWDReference, SWDResult, sliced_wasserstein_distance

__all__ = [
    "EVALUATION_FILE",
    "METRICS",
    "Evaluation",
    "InceptionUnavailable",
    "Protocol",
    "SWDReference",
    "SWDResult",
    "append_evaluation",
    "evaluate_folders",
    "evaluate_generator",
    "evaluate_images",
    "load_evaluations",
    "parse_metrics",
    "sliced_wasserstein_distance",
]
