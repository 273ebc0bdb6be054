offsetctl {
  state "local" {
    path = "offsetctl.state.json"
    encryption {
      key_command = [] # ERROR: Invalid key command
    }
    encryption { # ERROR: Duplicate encryption block
      key_file = "state.key"
    }
  }
}
