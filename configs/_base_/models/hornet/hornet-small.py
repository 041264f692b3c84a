# HorNet-S ImageNet classifier: the head's width is the last stage's
# (its GF twin, arch='small-gf', has the same widths).
_base_ = './hornet_classifier.py'

model = dict(
    backbone=dict(arch='small', drop_path_rate=0.4),
    head=dict(in_channels=768))
