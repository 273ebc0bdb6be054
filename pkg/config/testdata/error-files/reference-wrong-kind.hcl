kafka "prod" {
  brokers = ["kafka-1:9092"]
}

connector "orders_sink" {
  connect = kafka.prod # ERROR: Invalid reference
  name    = "orders-jdbc-sink"
}
