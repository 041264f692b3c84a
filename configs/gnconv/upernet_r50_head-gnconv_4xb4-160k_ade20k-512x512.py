# mmseg's UPerNet R-50 (160k, ADE20K) whose decode head builds every
# convolution as a gnConv through `conv_cfg` (order 2, scale 1 as in the
# paper's gnConv decoders; each convolution's kernel size becomes its
# mixer's: 3x3 for the FPN and fusion convolutions, 1x1 for the pooling
# module and the laterals). The auxiliary FCN head stays plain.
_base_ = 'mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py'

model = dict(
    decode_head=dict(
        conv_cfg=dict(type='mmhornet.gnConv2d', order=2, scale=1.0)))
