connect "prod" {
  url = "http://connect:8083"
