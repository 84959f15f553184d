"""Studies: measurements of the inference-time features on a synthetic data set with known ground truth.

`edits` scores text-guided editing (does the edited attribute change while identity and the other
attributes stay?), `inversion` scores single-view reconstruction against the true heads. Guidance is scored
by `tg3dface eval --guidance K` (the ordinary metrics of guided samples). These are stage-level modules:
they call the edit and invert stages' functions and eval's metrics.
"""
