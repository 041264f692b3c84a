# UPerNet + HorNet-T (GF) on ADE20K, the official recipe
# (`upernet_hornet_tiny_gf_512_160k_ade20k.py`): as HorNet-T (7x7) plus
# gradient clipping (max norm 1). The stage-2/3 global filters are 24x13 and
# 12x7; the 224-px ImageNet weights (14x8, 7x4) are resized when loaded.
_base_ = './upernet_hornet-t_8xb2-160k_ade20k-512x512.py'

checkpoint = 'https://download.openmmlab.com/mmclassification/v0/hornet/hornet-tiny-gf_3rdparty_in1k_20220915-4c35a66b.pth'  # noqa

model = dict(
    backbone=dict(
        # the official 384-px filters (24x13, 12x7), resized on the fly
        # to the spectra of the maps (32x17 and 16x9 at 512 px)
        arch='tiny-gf384',
        init_cfg=dict(checkpoint=checkpoint)))

optim_wrapper = dict(clip_grad=dict(max_norm=1.0, norm_type=2))
