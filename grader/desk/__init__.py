"""The grading desk: a local web app for grading the written answers by hand.

In: the gradebook `motifgrader grade` wrote (answers, each student's own figures and
measured numbers, their PDF report) and the spec's rubric. Out: rubric items applied
per answer, comments and points in the gradebook's hand-grade tables, which the
reports, `grades.csv` and the CSV sheet (`motifgrader manual`) read as before.

Grading goes question by question, as on Gradescope: one question, every student's
answer in turn, shared rubric items applied with one key each. Several graders can
work at once; every change is one SQLite transaction, and a change made on a stale
page is refused with a visible conflict instead of overwriting the other grader's.
"""
