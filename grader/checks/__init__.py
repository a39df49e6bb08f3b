"""Step 5, checks. In: the harvest and the measurements. Out: points and one sentence per check,
from pure functions, one module per question group; every number comes from the spec.
"""
