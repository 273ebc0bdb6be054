connect "prod" {
  url   = "http://connect:8083"
  token = env("CONNECT_TOKEN") # ERROR: Conflicting authentication
  basic_auth {
    username = "admin"
    password = env("CONNECT_PASSWORD")
  }
}
