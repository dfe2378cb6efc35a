"""Slingshot: config-driven LoRA recipes that are scored honestly against API models."""
import slingshot.quiet  # noqa: F401  (first: silences known library start-up noise before anything imports it)
from slingshot.layout import ROOT  # noqa: F401
