# ImageNet-22k for HorNet pre-training: an image folder
# `data/imagenet21k/train/<wnid>/*.JPEG` with 21,841 classes, mmpretrain's
# ImageNet training pipeline, 32 images per GPU, the last incomplete batch
# dropped; no validation or test data.
_base_ = 'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py'

num_classes = 21841
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
val_dataloader = val_evaluator = None
test_dataloader = test_evaluator = None
