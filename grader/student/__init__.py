"""The student's side. In: the instructor's grader and spec. Out: the self-check (command and
pytest plugin) on public checks only, and the bundle students and course CI receive.
"""
