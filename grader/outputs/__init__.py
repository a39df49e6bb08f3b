"""Step 6, outputs. In: each student's results. Out: the HTML reports, the class index, the
leaderboard, figures, the CSV gradebook and results.json.
"""
