database "source" {
  url = env("UNSET_DATABASE_URL") # ERROR: Invalid function argument
}
