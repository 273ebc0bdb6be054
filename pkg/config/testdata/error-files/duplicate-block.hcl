connect "prod" {
  url = "http://connect:8083"
}

connect "prod" { # ERROR: Duplicate connect block
  url = "http://connect-2:8083"
}
