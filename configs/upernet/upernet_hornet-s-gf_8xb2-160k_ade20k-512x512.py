# UPerNet + HorNet-S (GF) on ADE20K, the official recipe
# (`upernet_hornet_small_gf_512_160k_ade20k.py`): as HorNet-S (7x7) plus
# gradient clipping (max norm 1). The 224-px global filters of the ImageNet
# weights are resized to 24x13 / 12x7 when loaded.
_base_ = './upernet_hornet-s_8xb2-160k_ade20k-512x512.py'

checkpoint = 'https://download.openmmlab.com/mmclassification/v0/hornet/hornet-small-gf_3rdparty_in1k_20220915-649ca492.pth'  # noqa

model = dict(
    backbone=dict(
        # the official 384-px filters (24x13, 12x7), resized on the fly
        # to the spectra of the maps (32x17 and 16x9 at 512 px)
        arch='small-gf384',
        init_cfg=dict(checkpoint=checkpoint)))

optim_wrapper = dict(clip_grad=dict(max_norm=1.0, norm_type=2))
