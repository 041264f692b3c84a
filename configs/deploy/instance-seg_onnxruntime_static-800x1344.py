# mmdeploy 1.3.x deploy config: an mmhornet Mask R-CNN (HorNet backbone, FPN
# or HorFPN neck, 7x7 or GF) -> one ONNX graph ("end2end": preprocessed
# image in; boxes, labels and 28x28 mask logits per box out) for
# onnxruntime. See docs/deployment.md (Detection) for what it needs on
# torch >= 2.9 (two compatibility patches) and what was measured.
#
# Static shape: a GF backbone is exported for one input size (its DFT bases
# are constants of the graph); 7x7 models use the same config. input_shape
# is [width, height], mmdeploy's order.
onnx_config = dict(
    type='onnx',
    export_params=True,
    keep_initializers_as_inputs=False,
    # 16: RoI Align is onnx::RoiAlign with coordinate_transformation_mode
    # 'half_pixel', i.e. mmcv's aligned=True. Under 11 mmdeploy emulates it
    # by shifting the RoIs, which differs from mmcv for small RoIs (measured:
    # 8 of 100 boxes changed on a random HorNet-T Mask R-CNN at opset 11).
    opset_version=16,
    save_file='end2end.onnx',
    input_names=['input'],
    output_names=['dets', 'labels', 'masks'],
    input_shape=[1344, 800],
    optimize=False)
codebase_config = dict(
    type='mmdet',
    task='ObjectDetection',
    model_type='end2end',
    # the graph's own box post-processing (replaces test_cfg.rcnn's):
    # per-class NMS of the final boxes, top 100 kept (dets: N x 100 x 5,
    # x1 y1 x2 y2 score)
    post_processing=dict(
        score_threshold=0.05,
        confidence_threshold=0.005,
        iou_threshold=0.5,
        max_output_boxes_per_class=200,
        pre_top_k=5000,
        keep_top_k=100,
        background_label_id=-1,
        # masks leave the graph as 28x28 per box; pasting them into the
        # image is done outside (mmdeploy's End2EndModel does it)
        export_postprocess_mask=False))
backend_config = dict(type='onnxruntime')
