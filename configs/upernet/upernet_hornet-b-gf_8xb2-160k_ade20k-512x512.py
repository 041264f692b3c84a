# UPerNet + HorNet-B (GF) on ADE20K, the official recipe
# (`upernet_hornet_base_gf_512_160k_ade20k.py`): as HorNet-B (7x7) with drop
# path 0.5 and gradient clipping (max norm 1). The official README lists this
# model at 640x640, but its only config trains and tests at 512x512, as here.
_base_ = './upernet_hornet-b_8xb2-160k_ade20k-512x512.py'

checkpoint = 'https://download.openmmlab.com/mmclassification/v0/hornet/hornet-base-gf_3rdparty_in1k_20220915-82c06fa7.pth'  # noqa

model = dict(
    backbone=dict(
        # the official 384-px filters (24x13, 12x7), resized on the fly
        # to the spectra of the maps (32x17 and 16x9 at 512 px)
        arch='base-gf384',
        drop_path_rate=0.5,
        init_cfg=dict(checkpoint=checkpoint)))

optim_wrapper = dict(clip_grad=dict(max_norm=1.0, norm_type=2))
