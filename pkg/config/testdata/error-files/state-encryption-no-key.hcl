offsetctl {
  state "postgres" {
    url = "postgres://offsetctl@db/state"
    encryption { # ERROR: Invalid encryption block
      previous_key_file = "old.key"
    }
  }
}
