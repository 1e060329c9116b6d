"""The pure core: model values and every rule over them; no I/O, no environment, no clock."""
