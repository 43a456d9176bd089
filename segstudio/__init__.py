"""segstudio: semantic segmentation studio."""
