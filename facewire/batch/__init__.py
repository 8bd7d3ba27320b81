"""``facewire batch``: dialogue libraries animated on Ray, resumable, one report per line.

``manifest`` reads what to animate, ``line`` animates one line into its files (no Ray),
``outputs`` writes those files atomically, ``cluster`` spreads lines over Ray actors and
``report`` keeps the per-line record and the summary.
"""
