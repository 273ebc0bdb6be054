offsetctl {
  require_reason = true
}

offsetctl { # ERROR: Duplicate offsetctl block
  required_approvals = 2
}
