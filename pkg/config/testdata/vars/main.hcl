variable "a" {
  default = "from default"
}

variable "b" {
  type    = number
  default = 1
}

variable "c" {
  type    = list(string)
  default = []
}

variable "password" {
  type = string
}

locals {
  summary = "${var.a}/${var.b}/${join(",", var.c)}"
}

connect "prod" {
  url = "http://connect:8083"
  basic_auth {
    username = "admin"
    password = var.password
  }
}
