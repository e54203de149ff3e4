"""Unit conversions: the one place planner defines them.

Exact by definition (international mile of 1959: 1 mi = 1,609.344 m); each constant is written
out, not derived, so its float value does not depend on the order of operations.
"""

from __future__ import annotations

#: Metres in one international mile.
M_PER_MI = 1609.344
#: Kilometres in one mile; also km/h in one mph.
KM_PER_MI = 1.609344
#: km/h in one mile per hour.
KPH_PER_MPH = KM_PER_MI

__all__ = ["KM_PER_MI", "KPH_PER_MPH", "M_PER_MI"]
