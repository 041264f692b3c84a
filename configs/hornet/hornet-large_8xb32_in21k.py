_base_ = [
    '../_base_/models/hornet/hornet-large.py',
    '../_base_/datasets/imagenet21k_bs32.py',
    '../_base_/schedules/hornet_adamw_4096.py',
    'mmpretrain::_base_/default_runtime.py',
]

# HorNet-L pre-training on ImageNet-22k (official recipe): 8 GPUs x 32
# images x 16 accumulated steps = 4096 per update, 90 epochs, 5 warmup
# epochs, weight decay 0.1, no EMA and no evaluation.
model = dict(head=dict(num_classes=_base_.num_classes))
val_cfg = test_cfg = None

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
