# HorNet-B ImageNet classifier: the head's width is the last stage's
# (its GF twin, arch='base-gf', has the same widths).
_base_ = './hornet_classifier.py'

model = dict(
    backbone=dict(arch='base', drop_path_rate=0.5),
    head=dict(in_channels=1024))
