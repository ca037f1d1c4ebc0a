# The catalog is data only; it takes no input.
