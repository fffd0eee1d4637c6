WHO = "child"
