"""Step 3, harvest. In: the running kernel. Out: the values, saved models, probe answers and
written answers the notebook produced, validated before anything else reads them.
"""
