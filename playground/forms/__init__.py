"""Forms, one module per capability: what a person may change, validated in plain words."""
