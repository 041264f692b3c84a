# HorNet-L ImageNet classifier: the head's width is the last stage's
# (its GF twin, arch='large-gf', has the same widths).
_base_ = './hornet_classifier.py'

model = dict(
    backbone=dict(arch='large', drop_path_rate=0.2),
    head=dict(in_channels=1536))
