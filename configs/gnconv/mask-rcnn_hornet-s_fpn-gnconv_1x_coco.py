# The HorFPN study's Mask R-CNN HorNet-S 1x with mmdet's own FPN, its
# convolutions made gnConvs through `conv_cfg` (order 2, scale 1, as in
# HorFPN). Unlike mmhornet.HorFPN (a gnConv with a 7x7 mixer at each output
# convolution, plain 1x1 laterals), conv_cfg reaches every FPN convolution:
# the 3x3 output convolutions become gnConvs with a 3x3 mixer and the 1x1
# laterals gnConvs with a 1x1 mixer.
_base_ = '../mask_rcnn/mask-rcnn_hornet-s_fpn_1x_coco.py'

model = dict(
    neck=dict(conv_cfg=dict(type='mmhornet.gnConv2d', order=2, scale=1.0)))
