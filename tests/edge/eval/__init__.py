"""Tests of `edge eval`: the shipped figures, third-party models, hostile data."""
