"""Stratum's statistics engine: Django-free functions on DataFrames.

The MMRM (fit_mmrm) matches SAS PROC MIXED with a REPEATED statement; the other modules hold the
statistical analysis plan's simpler tests. Nothing here may import Django.
"""

from analysis.stats.mmrm import DifferenceCurve, MMRMResult, difference_curve, fit_mmrm

__all__ = ["DifferenceCurve", "MMRMResult", "difference_curve", "fit_mmrm"]
