"""Step 4, score. In: the harvest and the instructor's secret. Out: predictions of every saved
model on hidden data drawn here, run in a fresh sandboxed process, and the measurements.
"""
