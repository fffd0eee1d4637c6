NAME = "twin-b"
