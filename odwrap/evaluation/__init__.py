"""What an evaluation shows beyond COCO's averages, from the ground truth and detections the
COCO evaluation itself used: per-class AP, precision-recall and F1 curves, the F1-best score
threshold, a confusion matrix and the worst images. Below training and deploy, which run the
models: this package only reads COCO-style dicts (numpy and pycocotools, no TensorFlow)."""
