# UPerNet + HorNet-S (7x7) on ADE20K, the official recipe
# (`upernet_hornet_small_7x7_512_160k_ade20k.py`): drop path 0.3,
# stage-wise lr decay 0.9 over 12 layers, no gradient clipping.
_base_ = './upernet_hornet-t_8xb2-160k_ade20k-512x512.py'

checkpoint = 'https://download.openmmlab.com/mmclassification/v0/hornet/hornet-small_3rdparty_in1k_20220915-5935f60f.pth'  # noqa

model = dict(
    backbone=dict(
        arch='small', drop_path_rate=0.3,
        init_cfg=dict(checkpoint=checkpoint)),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))

optim_wrapper = dict(paramwise_cfg=dict(num_layers=12))
