_base_ = [
    '../_base_/models/hornet/hornet_classifier.py',
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/hornet_adamw_4096.py',
    'mmpretrain::_base_/default_runtime.py',
]

# HorNet-L pre-training on ImageNet-22k (official recipe): 8 GPUs x 32
# images x 16 accumulated steps = 4096 per update, 90 epochs, 5 warmup
# epochs, weight decay 0.1, no EMA and no evaluation. The data is an image
# folder `data/imagenet21k/train/<wnid>/*.JPEG` with 21,841 classes.
num_classes = 21841
model = dict(
    backbone=dict(arch='large', drop_path_rate=0.2),
    head=dict(num_classes=num_classes, in_channels=1536))
data_preprocessor = dict(num_classes=num_classes)

train_dataloader = dict(
    batch_size=32,
    drop_last=True,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root='data/imagenet21k',
        data_prefix='train',
        pipeline={{_base_.train_pipeline}}))
val_dataloader = val_evaluator = val_cfg = None
test_dataloader = test_evaluator = test_cfg = None

optim_wrapper = dict(
    optimizer=dict(weight_decay=0.1),
    accumulative_counts=16,
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6,
        by_epoch=True,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-6,
        by_epoch=True,
        begin=5,
        end=90,
        convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=90, val_interval=1)
