# HorNet-L (GF) fine-tuned at 384 px on ImageNet-1k from its ImageNet-22k
# weights: the HorNet-L recipe with 384-px global filters. As the official
# recipe (TRAINING.md), it starts from the 224-px 22k HorNet-L (GF),
# hornet-large-gf_3rdparty_in21k, whose 14x8 / 7x4 global filters are
# resized to 24x13 / 12x7 as they load; the 1k head from its 22k rows.
_base_ = './hornet-large_in21k-pre_8xb16_in1k-384px.py'

pretrained = 'https://cloud.tsinghua.edu.cn/f/8679b6acf63c41e285d9/?dl=1'
model = dict(
    backbone=dict(arch='large-gf384', init_cfg=dict(checkpoint=pretrained)),
    head=dict(init_cfg=dict(checkpoint=pretrained)))
