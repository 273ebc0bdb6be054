kafka "prod" {
  brokers = ["kafka-1:9092"]
  sasl {
    mechanism = "GSSAPI" # ERROR: Unsupported SASL mechanism
    username  = "offsetctl"
    password  = env("KAFKA_PASSWORD")
  }
}
