# HorNet-T ImageNet classifier: the head's width is the last stage's
# (its GF twin, arch='tiny-gf', has the same widths).
_base_ = './hornet_classifier.py'

model = dict(
    backbone=dict(arch='tiny', drop_path_rate=0.2), head=dict(in_channels=512))
