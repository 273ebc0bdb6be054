connect "prod east" { # ERROR: Invalid name
  url = "http://connect:8083"
}
