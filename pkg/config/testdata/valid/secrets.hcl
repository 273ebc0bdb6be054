# Every place a secret can be, from every kind of origin.

offsetctl {
  state "postgres" {
    url    = env("STATE_DATABASE_URL")
    schema = "offsetctl"
  }
}

variable "token" {
  type    = string
  default = "token-from-default-s3cret"
}

locals {
  kafka_password = env("KAFKA_PASSWORD")
}

connect "basic" {
  url     = "https://connect.internal:8083"
  timeout = "45s"
  basic_auth {
    username = "offsetctl"
    password = env("CONNECT_PASSWORD")
  }
  headers = {
    "X-Api-Key" = "literal-s3cret"
    "X-Tenant"  = "${var.token}"
  }
  tls {
    ca_file   = "certs/ca.pem"
    cert_file = "certs/client.pem"
    key_file  = "certs/client-key.pem"
  }
}

connect "bearer" {
  url   = "http://connect-2:8083/"
  token = var.token
}

kafka "prod" {
  brokers = ["kafka-1:9092", "kafka-2:9092"]
  sasl {
    mechanism = "scram-sha-512"
    username  = "offsetctl"
    password  = local.kafka_password
  }
  tls {
    insecure_skip_verify = true
  }
}

database "source" { url = env("SOURCE_DATABASE_URL") }
database "sink" { url = "postgres://app:${env("CONNECT_PASSWORD")}@sink/db?sslmode=require&application_name=x" }
