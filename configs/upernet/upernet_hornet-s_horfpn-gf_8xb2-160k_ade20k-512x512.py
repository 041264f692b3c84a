# As upernet_hornet-s_horfpn, with a global-local filter (32x17, resized on
# the fly to the stride-4 map) in the head's gnConv and gradient clipping
# (max norm 0.1): official
# `horfpn_gf_upernet_hornet_small_7x7_512_160k_ade20k.py`. The backbone
# stays HorNet-S (7x7). No published result.
_base_ = './upernet_hornet-s_horfpn_8xb2-160k_ade20k-512x512.py'

model = dict(
    decode_head=dict(
        gnconv_cfg=dict(dw_cfg=dict(_delete_=True, type='GF', h=32, w=17))))

optim_wrapper = dict(clip_grad=dict(max_norm=0.1, norm_type=2))
