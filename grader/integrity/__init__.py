"""Academic integrity: which submissions of a class look alike, for the instructor to review.

In: the gradebook's current grades (each student's executed notebook, written answers
and the compact model fingerprint stored at scoring time) and the starter notebook,
whose code and question text are boilerplate. Out: pairs of students ranked by a
score per layer (code, written answers, trained artefacts) with the evidence, clusters
of three or more, and self-contained HTML pages under `OUT/similarity/`.

The output is a list of things to look at ("similar, review"), never a verdict, and
it is for the instructor only: nothing here enters a student's report, results.json
or the student bundle. Everything is computed from stored data, without TensorFlow
and without running a notebook.

Steps, one module each: `sources` (what is compared), `code` (winnowing over
normalised tokens, copydetect), `text` (word shingles, MinHash LSH), `artefacts`
(weights, predictions, filters, printed numbers, seeds), `rank` (pairs and clusters),
`view` (HTML) and `run` (the command's function).
"""
