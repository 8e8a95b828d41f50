#!/usr/bin/env python3
"""Prints, as hex, the FlexBuffers custom options the TFLite coverage tests
(src/engine/tract/tflite/coverage_tests.rs) give MediaPipe's custom ops, encoded by
Google's own encoder (PyPI package `flatbuffers`, module flexbuffers), so the
tests read options from an encoder independent of edgemark's reader.

    python3 -m venv /tmp/fb && /tmp/fb/bin/pip install flatbuffers
    /tmp/fb/bin/python scripts/mediapipe_custom_options.py
"""
from flatbuffers import flexbuffers

OPTIONS = {
    "TRANSFORM_LANDMARKS_V1": {"dimensions": 3, "scale": 2.0},
    "LANDMARKS_TO_MATRIX_V2": {
        "subset_idxs": [0, 1, 2, 3],
        "left_rotation_idx": 0,
        "right_rotation_idx": 1,
        "target_rotation_radians": 0.3,
        "output_height": 4,
        "output_width": 6,
        "scale_x": 1.5,
        "scale_y": 1.25,
    },
    "LANDMARKS_TO_MATRIX_V1": {
        "input_hw": [8, 10],
        "output_hw": [4, 6],
        "dimensions": 3,
        "landmarks_range": 16,
        "bbox_size_multiplier": 1.5,
        "left_rotation_idx": 0,
        "right_rotation_idx": 1,
        "subset": [0, 1, 2, 3, 4],
    },
    # TFLite_Detection_PostProcess (registered by LiteRT itself, used by SSD and
    # EfficientDet-Lite detectors): fast and regular non-max suppression.
    "DETECTION_POSTPROCESS_FAST": {
        "max_detections": 4,
        "max_classes_per_detection": 2,
        "num_classes": 3,
        "nms_score_threshold": 0.3,
        "nms_iou_threshold": 0.5,
        "y_scale": 10.0,
        "x_scale": 10.0,
        "h_scale": 5.0,
        "w_scale": 5.0,
    },
    "DETECTION_POSTPROCESS_REGULAR": {
        "max_detections": 5,
        "max_classes_per_detection": 1,
        "detections_per_class": 2,
        "use_regular_nms": True,
        "num_classes": 3,
        "nms_score_threshold": 0.3,
        "nms_iou_threshold": 0.45,
        "y_scale": 10.0,
        "x_scale": 10.0,
        "h_scale": 5.0,
        "w_scale": 5.0,
    },
}

for name, opts in OPTIONS.items():
    print(f"{name} = {bytes(flexbuffers.Dumps(opts)).hex()}")
