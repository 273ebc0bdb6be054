locals {
  a = "${local.b}-a" # ERROR: Cycle in local values
  b = "${local.a}-b"
}
