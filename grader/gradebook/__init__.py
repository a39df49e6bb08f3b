"""Step 7, the gradebook. In: finished grades and hand-entered points. Out: one SQLite record
of every run, grade and manual point, which reports and exports are rebuilt from.
"""
