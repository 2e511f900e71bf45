def webhook_deliveries_retry() -> int:
    return 0
