"""Cross-site analysis over the curated lake: zone trends, camera health, site freshness.

``run_analysis`` maps one site's work over an executor, compares zones with their peers and
writes ``curated/analysis_zone_trends``, ``curated/analysis_camera_health`` and
``curated/analysis_freshness`` back (schemas in ``cloudjobs.analysis.schemas``).
"""

from cloudjobs.analysis.config import AnalysisConfig
from cloudjobs.analysis.crops import CropMap, load_crop_map
from cloudjobs.analysis.job import AnalysisSummary, analyse_site, run_analysis

__all__ = [
    "AnalysisConfig",
    "AnalysisSummary",
    "CropMap",
    "analyse_site",
    "load_crop_map",
    "run_analysis",
]
