# HorNet-L (GF), pre-trained on ImageNet-22k: global filters of 24x13 and
# 12x7 (the 224-px 14x8 / 7x4 weights are resized when they are loaded).
_base_ = './cascade-mask-rcnn_hornet-l_fpn_3x_coco.py'

checkpoint = 'pretrained/hornet-large-gf_in21k.pth'
model = dict(
    backbone=dict(arch='large-gf384', init_cfg=dict(checkpoint=checkpoint)))
