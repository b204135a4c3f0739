"""Security datasets for the warehouse: the small demo set written on first `hunthub up`, and the place the
full synthetic generator (`hunthub data ...`) and ingest live."""
