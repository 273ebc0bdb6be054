connect "prod" {
  url     = "http://connect:8083"
  timeuot = "10s" # ERROR: Unsupported argument
}
