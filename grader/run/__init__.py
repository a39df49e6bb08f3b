"""Step 2, run. In: a student's notebook. Out: the executed notebook and a record of every
cell, run in a sandboxed kernel that is measured to be isolated before anything runs.
"""
