NAME = "twin-a"
