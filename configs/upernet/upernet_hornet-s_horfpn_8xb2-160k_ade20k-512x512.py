# UPerNet + HorNet-S (7x7) whose head fuses its levels with a gnConv (order
# 2, 7x7 depth-wise, s=1) instead of a 3x3 convolution: the paper's HorFPN
# study for segmentation (official
# `horfpn_7x7_upernet_hornet_small_7x7_512_160k_ade20k.py`). Recipe of
# HorNet-S (7x7); no published result.
_base_ = './upernet_hornet-s_8xb2-160k_ade20k-512x512.py'

model = dict(
    decode_head=dict(
        type='mmhornet.GNUPerHead',
        gnconv_cfg=dict(
            order=2, dw_cfg=dict(type='DW', kernel_size=7), scale=1.0)))
