# Minimal stubs: only what steprail's tests use.
