connect "prod" { # ERROR: Unclosed configuration block
  url = "http://connect:8083"
