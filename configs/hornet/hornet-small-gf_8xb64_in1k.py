# HorNet-S (GF): the HorNet-S recipe with global filters in stages 3 and 4,
# gradient clipping at 1 and RandAugment magnitude 12 (official
# `--aa rand-m12-mstd0.5-inc1`; the base pipeline's is 9).
_base_ = './hornet-small_8xb64_in1k.py'

model = dict(backbone=dict(arch='small-gf'))
train_pipeline = [
    dict(t, magnitude_level=12) if t.type == 'RandAugment' else t
    for t in _base_.train_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(clip_grad=dict(max_norm=1.0))
