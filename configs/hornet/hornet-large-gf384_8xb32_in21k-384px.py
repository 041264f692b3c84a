# HorNet-L (GF) on ImageNet-22k at 384 px, with 384-px global filters: the
# architecture of the official hornet_large_gf_img384 22k weights
# (hornet-large-gf384_3rdparty_in21k, "finetuned to 384x384 resolution on
# ImageNet-22k"). Their 384-px fine-tuning recipe is not published: training
# with this config runs the 224-px HorNet-L (GF) pre-training recipe on
# 384-px crops.
_base_ = './hornet-large-gf_8xb32_in21k.py'

model = dict(backbone=dict(arch='large-gf384'))
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(t, scale=384) if t.type == 'RandomResizedCrop' else t
        for t in _base_.train_dataloader.dataset.pipeline
    ]))
# No test data on ImageNet-22k; the test pipeline is the official 384-px
# evaluation (a warp to 384x384, no crop), the size at which
# inference_model and the export tools run this model.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='Resize',
        scale=(384, 384),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='PackInputs'),
]
