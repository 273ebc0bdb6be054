# The configuration `offsetctl check` runs on a schedule: each reconcile block
# names its pipeline's connectors and holds its thresholds.

connect "prod" {
  url = env("OFFSETCTL_CONNECT_URL", "http://connect:8083")
}

kafka "prod" {
  brokers = [env("OFFSETCTL_BOOTSTRAP_SERVERS", "kafka-1:9092")]
}

database "source" {
  url = env("SOURCE_DATABASE_URL", "postgres://offsetctl_ro@source/shop")
}

database "sink" {
  url = env("SINK_DATABASE_URL", "postgres://offsetctl_ro@sink/shop")
}

connector "customers_source" {
  connect         = connect.prod
  kafka           = kafka.prod
  name            = "customers-source"
  source_database = database.source
}

connector "customers_sink" {
  connect = connect.prod
  kafka   = kafka.prod
  name    = "customers-sink"
}

reconcile "customers" {
  source     = database.source
  sink       = database.sink
  table      = "public.customers"
  connectors = [connector.customers_source, connector.customers_sink]

  check {
    mode               = "checksum"
    max_rows_different = 0
    max_lag_records    = 100000
    max_lag_seconds    = 900
    max_failed_tasks   = 0
  }
}
