# The tiny UPerNet-HorNet test config with the head of
# configs/upernet/upernet_hornet-s_horfpn-gf_8xb2-160k_ade20k-512x512.py: a
# gnConv fusion with a 32x17 global filter (resized on the fly to the
# stride-4 map) and gradient clipping at 0.1.
_base_ = './upernet_hornet-nano_tiny-ade.py'

model = dict(
    decode_head=dict(
        type='mmhornet.GNUPerHead',
        gnconv_cfg=dict(
            order=2, dw_cfg=dict(type='GF', h=32, w=17), scale=1.0)))

optim_wrapper = dict(clip_grad=dict(max_norm=0.1, norm_type=2))
