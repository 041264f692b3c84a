# The HorFPN study with global filters: one 32x17 filter per gnConv, resized
# to every pyramid level's spectrum.
_base_ = './mask-rcnn_hornet-s_horfpn_1x_coco.py'

model = dict(
    neck=dict(
        gnconv_cfg=dict(dw_cfg=dict(_delete_=True, type='GF', h=32, w=17))))
