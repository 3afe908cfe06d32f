"""The workbench's views, one module per capability; urls.py maps them."""
