"""Tests of the converter package: convert -> interpret -> compare round trips."""
