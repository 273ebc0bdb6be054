connect "prod" {
  url = "http://admin:hunter2@connect:8083" # ERROR: Invalid URL
}
