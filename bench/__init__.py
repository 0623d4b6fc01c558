"""The benchmark suite: each figure is measured next to its baseline, in the same run, as a ratio."""
