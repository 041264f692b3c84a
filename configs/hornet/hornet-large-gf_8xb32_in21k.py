# HorNet-L (GF) pre-training on ImageNet-22k: the HorNet-L recipe with
# global filters in stages 3 and 4 and gradient clipping at 1.
_base_ = './hornet-large_8xb32_in21k.py'

model = dict(backbone=dict(arch='large-gf'))
optim_wrapper = dict(clip_grad=dict(max_norm=1.0))
