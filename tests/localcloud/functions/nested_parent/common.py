WHO = "parent"
