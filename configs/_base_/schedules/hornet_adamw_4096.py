# The official HorNet ImageNet recipe: AdamW, lr 4e-3 for an effective batch
# of 4096, weight decay 0.05 except on 1-D parameters and biases, 20 warmup
# epochs from 0, then per-iteration cosine decay to 1e-6 over 300 epochs.
optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=4e-3, weight_decay=0.05, eps=1e-8,
        betas=(0.9, 0.999)),
    paramwise_cfg=dict(
        norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0))

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6,  # 0 is not allowed by LinearLR
        by_epoch=True,
        end=20,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-6,
        by_epoch=True,
        begin=20,
        end=300,
        convert_to_iter_based=True),
]

train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
val_cfg = dict()
test_cfg = dict()

# Scale lr linearly with `--auto-scale-lr` when the real total batch
# (GPUs x batch x accumulative_counts) differs from 4096.
auto_scale_lr = dict(base_batch_size=4096)
