connectr "prod" { # ERROR: Unsupported block type
  url = "http://connect:8083"
}
