"""Step 1, intake. In: a submissions folder or an LMS zip export, and the instructor's
arguments. Out: one notebook per student (bytes and a content hash), or a one-line refusal.
"""
