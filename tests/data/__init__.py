"""Test data: real public dataset fixtures (see real/README.md)."""
