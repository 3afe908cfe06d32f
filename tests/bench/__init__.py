"""The streaming benchmark, `make bench` (`python -m tests.bench`): see __main__.py."""
