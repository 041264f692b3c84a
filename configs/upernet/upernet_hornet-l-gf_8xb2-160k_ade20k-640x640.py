# UPerNet + HorNet-L (GF) on ADE20K, the official recipe
# (`upernet_hornet_large_gf_640_160k_ade20k.py`): as HorNet-L (7x7) plus
# gradient clipping (max norm 0.1) and gradient checkpointing of the blocks
# (official `use_checkpoint=True`). The global filters of the ImageNet-22k
# weights are resized to 24x13 / 12x7 when loaded.
_base_ = './upernet_hornet-l_8xb2-160k_ade20k-640x640.py'

# The official ImageNet-22k weights, converted with
# tools/model_converters/hornet2mmhornet.py (see configs/upernet/README.md).
checkpoint = 'pretrained/hornet-large-gf_in21k.pth'

model = dict(
    backbone=dict(
        # the official 384-px filters (24x13, 12x7), resized on the fly
        # to the spectra of the maps (40x21 and 20x11 at 640 px)
        arch='large-gf384',
        with_cp=True,
        init_cfg=dict(checkpoint=checkpoint)))

optim_wrapper = dict(clip_grad=dict(max_norm=0.1, norm_type=2))
