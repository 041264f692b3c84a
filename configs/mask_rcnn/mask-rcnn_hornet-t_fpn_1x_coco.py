# Mask R-CNN with a HorNet-T (7x7) backbone and FPN: the HorFPN study's 1x
# recipe with the tiny backbone (drop path 0.4, as in the official HorNet-T
# detection configs). Not an official config: no published result.
_base_ = './mask-rcnn_hornet-s_fpn_1x_coco.py'

checkpoint = 'https://download.openmmlab.com/mmclassification/v0/hornet/hornet-tiny_3rdparty_in1k_20220915-0e8eedff.pth'  # noqa
model = dict(
    backbone=dict(
        arch='tiny', drop_path_rate=0.4, init_cfg=dict(checkpoint=checkpoint)),
    neck=dict(in_channels=[64, 128, 256, 512]))
