# UPerNet + HorNet-L (7x7) on ADE20K, the official recipe
# (`upernet_hornet_large_7x7_640_160k_ade20k.py`): ImageNet-22k weights,
# 8 GPUs x 2 images, 640x640 crops, drop path 0.4, stage-wise lr decay 0.8
# over 12 layers, no gradient clipping.
_base_ = [
    '../_base_/models/hornet/upernet_hornet.py',
    'mmseg::_base_/datasets/ade20k_640x640.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/hornet_adamw-poly_160k.py',
]

# The official ImageNet-22k weights, converted with
# tools/model_converters/hornet2mmhornet.py (see configs/upernet/README.md).
checkpoint = 'pretrained/hornet-large_in21k.pth'

crop_size = (640, 640)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        arch='large', drop_path_rate=0.4,
        init_cfg=dict(checkpoint=checkpoint)),
    decode_head=dict(in_channels=[192, 384, 768, 1536]),
    auxiliary_head=dict(in_channels=768),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(426, 426)))

optim_wrapper = dict(paramwise_cfg=dict(decay_rate=0.8))

train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader

# Multi-scale + flip testing (`tools/test.py --tta`) as mmseg 0.x's
# `--aug-test` did it: the ratios 0.5-1.75 scale the test scale (2560, 640),
# not the original image as mmseg 1.x's ADE20K base does.
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(
                    type='Resize',
                    scale=(int(2560 * r), int(640 * r)),
                    keep_ratio=True) for r in _base_.img_ratios
            ],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ], [dict(type='LoadAnnotations')], [dict(type='PackSegInputs')]
        ])
]
