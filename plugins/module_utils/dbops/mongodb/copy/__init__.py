"""The MongoDB copy of a cutover: initial copy, change stream tail, its state, its supervised process."""
