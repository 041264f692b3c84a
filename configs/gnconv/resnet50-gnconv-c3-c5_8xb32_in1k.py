# mmpretrain's ResNet-50 ImageNet recipe with gnConvs (order 3, scale 1,
# 3x3 depth-wise mixer) in place of the 3x3 convolutions of stages 3-5.
# mmpretrain's ResNet has no per-stage slot for a convolution (its conv_cfg
# reaches every convolution, 1x1 and stem included), so the backbone is
# mmdet's ResNet, the same network with the same state-dict keys, whose
# `dcn` / `stage_with_dcn` slot takes the layer (as in
# mask-rcnn_r50-gnconv-c3-c5_fpn_1x_coco.py). norm_eval is switched off
# (mmdet's default freezes BN statistics, for fine-tuning detectors).
_base_ = 'mmpretrain::resnet/resnet50_8xb32_in1k.py'

model = dict(
    backbone=dict(
        type='mmdet.ResNet',
        norm_eval=False,
        dcn=dict(type='mmhornet.gnConv2d', order=3, scale=1.0),
        stage_with_dcn=(False, True, True, True)))
