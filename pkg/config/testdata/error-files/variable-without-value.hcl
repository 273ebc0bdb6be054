variable "ticket" { # ERROR: No value for required variable
  type = string
}
