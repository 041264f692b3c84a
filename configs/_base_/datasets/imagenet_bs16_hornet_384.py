# ImageNet-1k at 384 px for HorNet fine-tuning: mmpretrain's training
# pipeline with 384-px crops and its RandAugment, magnitude 9 (official
# `--input_size 384` with the default `--aa rand-m9-mstd0.5-inc1`: the
# fine-tuning commands of TRAINING.md pass no `--aa`), the official 384-px
# evaluation, and 16 images per GPU (the last incomplete training batch
# dropped).
_base_ = 'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py'

train_pipeline = [
    dict(t, scale=384) if t.type == 'RandomResizedCrop' else t
    for t in _base_.train_pipeline
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    # at 384 px the official evaluation warps to 384x384, without a crop
    dict(
        type='Resize',
        scale=(384, 384),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=16, drop_last=True, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=16, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
