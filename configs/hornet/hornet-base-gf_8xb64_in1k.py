# HorNet-B (GF): the HorNet-B recipe with global filters in stages 3 and 4,
# gradient clipping at 1 and RandAugment magnitude 15 (official
# `--aa rand-m15-mstd0.5-inc1`; the base pipeline's is 9).
_base_ = './hornet-base_8xb64_in1k.py'

model = dict(backbone=dict(arch='base-gf'))
train_pipeline = [
    dict(t, magnitude_level=15) if t.type == 'RandAugment' else t
    for t in _base_.train_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(clip_grad=dict(max_norm=1.0))
