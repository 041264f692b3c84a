# HorNet-L (7x7), pre-trained on ImageNet-22k: lr 1e-4.
# The 22k weights exist only in the official format: convert them first
# (see README.md) to the file named below.
_base_ = './cascade-mask-rcnn_hornet-t_fpn_3x_coco.py'

checkpoint = 'pretrained/hornet-large_in21k.pth'
model = dict(
    backbone=dict(
        arch='large', drop_path_rate=0.7,
        init_cfg=dict(checkpoint=checkpoint)),
    neck=dict(in_channels=[192, 384, 768, 1536]))
optim_wrapper = dict(optimizer=dict(lr=0.0001))
