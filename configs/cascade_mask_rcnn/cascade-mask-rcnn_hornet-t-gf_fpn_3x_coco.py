# HorNet-T (GF): global filters in stages 3 and 4.
_base_ = './cascade-mask-rcnn_hornet-t_fpn_3x_coco.py'

checkpoint = 'https://download.openmmlab.com/mmclassification/v0/hornet/hornet-tiny-gf_3rdparty_in1k_20220915-4c35a66b.pth'  # noqa
model = dict(
    backbone=dict(arch='tiny-gf', init_cfg=dict(checkpoint=checkpoint)))
