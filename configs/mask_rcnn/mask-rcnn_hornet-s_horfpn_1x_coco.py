# The HorFPN study: the FPN's 3x3 output convolutions replaced by gnConvs
# (order 2, 7x7 depth-wise convolution).
_base_ = './mask-rcnn_hornet-s_fpn_1x_coco.py'

model = dict(
    neck=dict(
        _delete_=True,
        type='mmhornet.HorFPN',
        in_channels=[96, 192, 384, 768],
        out_channels=256,
        num_outs=5,
        gnconv_cfg=dict(
            order=2, dw_cfg=dict(type='DW', kernel_size=7), scale=1.0)))
