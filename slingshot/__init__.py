"""Slingshot: config-driven LoRA recipes that are scored honestly against API models."""
from slingshot.layout import ROOT  # noqa: F401
