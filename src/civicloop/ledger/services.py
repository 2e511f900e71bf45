def exports_prune() -> int:
    return 0
