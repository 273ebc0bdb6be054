kafka "prod" {
  brokers = { first = "kafka-1:9092" } # ERROR: Incorrect attribute value type
}
