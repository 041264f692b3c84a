# UPerNet + HorNet-T (7x7, the model base's) on ADE20K, the official recipe
# (`upernet_hornet_tiny_7x7_512_160k_ade20k.py`): 8 GPUs x 2 images, 512x512
# crops, 160k iterations, stage-wise lr decay 0.9 over 6 "layers" (which
# gives stage 3 a scale of 0.73), no gradient clipping.
_base_ = [
    '../_base_/models/hornet/upernet_hornet.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/hornet_adamw-poly_160k.py',
]

# mmpretrain's conversion of the official ImageNet-1k weights
checkpoint = 'https://download.openmmlab.com/mmclassification/v0/hornet/hornet-tiny_3rdparty_in1k_20220915-0e8eedff.pth'  # noqa

crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(init_cfg=dict(checkpoint=checkpoint)),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))

optim_wrapper = dict(paramwise_cfg=dict(num_layers=6))

train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader

# Multi-scale + flip testing (`tools/test.py --tta`) as mmseg 0.x's
# `--aug-test` did it: the ratios scale the test scale (2048, 512), not the
# original image as mmseg 1.x's ADE20K base does.
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(
                    type='Resize',
                    scale=(int(2048 * r), int(512 * r)),
                    keep_ratio=True) for r in _base_.img_ratios
            ],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ], [dict(type='LoadAnnotations')], [dict(type='PackSegInputs')]
        ])
]
