# Mask R-CNN R-50-FPN 1x whose 3x3 convolutions of stages 3-5 (c3-c5) are
# gnConvs (order 3, scale 1, 3x3 depth-wise mixer), through ResNet's `dcn`
# slot, as mmdet's mask-rcnn_r50-dconv-c3-c5_fpn_1x_coco.py puts deformable
# ones there. The first block of stages 3-5 has stride 2: the gnConv runs at
# the input resolution and is sampled every second position
# (stride_mode='sample').
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        dcn=dict(type='mmhornet.gnConv2d', order=3, scale=1.0),
        stage_with_dcn=(False, True, True, True)))
