"""Trainers and evaluation for the small synthetic-domain encoders shipped with the package.

`clip.train_clip` trains a small open_clip model contrastively on synthetic image–caption pairs,
`parser.train_parser` trains `SmallParser` on exact synthetic label maps, and `evaluate` scores either on a
held-out split (zero-shot attribute accuracy, retrieval, mean IoU). See docs/encoders.md.
"""
