"""Test configuration shared by the whole suite.

Qt runs offscreen, and segstudio's per-user folders (models, settings) point
into a temporary directory so tests never read or write the real home.
"""

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SEGSTUDIO_HOME", tempfile.mkdtemp(prefix="segstudio-test-home-"))
os.environ.setdefault("OMP_NUM_THREADS", "2")
# Predictors run torch unless a test asks for a backend (tests/nets/test_backends.py): the default
# 'auto' would start a background ONNX export (~10-30 s of CPU) in every test that predicts a batch.
os.environ.setdefault("SEGSTUDIO_BACKEND", "torch")
# Tests see no shipped models unless they point SEGSTUDIO_SHIPPED_MODELS somewhere
# themselves (tests/nets/test_shipped_models.py checks the real shipped models).
os.environ.setdefault("SEGSTUDIO_SHIPPED_MODELS", tempfile.mkdtemp(prefix="segstudio-test-no-models-"))
