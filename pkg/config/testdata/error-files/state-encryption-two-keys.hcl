offsetctl {
  state "local" {
    path = "offsetctl.state.json"
    encryption { # ERROR: Invalid encryption block
      key_file    = "state.key"
      key_command = ["vault", "kv", "get", "-field=key", "secret/offsetctl"]
    }
  }
}
