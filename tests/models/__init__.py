"""Tests of the training recipe and the shipped model zoo."""
