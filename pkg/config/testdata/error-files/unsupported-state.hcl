offsetctl {
  state "s3" { # ERROR: Unsupported state backend
    bucket = "offsets"
  }
}
