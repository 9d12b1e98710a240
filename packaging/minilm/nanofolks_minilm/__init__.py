"""all-MiniLM-L6-v2 model files for nanofolks memory; ``MODEL_DIR`` is the folder holding them."""

from pathlib import Path

MODEL_DIR = Path(__file__).resolve().parent / "model"
