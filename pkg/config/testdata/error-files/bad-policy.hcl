policy "p" {
  max_records_skipped = -1 # ERROR: Invalid value
  approvals = {
    replays = 1 # ERROR: Invalid risk class
  }
  change_window {
    days      = ["mon", "funday"] # ERROR: Invalid change window
    hours     = "17:00-09:00"     # ERROR: Invalid change window
    time_zone = "Mars/Olympus"    # ERROR: Invalid change window
    effect    = "maybe"           # ERROR: Invalid change window
  }
}
