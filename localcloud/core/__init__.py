"""The kernel: what every service runs on, naming none of them."""
