"""The engine: fetch, dispatch, retry, order, break circuits and commit finished offsets."""
