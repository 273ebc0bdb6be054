incident = "INC-1" # ERROR: Unsupported argument
