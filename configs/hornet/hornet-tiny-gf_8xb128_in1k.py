# HorNet-T (GF): the HorNet-T recipe with global filters in stages 3 and 4
# and gradient clipping at 1.
_base_ = './hornet-tiny_8xb128_in1k.py'

model = dict(backbone=dict(arch='tiny-gf'))
optim_wrapper = dict(clip_grad=dict(max_norm=1.0))
